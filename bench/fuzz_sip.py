"""Parser fuzz run: byte mutations of the RFC 4475 torture corpus through the whole sans-I/O
SIP stack, counting anything that escapes.

Each message is a torture-test message (../shared/sip-torture/*.dat, 49 + the stray test.dat)
with 1-8 random edits: octets inserted, deleted, replaced, grammar tokens spliced in (CRLF,
folding, `;`, `%`, huge numbers, Content-Length lines), the tail cut, or the whole message
repeated past the size limit. Every message goes to a `UserAgent.receive` as a UDP datagram
from one of 64 sources (parse, validation, transactions, stateless answers, dialogs), its
events are drained and any IncomingCall's body negotiated as SDP, and the clock advances 1 ms
per message so transactions and their timers come and go. Every 16th message is also fed to a
TCP `StreamFramer`, cut at a random point.

An exception escaping any of these is a bug: its type and the first failing input are
printed, and saved under --save. The run prints the count, the rate and the outcomes.

    python bench/fuzz_sip.py [--messages 1000000] [--seed 1] [--save DIR]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.sip.events import IncomingCall
from ivr.sip.message import FramingError, StreamFramer
from ivr.sip.parser import MAX_MESSAGE_BYTES
from ivr.sip.sdp import NoCommonCodec, negotiate
from ivr.sip.useragent import UserAgent

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "sip-torture"
SPECIAL = [
    b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b'"', b"\\", b"@", b"%", b"%0", b"%00",
    b"=", b" ", b"\x00", b"\xff", b"\x1b", b"\r", b"-1", b"99999999999", b"4294967296",
    b"SIP/2.0", b"\r\n\r\n", b"l: 5\r\n", b"Content-Length: 99999\r\n", b"Via: SIP/2.0/UDP x\r\n",
    b"To: <sip:a@b>;tag=1\r\n", b"m=audio 1 RTP/AVP 300\r\n", b"c=IN IP4 example.com\r\n",
    b"a=rtpmap:0 PCMU/8000\r\n", b"sip:", b"[::1]", b"INVITE", b"ACK", b"BYE", b"CANCEL",
]  # fmt: skip


def load_corpus() -> list[bytes]:
    seeds = [path.read_bytes() for path in sorted(CORPUS.glob("*.dat"))]
    seeds += [path.read_bytes() for path in sorted((CORPUS / "archive-extra").glob("*.dat"))]
    if not seeds:
        raise SystemExit(f"no torture messages in {CORPUS}")
    return seeds


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        where = rng.randint(0, len(data))
        action = rng.random()
        if action < 0.05:
            del data[where:]
        elif action < 0.25:
            del data[where : where + rng.randint(1, 20)]
        elif action < 0.30:
            data[where:where] = data[where : where + rng.randint(1, 200)] * rng.randint(2, 50)
        elif action < 0.31:
            data = data * (MAX_MESSAGE_BYTES // max(1, len(data)) + 2)
        else:
            chunk = rng.choice(SPECIAL) if rng.random() < 0.6 else rng.randbytes(rng.randint(1, 8))
            width = len(chunk) if action < 0.65 else 0
            data[where : where + width] = chunk
    return bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, help="directory for inputs that raised")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    corpus = load_corpus()
    ua = UserAgent(host="127.0.0.1", port=5060)
    sources = [(f"127.0.{n // 8}.{n % 8 + 1}", 5060 + n) for n in range(64)]
    outcomes: collections.Counter[str] = collections.Counter()
    escaped: collections.Counter[str] = collections.Counter()
    first: dict[str, tuple[bytes, str]] = {}
    now = 0.0
    start = time.perf_counter()
    for count in range(1, args.messages + 1):
        data = mutate(rng.choice(corpus), rng)
        now += 0.001
        try:
            ua.receive(data, rng.choice(sources), "udp", now)
            ua.handle_timer(now)
            sent = ua.datagrams_to_send()
            outcomes["answered" if sent else "silent"] += 1
            while (event := ua.next_event()) is not None:
                if isinstance(event, IncomingCall):
                    outcomes["calls"] += 1
                    with contextlib.suppress(NoCommonCodec):
                        negotiate(event.sdp)
                    ua.reject(event.call, 486, now)
                    ua.datagrams_to_send()
            if count % 16 == 0:
                framer, cut = StreamFramer(), rng.randint(0, len(data))
                try:
                    framer.feed(data[:cut])
                    framer.feed(data[cut:])
                except FramingError:
                    outcomes["tcp framing lost"] += 1
        except Exception as error:  # the point of the run: count what escapes
            name = type(error).__name__
            escaped[name] += 1
            if name not in first:
                first[name] = (data, traceback.format_exc())
            ua = UserAgent(host="127.0.0.1", port=5060)  # a broken agent is not reused
        if count % 100_000 == 0:
            rate = count / (time.perf_counter() - start)
            print(f"  {count:>9,} messages, {rate:,.0f}/s, {sum(escaped.values())} escaped")
    elapsed = time.perf_counter() - start
    print(f"messages: {args.messages:,} in {elapsed:.1f} s ({args.messages / elapsed:,.0f}/s)")
    print("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
    print(f"exceptions escaped: {sum(escaped.values())}")
    for name, (data, trace) in first.items():
        print(f"--- {name} x{escaped[name]}, first input {data[:120]!r}\n{trace}")
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{name}.dat").write_bytes(data)
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main())
