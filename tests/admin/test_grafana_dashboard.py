"""The Grafana dashboard in deploy/ asks only for metrics /metrics really exports."""

from __future__ import annotations

import json
import re

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ivr.admin.dashboard_pages import _Snapshot
from ivr.admin.figures import Figures, Totals
from ivr.admin.queue_figures import QueueFigures
from ivr.config import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "ivr-dashboard.json"


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    figures = Figures(
        day="2026-11-30",
        calls_now_by_ivr_node={"n1": 1},
        media_by_ivr_node={
            "n1": {"frames": 500, "ticks_late": 2, "frames_skipped": 0, "streams": 1}
        },
        calls_now_by_menu_node={"主菜单": 1},
        reach={"主菜单": 3},
        drop_off={"主菜单": 1},
        heard_today={"按键 1": 2},
        live_version="abc",
        queues=[QueueFigures("card", "社保卡", 1, 5.0, {"available": 1}, 1, 1, 0)],
    )
    totals = Totals({"none": 3}, {"bye": 3}, {("temporary_loss", "reported"): 1}, 2)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(figures, totals))
    exported = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bivr_[a-z_]+", re.sub(r"by \([^)]*\)", "", target["expr"]))
    }
    assert queried and queried <= exported, queried - exported
