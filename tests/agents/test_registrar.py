"""The registrar as a phone meets it: REGISTER in, reply out; SQL agents and Redis state real,
no socket, time passed in."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from functools import partial

import pytest

from ivr.agents import accounts
from ivr.agents.bindings import Limits
from ivr.agents.digest import NonceMint, expected_response, ha1, parse_authorization
from ivr.agents.registrar import Registrar, RegistrarSettings, Reply
from ivr.agents.registrar_store import RegistrarStore
from ivr.config import ConfigError
from ivr.sip.message import Request, parse_message
from ivr.store import accounts as users
from tests.backends import Stores

NOW = 1_800_000_000.0
PHONE = ("127.0.0.1", 5070)
_branches = itertools.count(1)


@pytest.fixture
def registrar(stores: Stores) -> Registrar:
    when = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    accounts.add_agent(stores.db, "1001", "secret-1001", "12333", "王芳", when)
    accounts.add_agent(stores.db, "1002", "secret-1002", "12333", "李明", when)
    store = RegistrarStore(stores.redis)
    return Registrar(
        RegistrarSettings(realm="12333", limits=Limits(max_contacts=3), max_failures=5),
        store,
        partial(accounts.credentials, stores.db),
        NonceMint(store.nonce_secret()),
    )


def register(
    user: str = "1001",
    *,
    authorization: str | None = None,
    contact: str = "<sip:1001@127.0.0.1:5070>",
    expires: int | None = 600,
    call_id: str = "reg-1",
    cseq: int = 1,
) -> Request:
    lines = [
        "REGISTER sip:127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{next(_branches)}",
        f"From: <sip:{user}@127.0.0.1>;tag=a",
        f"To: <sip:{user}@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: {contact}",
        "User-Agent: test-phone",
        *((f"Expires: {expires}",) if expires is not None else ()),
        *((f"Authorization: {authorization}",) if authorization else ()),
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def answer_challenge(
    reply: Reply,
    username: str = "1001",
    password: str = "secret-1001",
    algorithm: str = "SHA-256",
    nc: int = 1,
) -> str:
    """What a phone sends back: the digest response to the challenge for `algorithm`."""
    assert reply.status == 401
    (challenge,) = [v for n, v in reply.headers if n == "WWW-Authenticate" and algorithm in v]
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce is not None
    fields = (
        f'Digest username="{username}", realm="12333", nonce="{nonce.group(1)}", '
        f'uri="sip:127.0.0.1", algorithm={algorithm}, qop=auth, nc={nc:08x}, cnonce="c0ffee"'
    )
    credentials = parse_authorization(fields + ', response="0"')
    stored = ha1(algorithm, username, "12333", password)
    return fields + f', response="{expected_response(credentials, stored, "REGISTER")}"'


def registered(registrar: Registrar, now: float = NOW, **fields) -> tuple[Reply, str]:
    challenge = registrar.handle(register(**fields), PHONE, "udp", now)
    authorization = answer_challenge(challenge)
    return registrar.handle(register(authorization=authorization, **fields), PHONE, "udp", now), (
        authorization
    )


def test_register_without_credentials_is_challenged_sha256_first(registrar: Registrar) -> None:
    reply = registrar.handle(register(), PHONE, "udp", NOW)
    assert reply.status == 401
    algorithms = [re.search(r"algorithm=([\w-]+)", v).group(1) for _, v in reply.headers]  # type: ignore[union-attr]
    assert algorithms == ["SHA-256", "MD5"]


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_right_digest_registers_and_lists_the_binding(registrar: Registrar, algorithm: str) -> None:
    challenge = registrar.handle(register(), PHONE, "udp", NOW)
    auth = answer_challenge(challenge, algorithm=algorithm)
    reply = registrar.handle(register(authorization=auth), PHONE, "udp", NOW)
    assert reply.status == 200
    assert ("Contact", "<sip:1001@127.0.0.1:5070>;expires=600") in reply.headers
    assert any(name == "Date" for name, _ in reply.headers)
    (binding,) = registrar.store.bindings("1001", NOW).values()
    assert binding.source == "127.0.0.1:5070" and binding.user_agent == "test-phone"


def test_wrong_password_and_unknown_agent_get_the_same_403(registrar: Registrar) -> None:
    challenge = registrar.handle(register(), PHONE, "udp", NOW)
    wrong = answer_challenge(challenge, password="guess-guess")
    assert registrar.handle(register(authorization=wrong), PHONE, "udp", NOW).status == 403
    challenge = registrar.handle(register("9999"), PHONE, "udp", NOW)
    unknown = answer_challenge(challenge, username="9999")
    reply = registrar.handle(register("9999", authorization=unknown), PHONE, "udp", NOW)
    assert reply == Reply(403, "Forbidden")
    assert registrar.store.bindings("1001", NOW) == {}


def test_disabled_agent_cannot_register(registrar: Registrar, stores: Stores) -> None:
    users.set_disabled(stores.db, "1001", True, by="test", now=dt.datetime.now(dt.UTC))
    reply, _ = registered(registrar)
    assert reply.status == 403


def test_replayed_nonce_count_is_refused_and_next_count_accepted(registrar: Registrar) -> None:
    reply, authorization = registered(registrar)
    assert reply.status == 200
    replay = registrar.handle(register(authorization=authorization, cseq=2), PHONE, "udp", NOW)
    assert replay.status == 401  # a fresh challenge, not a refresh
    nonce = re.search(r'nonce="([^"]+)"', authorization).group(1)  # type: ignore[union-attr]
    fake = Reply(401, None, (("WWW-Authenticate", f'Digest nonce="{nonce}" SHA-256'),))
    second = answer_challenge(fake, nc=2)
    refresh = registrar.handle(register(authorization=second, cseq=3), PHONE, "udp", NOW + 1)
    assert refresh.status == 200


def test_expired_nonce_with_right_digest_gets_stale_challenge(registrar: Registrar) -> None:
    challenge = registrar.handle(register(), PHONE, "udp", NOW)
    auth = answer_challenge(challenge)
    late = registrar.handle(register(authorization=auth), PHONE, "udp", NOW + 400)
    assert late.status == 401 and all("stale=true" in value for _, value in late.headers)
    wrong = answer_challenge(challenge, password="guess-guess")
    assert registrar.handle(register(authorization=wrong), PHONE, "udp", NOW + 400).status == 403


def test_forged_nonce_is_challenged_again(registrar: Registrar) -> None:
    forged = NonceMint(b"not our secret").mint(NOW)
    fake = Reply(401, None, (("WWW-Authenticate", f'Digest nonce="{forged}" SHA-256'),))
    reply = registrar.handle(register(authorization=answer_challenge(fake)), PHONE, "udp", NOW)
    assert reply.status == 401


def test_agent_may_register_only_its_own_address(registrar: Registrar) -> None:
    challenge = registrar.handle(register("1002"), PHONE, "udp", NOW)
    as_1001 = answer_challenge(challenge)  # 1001's own credentials, for 1002's address
    reply = registrar.handle(register("1002", authorization=as_1001), PHONE, "udp", NOW)
    assert reply.status == 403 and registrar.store.bindings("1002", NOW) == {}


def test_repeated_failures_from_an_address_are_refused_outright(registrar: Registrar) -> None:
    right = answer_challenge(registrar.handle(register(), PHONE, "udp", NOW))
    for _ in range(5):
        challenge = registrar.handle(register(), PHONE, "udp", NOW)
        wrong = answer_challenge(challenge, password="guess-guess")
        assert registrar.handle(register(authorization=wrong), PHONE, "udp", NOW).status == 403
    blocked = registrar.handle(register(), PHONE, "udp", NOW)
    assert blocked.status == 403 and "too many" in (blocked.reason or "")
    # even the right password waits for the window to pass
    assert registrar.handle(register(authorization=right), PHONE, "udp", NOW).status == 403
    other = registrar.handle(register(), ("127.0.0.2", 5070), "udp", NOW)
    assert other.status == 401
    later, _ = registered(registrar, now=NOW + 120)
    assert later.status == 200


def test_unregister_one_contact_then_star_and_expiry(registrar: Registrar) -> None:
    first, _ = registered(registrar, contact="<sip:1001@127.0.0.1:5070>", call_id="desk")
    second, _ = registered(registrar, contact="<sip:1001@127.0.0.1:5072>", call_id="soft")
    assert first.status == second.status == 200
    assert len([n for n, _ in second.headers if n == "Contact"]) == 2
    gone, _ = registered(
        registrar, contact="<sip:1001@127.0.0.1:5072>", call_id="soft", cseq=2, expires=0
    )
    assert [v for n, v in gone.headers if n == "Contact"] == [
        "<sip:1001@127.0.0.1:5070>;expires=600"
    ]
    assert len(registrar.store.bindings("1001", NOW + 599)) == 1
    assert registrar.store.bindings("1001", NOW + 601) == {}
    registered(registrar, contact="<sip:1001@127.0.0.1:5070>", call_id="desk", cseq=2)
    all_gone, _ = registered(registrar, contact="*", call_id="desk", cseq=3, expires=0)
    assert all_gone.status == 200 and registrar.store.bindings("1001", NOW) == {}


def test_too_brief_interval_gets_423(registrar: Registrar) -> None:
    reply, _ = registered(registrar, expires=5)
    assert reply.status == 423 and ("Min-Expires", "60") in reply.headers


def test_bindings_are_seen_by_another_node(registrar: Registrar, stores: Stores) -> None:
    """A second registrar (another node) on the same Redis and database sees the binding and
    accepts the nonces the first one minted."""
    other_store = RegistrarStore(stores.redis)
    other = Registrar(
        registrar.settings,
        other_store,
        partial(accounts.credentials, stores.db),
        NonceMint(other_store.nonce_secret()),
    )
    challenge = registrar.handle(register(), PHONE, "udp", NOW)
    reply = other.handle(register(authorization=answer_challenge(challenge)), PHONE, "udp", NOW)
    assert reply.status == 200
    assert list(registrar.store.bindings("1001", NOW)) == list(other.store.bindings("1001", NOW))


def test_md5_only_setting_refuses_to_be_downgraded_from(stores: Stores) -> None:
    """With `algorithms: [MD5]` (phones that read only the first challenge), MD5 alone is
    offered; with the default, SHA-256 comes first and a SHA-256 response registers."""
    accounts.add_agent(stores.db, "1001", "secret-1001", "12333", "", dt.datetime.now(dt.UTC))
    settings = RegistrarSettings.from_section({"registration": {"algorithms": ["md5"]}})
    store = RegistrarStore(stores.redis)
    md5_only = Registrar(
        settings, store, partial(accounts.credentials, stores.db), NonceMint(store.nonce_secret())
    )
    challenge = md5_only.handle(register(), PHONE, "udp", NOW)
    assert [name for name, _ in challenge.headers] == ["WWW-Authenticate"]
    sha = Reply(401, None, (("WWW-Authenticate", challenge.headers[0][1] + " SHA-256"),))
    refused = md5_only.handle(register(authorization=answer_challenge(sha)), PHONE, "udp", NOW)
    assert refused.status == 401  # not an algorithm offered here: challenged again
    auth = answer_challenge(challenge, algorithm="MD5")
    assert md5_only.handle(register(authorization=auth), PHONE, "udp", NOW).status == 200


def test_settings_refuse_unknown_algorithms() -> None:
    with pytest.raises(ConfigError, match="SHA-256, MD5"):
        RegistrarSettings.from_section({"registration": {"algorithms": ["SHA-1"]}})


def test_behind_a_trusted_proxy_failures_count_against_the_phone(stores: Stores) -> None:
    """Kamailio relays every phone's REGISTER: one phone's wrong passwords must not lock out
    the others that come through the same proxy."""
    accounts.add_agent(stores.db, "1001", "secret-1001", "12333", "", dt.datetime.now(dt.UTC))
    settings = RegistrarSettings.from_section(
        {"registration": {"max_failures": 2, "trusted_proxies": ["127.0.0.9"]}}
    )
    store = RegistrarStore(stores.redis)
    registrar = Registrar(
        settings, store, partial(accounts.credentials, stores.db), NonceMint(store.nonce_secret())
    )
    proxy = ("127.0.0.9", 5060)

    def relayed(phone: str, authorization: str | None = None) -> Request:
        message = register(authorization=authorization)
        own = message.headers.get_all("Via")[0]
        message.headers.set(
            "Via", f"SIP/2.0/UDP 127.0.0.9;branch=z9hG4bK-p, {own};received={phone}"
        )
        return message

    for _ in range(2):
        challenge = registrar.handle(relayed("10.0.0.1"), proxy, "udp", NOW)
        wrong = answer_challenge(challenge, password="guess-guess")
        assert registrar.handle(relayed("10.0.0.1", wrong), proxy, "udp", NOW).status == 403
    assert registrar.handle(relayed("10.0.0.1"), proxy, "udp", NOW).status == 403  # locked
    challenge = registrar.handle(relayed("10.0.0.2"), proxy, "udp", NOW)
    right = answer_challenge(challenge)
    assert registrar.handle(relayed("10.0.0.2", right), proxy, "udp", NOW).status == 200
