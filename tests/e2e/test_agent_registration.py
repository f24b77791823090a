"""Agents' phones registering with the IVR over loopback: pjsua2 with SHA-256 digest (RFC
8760), sipp with MD5 where the settings offer MD5 first, wrong passwords refused, bindings in
Redis for every node, un-REGISTER."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.agent_phones import add_agent, bindings, registered_phone
from tests.e2e.conftest import stop_cleanly
from tests.e2e.server import ROOT, IvrProcess, free_port, sipp, start_ivr

PASSWORD = "desk-phone-1001"


@pytest.fixture(scope="module")
def registrar(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IvrProcess]:
    database_url, redis_url = storage
    server = start_ivr(
        tmp_path_factory.mktemp("registrar"), database_url=database_url, redis_url=redis_url
    )
    add_agent(server, "1001", PASSWORD, "王芳")
    yield server
    stop_cleanly(server)


def test_softphone_registers_with_sha256_and_unregisters(registrar: IvrProcess) -> None:
    since = len(registrar.log())
    port = free_port()
    with registered_phone(registrar, port, "1001", PASSWORD, timeout=3) as phone:
        assert phone["registered"]
        (binding,) = bindings(registrar, "1001")
        assert binding.contact.startswith(f"sip:1001@127.0.0.1:{port}")
        assert binding.expires_at - time.time() == pytest.approx(300, abs=10)
    assert [entry["code"] for entry in phone["registrations"]] == [200, 200]
    assert phone["registrations"][-1]["expiration"] == 0  # un-REGISTER answered
    log = registrar.log()[since:]
    assert "agent 1001: 1 phone(s) registered (SHA-256 digest" in log
    assert "agent 1001: 0 phone(s) registered" in log
    assert bindings(registrar, "1001") == []


def test_wrong_password_is_refused_and_leaves_no_binding(registrar: IvrProcess) -> None:
    with registered_phone(registrar, free_port(), "1001", "not-the-password", timeout=1) as phone:
        assert not phone["registered"]
    assert [entry["code"] for entry in phone["registrations"]] == [403]
    assert bindings(registrar, "1001") == []
    assert "REGISTER from 127.0.0.1 refused: wrong credentials for '1001'" in registrar.log()


def test_two_phones_of_one_agent_are_both_bound(registrar: IvrProcess) -> None:
    desk, soft = free_port(), free_port()
    with registered_phone(registrar, desk, "1001", PASSWORD, timeout=4) as first:
        with registered_phone(registrar, soft, "1001", PASSWORD, timeout=1) as second:
            assert first["registered"] and second["registered"]
            ports = sorted(
                int(b.contact.rsplit(":", 1)[1].split(";")[0]) for b in bindings(registrar, "1001")
            )
            assert ports == sorted([desk, soft])
        (left,) = bindings(registrar, "1001")  # the softphone un-registered, the desk stays
        assert f":{desk}" in left.contact


def test_md5_phone_registers_where_md5_is_offered_first(
    storage: tuple[str | None, str | None], tmp_path: Path
) -> None:
    """sipp 3.6 answers only the first challenge, and only MD5, like many older desk phones:
    `agents.registration.algorithms: [MD5, SHA-256]` serves them."""
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings["agents"]["registration"] = {"algorithms": ["MD5", "SHA-256"]}
    config = tmp_path / "ivr.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    database_url, redis_url = storage
    server = start_ivr(
        tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"IVR_CONFIG": str(config)},
    )
    try:
        add_agent(server, "1002", "old-desk-phone")
        sipp(
            server,
            "uac_register_digest.xml",
            "-s",
            "1002",
            "-au",
            "1002",
            "-ap",
            "old-desk-phone",
            "-set",
            "hold_ms",
            "500",
        )  # exits 0 only if both got 200
        log = server.log()
        assert "agent 1002: 1 phone(s) registered (MD5 digest" in log
        assert "agent 1002: 0 phone(s) registered (MD5 digest" in log
    finally:
        stop_cleanly(server)
