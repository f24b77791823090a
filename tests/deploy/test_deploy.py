"""deploy/: the Kamailio front door and the node's systemd unit are what the tools accept, and the
port layout of `run_ivr.py --nodes N` (issue 12). Kamailio with live nodes: tests/e2e."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config import load_config
from ivr.nodes import dispatcher_list, kamailio_command, plan_nodes

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "ivr-node@.service"


def test_kamailio_accepts_the_shipped_config_and_node_list(tmp_path: Path) -> None:
    command = kamailio_command(
        DEPLOY / "kamailio" / "kamailio.cfg",
        "udp:127.0.0.1:5999",
        DEPLOY / "kamailio" / "ivr-nodes.list",
        tmp_path,
    )
    checked = subprocess.run([*command, "-c"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "config file ok" in checked.stderr


def test_the_node_unit_verifies_with_this_checkout_in_place_of_opt_ivr(tmp_path: Path) -> None:
    text = UNIT.read_text()
    text = text.replace("/opt/ivr/.venv/bin/python", sys.executable).replace("/opt/ivr", str(ROOT))
    text = re.sub(r"^(User|Group)=ivr$", r"\1=root", text, flags=re.MULTILINE)
    unit = tmp_path / "ivr-node@.service"
    unit.write_text(text)
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert verified.returncode == 0 and unit.name not in verified.stderr, verified.stderr


def test_the_units_environment_files_give_the_node_its_ports() -> None:
    """The variables the unit's comment puts in /etc/ivr/*.env are settings the IVR reads."""
    comment = "\n".join(line for line in UNIT.read_text().splitlines() if line.startswith("#"))
    environ = dict(re.findall(r"\b(IVR_[A-Z_]+)=(\S+)", comment))
    environ["IVR_DATA_DIR"] = "/var/lib/ivr/node-1"
    config = load_config(environ=environ)
    assert (config.sip.host, config.sip.port) == ("10.0.0.5", 5061)
    assert (config.rtp.port_low, config.rtp.port_high) == (20000, 24999)
    assert config.store.database_url == "postgresql://ivr@db/ivr"
    assert config.store.redis_url == "redis://redis:6379/0"


def test_nodes_take_the_next_sip_ports_and_even_aligned_slices_of_the_rtp_range() -> None:
    plans = plan_nodes(3, 5060, 20001, 29999)
    assert [p.sip_port for p in plans] == [5061, 5062, 5063]
    assert [p.rtp_ports for p in plans] == ["20002-23333", "23334-26665", "26666-29997"]
    assert all(p.rtp_low % 2 == 0 for p in plans)
    with pytest.raises(ValueError):
        plan_nodes(0, 5060, 20000, 29999)
    with pytest.raises(ValueError):
        plan_nodes(4, 5060, 20000, 20005)


def test_the_dispatcher_list_puts_every_node_in_set_1() -> None:
    lines = dispatcher_list("127.0.0.1", [5061, 5062]).splitlines()
    assert lines[1:] == ["1 sip:127.0.0.1:5061", "1 sip:127.0.0.1:5062"]
    assert lines[0].startswith("#")
