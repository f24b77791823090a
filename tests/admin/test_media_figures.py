"""Each node's media pacing counts, reported to Redis, reach every node's /metrics."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ivr.admin.dashboard_pages import _Snapshot
from ivr.admin.figures import (
    LIVE_TTL_S,
    MEDIA_PREFIX,
    figures,
    report_media_pacing,
    totals,
)
from tests.backends import Stores

ZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)


def scraped(stores: Stores) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry(auto_describe=False)
    now = figures(stores.db, stores.redis, "12333", NOW, ZONE)
    registry.register(_Snapshot(now, totals(stores.db)))
    return {
        (sample.name, sample.labels.get("ivr_node", "")): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name.startswith("ivr_media_")
    }


def test_every_node_that_reported_is_exported_under_its_name(stores: Stores) -> None:
    pacing = {"frames": 9000, "ticks_late": 12, "frames_skipped": 3, "streams": 40}
    report_media_pacing(stores.redis, "n1:5060", {**pacing, "ticks_late_recent": 2})
    report_media_pacing(stores.redis, "n2:5060", {**pacing, "frames": 10, "ticks_late": 0})
    report_media_pacing(stores.redis, "n2:5060", {**pacing, "frames": 8000, "ticks_late": 1})
    assert 0 < stores.redis.ttl(MEDIA_PREFIX + "n1:5060") <= LIVE_TTL_S
    assert scraped(stores) == {
        ("ivr_media_frames_total", "n1:5060"): 9000,
        ("ivr_media_frames_total", "n2:5060"): 8000,  # the last report replaces the one before
        ("ivr_media_ticks_late_total", "n1:5060"): 12,
        ("ivr_media_ticks_late_total", "n2:5060"): 1,
        ("ivr_media_frames_skipped_total", "n1:5060"): 3,
        ("ivr_media_frames_skipped_total", "n2:5060"): 3,
        ("ivr_media_streams_active", "n1:5060"): 40,
        ("ivr_media_streams_active", "n2:5060"): 40,
    }
    shown = figures(stores.db, stores.redis, "12333", NOW, ZONE).as_json()
    assert shown["media_by_ivr_node"]["n1:5060"] == {**pacing, "ticks_late_recent": 2}
    stores.redis.delete(MEDIA_PREFIX + "n1:5060")  # what its TTL does when n1 stops reporting
    assert {node for _, node in scraped(stores)} == {"n2:5060"}
