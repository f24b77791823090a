"""Digest authentication (RFC 7616 / RFC 8760) without any socket or store."""

from __future__ import annotations

import pytest

from ivr.agents.digest import (
    BadCredentials,
    Credentials,
    NonceMint,
    challenges,
    expected_response,
    ha1,
    parse_authorization,
    response_matches,
)

# RFC 7616 §3.9.1's example, which uses HTTP's GET and these values for both algorithms.
RFC_USER, RFC_REALM, RFC_PASSWORD = "Mufasa", "http-auth@example.org", "Circle of Life"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example_response_for_both_algorithms(algorithm: str, expected: str) -> None:
    credentials = Credentials(
        username=RFC_USER,
        realm=RFC_REALM,
        nonce=RFC_NONCE,
        uri="/dir/index.html",
        response=expected,
        algorithm=algorithm,
        qop="auth",
        nc="00000001",
        cnonce=RFC_CNONCE,
    )
    stored = ha1(algorithm, RFC_USER, RFC_REALM, RFC_PASSWORD)
    assert expected_response(credentials, stored, "GET") == expected
    assert response_matches(credentials, stored, "GET")
    assert not response_matches(credentials, ha1(algorithm, RFC_USER, RFC_REALM, "x"), "GET")


def test_authorization_header_is_parsed_with_quotes_and_tokens() -> None:
    credentials = parse_authorization(
        'Digest username="1001", realm="12333",nonce="abc", uri="sip:127.0.0.1:5060", '
        'response="ABCDEF", algorithm=SHA-256, cnonce="x,y", qop=auth, nc=0000000a'
    )
    assert credentials.username == "1001" and credentials.realm == "12333"
    assert credentials.algorithm == "SHA-256" and credentials.cnonce == "x,y"
    assert credentials.response == "abcdef" and credentials.nonce_count == 10


def test_algorithm_defaults_to_md5_and_no_qop_counts_as_one() -> None:
    credentials = parse_authorization(
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="00"'
    )
    assert credentials.algorithm == "MD5" and credentials.qop is None
    assert credentials.nonce_count == 1


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        'Digest username="a", realm="r", nonce="n", uri="sip:x"',  # no response
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", algorithm=SHA-512',
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop=auth',  # no nc
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop=auth-int, '
        'nc=00000001, cnonce="c"',
        'Digest username="a" realm="r"',
    ],
)
def test_unusable_authorization_is_refused(value: str) -> None:
    with pytest.raises(BadCredentials):
        parse_authorization(value)


def test_nonces_age_expire_and_cannot_be_forged() -> None:
    mint = NonceMint(b"secret", lifetime=300)
    nonce = mint.mint(1000.0)
    assert mint.is_fresh(nonce, 1000.0) is True
    assert mint.is_fresh(nonce, 1299.0) is True
    assert mint.is_fresh(nonce, 1301.0) is False
    assert NonceMint(b"other", lifetime=300).is_fresh(nonce, 1000.0) is None
    tampered = ("A" if nonce[0] != "A" else "B") + nonce[1:]
    assert mint.is_fresh(tampered, 1000.0) is None
    assert mint.is_fresh("not base64 !!", 1000.0) is None
    assert mint.mint(1000.0) != nonce


def test_challenges_offer_sha256_before_md5_with_qop() -> None:
    first, second = challenges("12333", "n0nce", stale=True)
    assert "algorithm=SHA-256" in first and "algorithm=MD5" in second
    assert all('qop="auth"' in value and "stale=true" in value for value in (first, second))
    assert 'realm="12333"' in first


def test_a_mint_fetches_its_secret_at_the_first_use_only() -> None:
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return b"secret"

    mint = NonceMint(fetch, lifetime=300)
    assert fetched == []  # a node starts without reaching Redis
    nonce = mint.mint(1000.0)
    assert mint.is_fresh(nonce, 1000.0) and fetched == [1]
    assert NonceMint(b"secret", lifetime=300).is_fresh(nonce, 1000.0)
