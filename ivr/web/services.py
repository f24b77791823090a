"""What the web layer may use of the running IVR: storage, the blocking pool, the clock, and
figures the process reports about itself. The wiring (`ivr/consoles.py`) fills it in; web code
never imports ivr/app.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

from ivr.config import Config
from ivr.media.pacer import PacingFigures
from ivr.store.db import Database
from ivr.workers import BlockingPool


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _no_calls() -> Mapping[str, int]:
    return {}


def _no_pacing() -> PacingFigures | None:
    return None


def _no_nudges(channel: str, handler: Callable[[str], None]) -> None:
    return None


@dataclass(frozen=True)
class WebServices:
    config: Config
    db: Database
    redis: redis.Redis
    pool: BlockingPool  # every SQL, Redis, TTS or audio job of a request runs here
    node: str = "ivr"  # this process's name in shared figures (hostname:port)
    wallclock: Callable[[], dt.datetime] = _utc_now
    calls_now: Callable[[], Mapping[str, int]] = _no_calls  # this node's calls per node label
    # Keys and intents heard since the last call (the counts are handed over and reset).
    take_heard: Callable[[], Mapping[str, int]] = _no_calls
    pacing: Callable[[], PacingFigures | None] = _no_pacing  # this node's media pacing counts
    # on_nudge(channel, handler): handler(data) runs on the reactor for every Redis pub/sub
    # nudge on the channel (the process's one listener, `ivr.store.nudges`).
    on_nudge: Callable[[str, Callable[[str], None]], None] = _no_nudges
