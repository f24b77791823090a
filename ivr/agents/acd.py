"""The agent queue (ACD) every IVR node shares, in Redis: callers wait, agents are offered them.

Each operation is one atomic Lua script (`ivr.agents.acd_scripts`, where the rules are), so
nodes never offer one caller twice or ring one agent for two callers. A caller is offered only
by its own node (which holds its media), always from the head of its queue; an agent is chosen
by the queue's strategy among agents logged in to the queue, available (or past wrap-up) and
registered. Nodes beat every few seconds; `sweep` lets go of the callers and agents of a node
that stopped beating, so a crashed node leaves no ghost.

Every method blocks (Redis round trips): call it on a worker pool, never on the reactor thread.
`now` is wall-clock epoch seconds, the same on every node (NTP), passed in for tests.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ivr.agents import acd_scripts
from ivr.store.nudges import scoped, send_nudge

NODE_TTL = 15.0  # seconds without a heartbeat after which a node's callers and agents are let go
MISSED_REASON = "未接听"  # the pause reason of an agent who let calls ring out
VIEW_CALLERS = 50  # waiting callers a queue view lists one by one (it counts them all)
# Pub/sub nudges (hints; see acd_scripts): what consoles show changed / an offer may be possible.
CHANGED_CHANNEL = "ivr:acd:changed"
OFFER_CHANNEL = "ivr:acd:offer"


class Strategy(enum.Enum):
    LONGEST_IDLE = "longest_idle"  # the agent whose last call ended longest ago (default)
    ROUND_ROBIN = "round_robin"  # agents in name order, starting after the last one offered
    RING_ALL = "ring_all"  # every available agent at once; the first to answer takes it
    FEWEST_CALLS = "fewest_calls"  # the agent with the fewest calls, then longest idle


class AgentState(enum.Enum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(frozen=True)
class Offer:
    call_id: str
    agents: tuple[str, ...]  # one, or several for ring-all


@dataclass(frozen=True)
class OfferResult:
    offer: Offer | None
    ghosts: tuple[str, ...]  # heads of the queue removed: their node had stopped beating
    head_node: str | None = None  # the node that must offer the head caller, if not this one


@dataclass(frozen=True)
class Left:
    state: str  # what the caller was doing: waiting, offered, connected
    position: int  # 1-based place in the queue when it left; 0 if it was not waiting
    wait_s: float
    released: tuple[str, ...]  # agents whose ringing stopped


@dataclass(frozen=True)
class Answered:
    wait_s: float
    cancelled: tuple[str, ...]  # other agents rung for the caller (ring-all): stop their legs


@dataclass(frozen=True)
class AgentStatus:
    name: str
    state: AgentState
    reason: str
    since: float
    calls: int
    missed: int
    call: str
    queues: tuple[str, ...]
    wrap_until: float

    def shown_state(self, now: float) -> AgentState:
        """Wrap-up ends by itself when its time is up (nothing is written then)."""
        if self.state is AgentState.WRAP_UP and self.wrap_until <= now:
            return AgentState.AVAILABLE
        return self.state


@dataclass(frozen=True)
class Waiting:
    call_id: str
    number: str
    entered: float


@dataclass(frozen=True)
class QueueView:
    name: str
    waiting_count: int
    waiting: tuple[Waiting, ...]  # the first VIEW_CALLERS, head first
    agents: tuple[AgentStatus, ...]
    handle_times: tuple[float, ...]  # the last 20, newest first

    def longest_wait(self, now: float) -> float:
        """The head's wait: callers go back to the head with their first arrival time."""
        return max((now - caller.entered for caller in self.waiting), default=0.0)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _words(value: bytes | str | None) -> tuple[str, ...]:
    return tuple(_text(value).split())


