from pathlib import Path

import pytest

from ivr.config import ConfigError, load_config, parse_port_range


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ivr.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "sip: {host: 0.0.0.0, port: 5070}\nrtp: {ports: 30000-30999}\n")
    config = load_config(path, environ={"IVR_SIP_PORT": "5080"}, overrides={"sip_host": "::1"})
    assert (config.sip.host, config.sip.port) == ("::1", 5080)
    assert (config.rtp.port_low, config.rtp.port_high) == (30000, 30999)


def test_rtp_range_from_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={"IVR_RTP_PORTS": "40001-40100"})
    assert (config.rtp.port_low, config.rtp.port_high) == (40002, 40100)


@pytest.mark.parametrize("text", ["40000", "x-y", "50000-40000", "80-90"])
def test_bad_port_range_names_the_problem(text: str) -> None:
    with pytest.raises(ConfigError, match="RTP port range"):
        parse_port_range(text)


def test_wildcard_bind_advertises_loopback_unless_public_host_given(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sip: {host: 0.0.0.0}\n"), environ={})
    assert config.sip.advertised_host == "127.0.0.1"
    config = load_config(
        write(tmp_path, "sip: {host: 0.0.0.0, public_host: 192.0.2.7}\n"), environ={}
    )
    assert config.sip.advertised_host == "192.0.2.7"


def test_room_sections_are_passed_through(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "speech: {model: /models/cn}\n"), environ={})
    assert config.section("speech")["model"] == "/models/cn"
    assert config.section("absent") == {}


def test_data_dir_override_is_absolute(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={"IVR_DATA_DIR": str(tmp_path / "d")})
    assert config.store.data_dir == (tmp_path / "d").resolve()


def test_storage_timeout_is_read_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ivr.yaml"
    assert load_config(path, environ={}).store.timeout == 4.0
    path.write_text("store:\n  timeout: 2.5\n", encoding="utf-8")
    assert load_config(path, environ={}).store.timeout == 2.5
    path.write_text("store:\n  timeout: 600\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"store\.timeout"):
        load_config(path, environ={})
