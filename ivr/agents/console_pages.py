"""The agent console: state buttons, the screen pop while the phone rings, notes, the callback
list and a live view of the agent's queues. Built on the shared web server (ivr/web): its
accounts, sessions, CSRF and role checks; pages for the `agent` role (supervisors may look).

The page gets its state from `/agent/events`, a server-sent event stream that sends a fresh
snapshot whenever the queue nudges that something the agent sees changed, on any node
(`ivr.agents.console_stream`); `/agent/state.json` answers the same snapshot once. Every
snapshot is read from Redis and SQL on the worker pool, so any node's console shows the same
queue.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.web.server import Request

from ivr.agents import callbacks
from ivr.agents.acd import CHANGED_CHANNEL, Acd, AgentState, QueueView, announce_change
from ivr.agents.call_notes import add_note
from ivr.agents.callback_dial import DialJob, push_dial
from ivr.agents.console_stream import HEARTBEAT_S, REFRESH_S, AgentStreams
from ivr.agents.screen_pop import screen_pop
from ivr.menus.loader import parse_menu_text
from ivr.menus.publishing import configured_menu_file
from ivr.menus.schema import MenuTree, TransferNode
from ivr.store.menu_versions import live_publication, live_version
from ivr.store.web_sessions import SessionUser
from ivr.web.server import BadRequest, JsonResponse, WebConsole, read_json

HERE = Path(__file__).resolve().parent
AGENT = ("agent", "supervisor")
STATE_NAMES = {
    "logged_out": "已签出",
    "available": "空闲",
    "ringing": "振铃",
    "on_call": "通话中",
    "wrap_up": "话后处理",
    "paused": "示忙",
}
PAUSE_REASONS = ("小休", "就餐", "培训", "会议", "处理工单")


def agent_queues(tree: MenuTree, agent: str) -> tuple[str, ...]:
    """The queues (skills) an agent serves: declared ones listing it or listing nobody; without
    a `queues:` section, every queue a transfer node names."""
    if tree.queues:
        return tuple(
            sorted(q.name for q in tree.queues.values() if not q.members or agent in q.members)
        )
    return tuple(sorted({n.queue for n in tree.nodes.values() if isinstance(n, TransferNode)}))


class AgentConsole:
    def __init__(self, console: WebConsole) -> None:
        self.console = console
        services = console.services
        self.acd = Acd(services.redis, services.node)
        menu_file = configured_menu_file(services.config)
        self._file_tree = parse_menu_text(menu_file.read_text(encoding="utf-8"), "menu")[0]
        self.menu = self._file_tree.name if self._file_tree is not None else menu_file.stem
        self._live: tuple[str | None, MenuTree | None] = (None, None)  # (version, its tree)
        zone_name = str(services.config.section("actions").get("timezone", "Asia/Shanghai"))
        self.zone = ZoneInfo(zone_name)
        console.add_templates(HERE / "templates")
        console.add_static("agents", HERE / "static")
        console.add_nav("坐席工作台", "/agent", AGENT)
        console.page("/agent", roles=AGENT)(self.page)
        console.page("/agent/state.json", roles=AGENT)(self.state)
        console.page("/agent/events", roles=AGENT)(self.events)
        console.page("/agent/state", roles=AGENT, methods=("POST",))(self.set_state)
        console.page("/agent/note", roles=AGENT, methods=("POST",))(self.note)
        console.page("/agent/callbacks/<int:callback_id>/done", roles=AGENT, methods=("POST",))(
            self.callback_done
        )
        console.page("/agent/callbacks/<int:callback_id>/call", roles=AGENT, methods=("POST",))(
            self.call_back
        )
        self.gateway = services.config.section("agents").get("callback_gateway")
        self.streams = AgentStreams(
            lambda agent: services.pool.run(self._snapshot, agent), self._signed_in
        )
        services.on_nudge(CHANGED_CHANNEL, self.streams.changed)
        console.every(HEARTBEAT_S, self.streams.heartbeat)
        console.every(REFRESH_S, self.streams.refresh_all)

    # --- pages --------------------------------------------------------------------------

    async def page(self, request: Request, user: SessionUser) -> Any:
        return self.console.render(
            request, user, "agents/console.html", reasons=PAUSE_REASONS, states=STATE_NAMES
        )

    async def state(self, request: Request, user: SessionUser) -> Any:
        body = await self.console.blocking(self._snapshot, user.username)
        return JsonResponse(body)

    async def events(self, request: Request, user: SessionUser) -> Any:
        """Server-sent events: the snapshot now and whenever it changes, until the browser
        goes (Klein then cancels this handler) or the session ends."""
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-cache")
        request.setHeader(b"X-Accel-Buffering", b"no")  # a proxy must not hold the events back
        stream = self.streams.open(request, user.username)
        if stream is None:
            return JsonResponse({"error": "打开的工作台页面过多，请关闭其他页面"}, 429)
        try:
            await stream.done
        finally:
            self.streams.remove(stream)
        return b""

    def _signed_in(self, request: Request) -> Deferred[bool]:
        return ensureDeferred(self.console.current_user(request)).addCallback(
            lambda user: user is not None
        )

    async def set_state(self, request: Request, user: SessionUser) -> Any:
        body = read_json(request)
        wanted = str(body.get("state", ""))
        if wanted not in ("available", "paused", "logged_out"):
            raise BadRequest("状态须为 空闲、示忙 或 签出")
        reason = str(body.get("reason", ""))[:32]
        if wanted == "paused" and reason not in PAUSE_REASONS:
            raise BadRequest("请选择示忙原因")
        ok, current = await self.console.blocking(
            self._set_state, user.username, AgentState(wanted), reason
        )
        await self.console.change(user, f"agent.{wanted}", user.username, reason=reason)
        if not ok:
            return JsonResponse(
                {"error": f"当前为{STATE_NAMES[current.value]}，通话结束后再改"}, 409
            )
        return JsonResponse({"state": current.value})

    async def note(self, request: Request, user: SessionUser) -> Any:
        body = read_json(request)
        call_id = str(body.get("call_id", ""))
        if not call_id:
            raise BadRequest("没有要备注的通话")
        try:
            await self.console.blocking(
                self._note, call_id, user.username, str(body.get("text", ""))
            )
        except ValueError as error:
            raise BadRequest(str(error)) from None
        return JsonResponse({"saved": True})

    async def callback_done(self, request: Request, user: SessionUser, callback_id: int) -> Any:
        body = read_json(request)
        reached = bool(body.get("reached"))
        done = await self.console.blocking(self._callback_done, callback_id, user.username, reached)
        if not done:
            return JsonResponse({"error": "该回电已由其他坐席处理"}, 409)
        return JsonResponse({"done": reached})

    async def call_back(self, request: Request, user: SessionUser, callback_id: int) -> Any:
        """立即回电: the IVR rings this agent's phone, then the caller, and bridges them."""
        if not self.gateway:
            return JsonResponse(
                {"error": "未配置外呼网关（agents.callback_gateway），请手动回电"}, 409
            )
        problem = await self.console.blocking(self._dial, callback_id, user.username)
        if problem:
            return JsonResponse({"error": problem}, 409)
        await self.console.change(user, "agent.callback", str(callback_id))
        return JsonResponse({"dialing": True})

    # --- blocking work (worker pool) ----------------------------------------------------------

    def _dial(self, callback_id: int, agent: str) -> str | None:
        """Pause the agent (回电), claim the request, hand the dialling to any IVR node."""
        services = self.console.services
        ok, current = self._set_state(agent, AgentState.PAUSED, "回电")
        if not ok:
            return f"当前为{STATE_NAMES[current.value]}，通话结束后再回电"
        claimed = callbacks.claim(services.db, callback_id, agent)
        if claimed is None:
            return "该回电已由其他坐席处理"
        push_dial(services.redis, DialJob(callback_id, agent, claimed.queue, claimed.number))
        announce_change(services.redis, queues=(claimed.queue,))
        return None

    def _note(self, call_id: str, agent: str, text: str) -> None:
        services = self.console.services
        add_note(services.db, call_id, agent, text, services.wallclock())
        announce_change(services.redis, agents=(agent,))

    def _tree(self) -> MenuTree | None:
        """BLOCKING: the live menu (its queues and their members), parsed again only when the
        live version changed: a snapshot costs one small query, not a file and two YAML parses."""
        db = self.console.services.db
        version = live_version(db, self.menu)
        if version is None:  # nothing published yet: the file as the node read it at start
            return self._file_tree
        if version != self._live[0]:
            live = live_publication(db, self.menu)
            tree = parse_menu_text(live.text, "menu")[0] if live is not None else None
            self._live = version, tree or self._file_tree
        return self._live[1]

    def _set_state(self, agent: str, state: AgentState, reason: str) -> tuple[bool, AgentState]:
        tree = self._tree()
        queues = agent_queues(tree, agent) if tree is not None else ()
        return self.acd.set_state(agent, state, time.time(), reason, queues)

    def _callback_done(self, callback_id: int, agent: str, reached: bool) -> bool:
        db = self.console.services.db
        claimed = callbacks.claim(db, callback_id, agent)
        if claimed is None:
            return False
        callbacks.finish(db, callback_id, reached, self.console.services.wallclock())
        announce_change(self.console.services.redis, queues=(claimed.queue,))
        return True

    def _snapshot(self, agent: str) -> dict[str, Any]:
        services = self.console.services
        now = time.time()
        status = self.acd.agent(agent)
        shown = status.shown_state(now)
        call = None
        if status.call and shown in (AgentState.RINGING, AgentState.ON_CALL):
            call = screen_pop(
                services.db, services.redis, status.call, services.wallclock(), self.zone
            )
        tree = self._tree()
        queues = agent_queues(tree, agent) if tree is not None else ()
        views = [self.acd.queue_view(queue) for queue in queues]
        labels = {name: (tree.queue(name).label if tree else name) for name in queues}
        return {
            "can_dial": bool(self.gateway),
            "agent": {
                "name": agent,
                "state": shown.value,
                "state_name": STATE_NAMES[shown.value],
                "reason": status.reason if shown is AgentState.PAUSED else "",
                "since": _clock(status.since, self.zone),
                "calls": status.calls,
                "wrap_left": max(0, round(status.wrap_until - now))
                if shown is AgentState.WRAP_UP
                else 0,
            },
            "call": call,
            "queues": [_queue(view, labels[view.name], now) for view in views],
            "callbacks": [
                {
                    "id": cb.id,
                    "queue": labels.get(cb.queue, cb.queue),
                    "number": cb.number,
                    "window": cb.window,
                    "requested_at": cb.requested_at.astimezone(self.zone).strftime("%m-%d %H:%M"),
                    "state": cb.state,
                    "agent": cb.agent or "",
                }
                for cb in callbacks.pending(services.db, queues)
            ],
        }


def _queue(view: QueueView, label: str, now: float) -> dict[str, Any]:
    return {
        "name": view.name,
        "label": label,
        "waiting": view.waiting_count,
        "longest_wait": round(view.longest_wait(now)),
        "agents": [
            {"name": a.name, "state": STATE_NAMES[a.shown_state(now).value]} for a in view.agents
        ],
    }


def _clock(epoch: float, zone: ZoneInfo) -> str:
    if not epoch:
        return ""
    return dt.datetime.fromtimestamp(epoch, zone).strftime("%H:%M:%S")