class Acd:
    def __init__(self, client: redis.Redis, node: str, node_ttl: float = NODE_TTL) -> None:
        self.redis = client
        self.node = node
        self.node_ttl = node_ttl
        channels = (
            f"local CHANGED_CHANNEL = '{scoped(client, CHANGED_CHANNEL)}'\n"
            f"local OFFER_CHANNEL = '{scoped(client, OFFER_CHANNEL)}'\n"
        )
        self._scripts = {
            name: client.register_script(channels + acd_scripts.COMMON + getattr(acd_scripts, name))
            for name in (
                "ENTER",
                "LEAVE",
                "OFFER",
                "ANSWERED",
                "NO_ANSWER",
                "COMPLETE",
                "SET_STATE",
                "SWEEP",
            )
        }

    def _run(self, name: str, *args: object) -> Any:
        return self._scripts[name](args=[str(arg) for arg in args])

    # --- nodes ------------------------------------------------------------------------------

    def heartbeat(self, now: float) -> None:
        self.redis.zadd("ivr:acd:nodes", {self.node: now})

    def sweep(self, now: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Let go of dead nodes' callers ("queue:call-id") and agents; (callers, agents)."""
        callers, agents = self._run("SWEEP", now, self.node_ttl)
        return _words(callers), _words(agents)

    # --- callers ----------------------------------------------------------------------------

    def enter(self, queue: str, call_id: str, number: str, now: float) -> int:
        """Queue a caller (again: no change); its 1-based position."""
        return int(self._run("ENTER", queue, call_id, self.node, number, now))

    def position(self, call_id: str) -> int | None:
        """1-based place of a waiting caller; None when it is not waiting."""
        queue = self.redis.hget(f"ivr:acd:call:{call_id}", "queue")
        if queue is None:
            return None
        rank = self.redis.zrank(f"ivr:acd:q:{_text(queue)}", call_id)
        return rank + 1 if isinstance(rank, int) else None

    def leave(self, call_id: str, now: float) -> Left | None:
        """The caller hung up or went back to the menu; None if it was no longer queued."""
        result = self._run("LEAVE", call_id, now)
        if not result:
            return None
        state, position, entered, released = result
        return Left(_text(state), int(position), now - float(entered), _words(released))

    def offer(self, queue: str, strategy: Strategy, now: float) -> OfferResult:
        kind, first, agents, ghosts = self._run(
            "OFFER", queue, self.node, strategy.value, now, self.node_ttl
        )
        kind = _text(kind)
        if kind == "offer":
            return OfferResult(Offer(_text(first), _words(agents)), _words(ghosts))
        return OfferResult(None, _words(ghosts), _text(first) if kind == "other" else None)

    def answered(self, call_id: str, agent: str, now: float) -> Answered | None:
        """The agent took the call; None when the offer had gone (caller hung up, swept)."""
        result = self._run("ANSWERED", call_id, agent, now)
        if not result:
            return None
        entered, others = result
        return Answered(now - float(entered), _words(others))

    def no_answer(
        self, call_id: str, agent: str, now: float, max_no_answer: int
    ) -> tuple[AgentState, bool]:
        """The agent's leg failed; (its state now, whether the caller is waiting again)."""
        state, requeued = self._run("NO_ANSWER", call_id, agent, now, max_no_answer, MISSED_REASON)
        return AgentState(_text(state)), bool(int(requeued))

    def complete(self, call_id: str, agent: str, now: float, wrap_up: float) -> float | None:
        """The bridged call ended; the talk time, or None if the agent was not on it."""
        talk = self._run("COMPLETE", call_id, agent, now, wrap_up)
        return float(talk) if talk else None

    # --- agents -----------------------------------------------------------------------------

    def set_state(
        self,
        agent: str,
        state: AgentState,
        now: float,
        reason: str = "",
        queues: tuple[str, ...] = (),
    ) -> tuple[bool, AgentState]:
        """The agent's own choice: available, paused (with a reason) or logged out, into
        `queues`. Refused (False, current state) while ringing or on a call."""
        if state not in (AgentState.AVAILABLE, AgentState.PAUSED, AgentState.LOGGED_OUT):
            raise ValueError(f"an agent cannot choose {state.value}")
        verdict, current = self._run("SET_STATE", agent, state.value, reason, now, " ".join(queues))
        return _text(verdict) == "ok", AgentState(_text(current))

    def agent(self, name: str) -> AgentStatus:
        return _status(name, self.redis.hgetall(f"ivr:acd:agent:{name}"))

    def logged_in(self) -> tuple[str, ...]:
        return tuple(sorted(_text(name) for name in self.redis.smembers("ivr:acd:agents")))

    def queue_view(self, queue: str) -> QueueView:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcard(f"ivr:acd:q:{queue}")
        pipe.zrange(f"ivr:acd:q:{queue}", 0, VIEW_CALLERS - 1, withscores=True)
        pipe.smembers(f"ivr:acd:q:{queue}:agents")
        pipe.lrange(f"ivr:acd:q:{queue}:handled", 0, -1)
        count, waiting, members, handled = pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        for call_id, _ in waiting:
            pipe.hget(f"ivr:acd:call:{_text(call_id)}", "number")
        names = sorted(_text(name) for name in members)
        for name in names:
            pipe.hgetall(f"ivr:acd:agent:{name}")
        results = pipe.execute()
        numbers, agents = results[: len(waiting)], results[len(waiting) :]
        return QueueView(
            queue,
            int(count),
            tuple(
                Waiting(_text(call_id), _text(number), float(score))
                for (call_id, score), number in zip(waiting, numbers, strict=True)
            ),
            tuple(_status(name, raw) for name, raw in zip(names, agents, strict=True)),
            tuple(float(value) for value in handled),
        )


@dataclass(frozen=True)
class Change:
    """What an `ivr:acd:changed` nudge names: queues and agents whose consoles are stale."""

    queues: frozenset[str]
    agents: frozenset[str]

    @classmethod
    def parse(cls, data: str) -> Change:
        queues, _, agents = data.partition("|")
        return cls(frozenset(queues.split()), frozenset(agents.split()))

    def concerns(self, agent: str, queues: frozenset[str]) -> bool:
        return agent in self.agents or not self.queues.isdisjoint(queues)


def announce_change(
    client: redis.Redis, queues: tuple[str, ...] = (), agents: tuple[str, ...] = ()
) -> None:
    """Nudge every node's consoles about a change made outside the scripts (callback list,
    notes). BLOCKING (Redis); a lost nudge costs the consoles' slow refresh."""
    send_nudge(client, CHANGED_CHANNEL, " ".join(queues) + "|" + " ".join(agents))


def agent_ready(client: redis.Redis, agent: str) -> None:
    """The agent may be offered now although no script ran (its wrap-up ran out, its phone
    registered): nudge the nodes holding callers of its queues, and its consoles. BLOCKING."""
    queues = _text(client.hget(f"ivr:acd:agent:{agent}", "queues"))
    if queues:
        send_nudge(client, OFFER_CHANNEL, queues)
    send_nudge(client, CHANGED_CHANNEL, f"{queues}|{agent}")


def estimated_wait(view: QueueView, position: int, now: float) -> float | None:
    """Seconds until a caller at `position` is likely answered: the mean of recent handle times
    times the callers ahead (and itself), shared among the agents taking calls. None when
    there is no history yet or nobody is taking calls (the caller then hears no estimate)."""
    staffed = sum(
        1
        for agent in view.agents
        if agent.shown_state(now) not in (AgentState.PAUSED, AgentState.LOGGED_OUT)
    )
    if not view.handle_times or staffed == 0:
        return None
    mean = sum(view.handle_times) / len(view.handle_times)
    return mean * position / staffed


def _status(name: str, raw: Mapping[Any, Any]) -> AgentStatus:
    fields = {_text(key): _text(value) for key, value in raw.items()}
    return AgentStatus(
        name=name,
        state=AgentState(fields.get("state") or "logged_out"),
        reason=fields.get("reason", ""),
        since=float(fields.get("since") or 0),
        calls=int(fields.get("calls") or 0),
        missed=int(fields.get("missed") or 0),
        call=fields.get("call", ""),
        queues=tuple(fields.get("queues", "").split()),
        wrap_until=float(fields.get("wrap_until") or 0),
    )
