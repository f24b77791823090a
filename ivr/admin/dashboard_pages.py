"""The live dashboard and Prometheus /metrics, from the same figures."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from twisted.python.failure import Failure
from twisted.web.server import Request

from ivr.admin.figures import (
    LIVE_REPORT_S,
    DayTally,
    Figures,
    Totals,
    TotalsTally,
    add_heard,
    figures,
    local_midnight,
    report_live_calls,
    report_media_pacing,
    totals,
)
from ivr.admin.menu_work import MenuWork
from ivr.admin.queue_figures import queue_figures, queue_names
from ivr.store.web_sessions import SessionUser
from ivr.web.server import JsonResponse, WebConsole

log = logging.getLogger("ivr.admin")

ACTION_NAMES = {"card_query": "社保卡查询", "temporary_loss": "临时挂失", "pin_change": "修改密码"}


class DashboardPages:
    def __init__(
        self, console: WebConsole, roles: Sequence[str], work: MenuWork, zone: ZoneInfo
    ) -> None:
        self.console = console
        self.work = work
        self.zone = zone
        services = console.services
        console.add_nav("实时看板", "/admin/dashboard", roles)
        console.page("/admin/dashboard", roles=roles)(self.dashboard)
        console.page("/admin/dashboard/figures", roles=roles)(self.figures_json)
        console.app.route("/metrics", methods=["GET"], endpoint="metrics")(self.metrics)
        console.every(LIVE_REPORT_S, self._report_live_calls)
        self._reporting = False
        self._ticks_late_reported = 0  # this node's late ticks as of its last report
        self._services = services
        self.tally = DayTally()  # today's call counts, read incrementally
        self.totals = TotalsTally()  # counts since the beginning, for /metrics

    def _report_live_calls(self) -> None:
        """On the reactor: read this node's calls (cheap), write them to Redis on the pool."""
        if self._reporting:
            return
        self._reporting = True
        services = self._services
        calls = dict(services.calls_now())
        heard = dict(services.take_heard())
        day = services.wallclock().astimezone(self.zone).date().isoformat()
        pacing = services.pacing()
        media: dict[str, int] = {}
        if pacing is not None:
            recent = pacing.ticks_late - self._ticks_late_reported
            media = {**asdict(pacing), "ticks_late_recent": recent}
            self._ticks_late_reported = pacing.ticks_late

        def report() -> None:
            report_live_calls(services.redis, services.node, calls)
            if media:
                report_media_pacing(services.redis, services.node, media)
            add_heard(services.redis, day, heard)

        def done(_: object) -> None:
            self._reporting = False

        def failed(failure: Failure) -> None:
            log.warning("live figures not reported: %s", type(failure.value).__name__)

        services.pool.run(report).addErrback(failed).addBoth(done)

    def _figures(self) -> Figures:
        services = self._services
        now = services.wallclock()
        result = figures(services.db, services.redis, self.work.menu, now, self.zone, self.tally)
        queues = queue_names(self.work.live_tree())
        try:
            result.queues = queue_figures(
                services.redis, services.db, services.node, queues,
                local_midnight(now, self.zone), now,
            )  # fmt: skip
        except RedisError:
            result.redis_ok = False
        return result

    async def dashboard(self, request: Request, user: SessionUser) -> Any:
        now = await self.console.blocking(self._figures)
        return self.console.render(
            request, user, "admin/dashboard.html", figures=now, action_names=ACTION_NAMES
        )

    async def figures_json(self, request: Request, user: SessionUser) -> Any:
        return JsonResponse((await self.console.blocking(self._figures)).as_json())

    async def metrics(self, request: Request) -> Any:
        """Prometheus text format; a bearer token (web.metrics_token) or a supervisor session."""
        token = self.console.settings.metrics_token
        given = request.getHeader("authorization") or ""
        allowed = bool(token) and secrets.compare_digest(given.encode(), f"Bearer {token}".encode())
        if not allowed:
            user = await self.console.current_user(request)
            allowed = user is not None and user.role == "supervisor"
        if not allowed:
            request.setResponseCode(401)
            request.setHeader(b"WWW-Authenticate", b'Bearer realm="ivr-metrics"')
            return b"metrics need a bearer token (web.metrics_token) or a supervisor session\n"
        now, since = await self.console.blocking(
            lambda: (self._figures(), totals(self._services.db, self.totals))
        )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(now, since))
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(registry)


