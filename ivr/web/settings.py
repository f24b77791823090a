"""The `web:` section of config/ivr.yaml, then IVR_WEB_HOST / IVR_WEB_PORT / IVR_METRICS_TOKEN,
then run_ivr.py's --web-host / --web-port."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ivr.config import Config, ConfigError

FLAGS = "_flags"  # where with_web_flags keeps the command line's values, which win over all


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    session_hours: float = 12.0  # idle time after which a browser must log in again
    secure_cookies: bool = False  # true behind HTTPS (a TLS-terminating proxy)
    # Bearer token Prometheus sends to /metrics; without one only a supervisor session may read it.
    metrics_token: str | None = None

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = dict(config.section("web"))
        if env.get("IVR_WEB_HOST"):
            raw["host"] = env["IVR_WEB_HOST"]
        if env.get("IVR_WEB_PORT"):
            raw["port"] = env["IVR_WEB_PORT"]
        if env.get("IVR_METRICS_TOKEN"):
            raw["metrics_token"] = env["IVR_METRICS_TOKEN"]
        raw.update(raw.pop(FLAGS, {}))
        try:
            settings = cls(
                enabled=bool(raw.get("enabled", True)),
                host=str(raw.get("host", cls.host)),
                port=int(raw.get("port", cls.port)),
                session_hours=float(raw.get("session_hours", cls.session_hours)),
                secure_cookies=bool(raw.get("secure_cookies", False)),
                metrics_token=str(raw["metrics_token"]) if raw.get("metrics_token") else None,
            )
        except (TypeError, ValueError):
            raise ConfigError(f"web: a setting is malformed ({raw!r})") from None
        if not 0 <= settings.port <= 65535:
            raise ConfigError(f"web.port {settings.port} is not a TCP port")
        return settings


def with_web_flags(config: Config, host: str | None, port: int | None) -> Config:
    """`config` with run_ivr.py's --web-host / --web-port applied to its `web:` section."""
    flags = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    web = {**config.section("web"), FLAGS: flags}
    return replace(config, sections={**config.sections, "web": web})
