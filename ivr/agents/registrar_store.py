"""The registrar's shared state in Redis: bindings, nonce counts, failure counts, the nonce secret.

Every IVR node registers and reaches agents through these keys, so a phone registered on one
node can be called from any other:

- `ivr:reg:aor:<agent>`      hash contact-key -> Binding JSON; the key expires with its last binding
- `ivr:reg:nc:<nonce>`       the highest nonce-count used with a nonce (replay refused)
- `ivr:reg:fail:<ip>:<min>`  failed authentications from one address in one minute
- `ivr:reg:secret`           the HMAC secret of nonces, made once by whichever node starts first

All calls block (Redis round trips): run them on a worker pool, never on the reactor thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import redis

from ivr.agents.acd import agent_ready
from ivr.agents.bindings import Binding, Refusal, live
from ivr.store.redis_state import count_in_window

SECRET_KEY = "ivr:reg:secret"
FAILURE_WINDOW = 60  # seconds

# Claim a nonce-count: succeeds only if it is above every count used with this nonce before.
_CLAIM_NC = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local count = tonumber(ARGV[1])
if count <= last then return 0 end
redis.call('SET', KEYS[1], count, 'EX', ARGV[2])
return 1
"""


def aor_key(agent: str) -> str:
    return f"ivr:reg:aor:{agent}"


class RegistrarStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._claim = client.register_script(_CLAIM_NC)

    def nonce_secret(self) -> bytes:
        """The nonce secret every node shares (created by the first node that asks)."""
        self.redis.set(SECRET_KEY, secrets.token_hex(32), nx=True)
        value = self.redis.get(SECRET_KEY)
        assert value is not None
        return value if isinstance(value, bytes) else value.encode()

    def claim_nonce_count(self, nonce: str, count: int, lifetime: float) -> bool:
        return bool(self._claim(keys=[f"ivr:reg:nc:{nonce}"], args=[count, int(lifetime) + 60]))

    def failures(self, address: str, now: float) -> int:
        value = self.redis.get(_failure_key(address, now))
        return int(value) if value is not None else 0

    def count_failure(self, address: str, now: float) -> int:
        return count_in_window(self.redis, _failure_key(address, now), FAILURE_WINDOW * 2)

    def bindings(self, agent: str, now: float) -> dict[str, Binding]:
        raw = self.redis.hgetall(aor_key(agent))
        decoded = {_text(key): Binding.from_json(value) for key, value in raw.items()}
        return live(decoded, now)

    def update(
        self,
        agent: str,
        now: float,
        change: Callable[[dict[str, Binding]], dict[str, Binding] | Refusal],
    ) -> dict[str, Binding] | Refusal:
        """Read the agent's bindings, apply `change`, write the result; atomic across nodes
        (WATCH/MULTI: a concurrent writer makes this one read again and re-apply)."""
        key = aor_key(agent)
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.hgetall(key)
                    current = {_text(k): Binding.from_json(v) for k, v in raw.items()}
                    result = change(current)
                    if isinstance(result, Refusal):
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.delete(key)
                    if result:
                        pipe.hset(key, mapping={k: b.to_json() for k, b in result.items()})
                        last = max(binding.expires_at for binding in result.values())
                        pipe.expireat(key, int(last) + 1)
                    pipe.execute()
                    if result and not live(current, now):
                        agent_ready(self.redis, agent)  # its first phone: it may be offered now
                    return result
                except redis.WatchError:
                    continue


def _failure_key(address: str, now: float) -> str:
    return f"ivr:reg:fail:{address}:{int(now // FAILURE_WINDOW)}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