_Family = type[GaugeMetricFamily] | type[CounterMetricFamily]


class _Snapshot(Collector):
    """One scrape's figures as Prometheus metric families."""

    def __init__(self, now: Figures, since: Totals) -> None:
        self.now = now
        self.since = since

    def collect(self) -> Any:
        now, since = self.now, self.since
        media = {
            name: {node: counts[name] for node, counts in now.media_by_ivr_node.items()}
            for name in ("frames", "ticks_late", "frames_skipped", "streams")
        }
        labelled: tuple[tuple[_Family, str, str, list[str], Mapping[Any, float]], ...] = (
            (GaugeMetricFamily, "ivr_calls_active", "Calls in progress, by IVR node",
             ["ivr_node"], now.calls_now_by_ivr_node),
            (CounterMetricFamily, "ivr_media_frames",
             "20 ms media frames due since the node started (sent or skipped), by IVR node",
             ["ivr_node"], media["frames"]),
            (CounterMetricFamily, "ivr_media_ticks_late",
             "Media clock ticks a whole frame late or more (frames left back to back), by IVR node",
             ["ivr_node"], media["ticks_late"]),
            (CounterMetricFamily, "ivr_media_frames_skipped",
             "Media frames skipped after a stall of more than 3 frames, by IVR node",
             ["ivr_node"], media["frames_skipped"]),
            (GaugeMetricFamily, "ivr_media_streams_active", "Calls' media streams paced now",
             ["ivr_node"], media["streams"]),
            (GaugeMetricFamily, "ivr_menu_node_calls_active", "Calls in progress at each menu node",
             ["node"], now.calls_now_by_menu_node),
            (CounterMetricFamily, "ivr_calls", "Finished calls recorded, by outcome",
             ["outcome"], since.calls_by_outcome),
            (CounterMetricFamily, "ivr_calls_ended", "Finished calls, by how they ended",
             ["end_reason"], since.calls_by_end_reason),
            (CounterMetricFamily, "ivr_actions", "Phone actions taken, by outcome",
             ["action", "outcome"], since.actions),
            (GaugeMetricFamily, "ivr_menu_node_reached_today",
             "Calls that reached a menu node today", ["node"], now.reach),
            (GaugeMetricFamily, "ivr_menu_node_drop_off_today",
             "Callers who hung up at a menu node today", ["node"], now.drop_off),
            (GaugeMetricFamily, "ivr_heard_today", "Keys and speech intents heard today",
             ["what"], now.heard_today),
        )  # fmt: skip
        for kind, name, documentation, labels, counts in labelled:
            family = kind(name, documentation, labels=labels)
            for key, count in counts.items():
                family.add_metric(list(key) if isinstance(key, tuple) else [key], count)
            yield family
        yield GaugeMetricFamily("ivr_calls_today", "Calls started today", value=now.calls_today)
        yield GaugeMetricFamily(
            "ivr_calls_hung_up_today", "Callers who hung up today", value=now.hung_up_today
        )
        yield CounterMetricFamily(
            "ivr_menu_publications", "Menu versions published", value=since.publications
        )
        waiting = GaugeMetricFamily("ivr_queue_waiting", "Callers waiting", labels=["queue"])
        longest = GaugeMetricFamily(
            "ivr_queue_longest_wait_seconds", "The head caller's wait", labels=["queue"]
        )
        agents = GaugeMetricFamily(
            "ivr_queue_agents", "Agents of a queue by state", labels=["queue", "state"]
        )
        level = GaugeMetricFamily(
            "ivr_queue_service_level_today",
            "Percent answered within 20 s today (of answered and abandoned)",
            labels=["queue"],
        )
        for queue in now.queues:
            waiting.add_metric([queue.name], queue.waiting)
            longest.add_metric([queue.name], queue.longest_wait_s)
            for state, count in queue.agents.items():
                agents.add_metric([queue.name, state], count)
            if queue.service_level is not None:
                level.add_metric([queue.name], queue.service_level)
        yield from (waiting, longest, agents, level)
        live = GaugeMetricFamily("ivr_menu_live_info", "The live menu version", labels=["version"])
        live.add_metric([now.live_version or "none"], 1)
        yield live
