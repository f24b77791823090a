"""A simulated call: the real `MenuRun` on a draft, driven by a browser instead of a phone.

Keys, "say" text and "the prompt ended" come from the browser; the run's commands are carried
out as a call would: prompts become texts (the catalog's own rendering, ID numbers masked) and
an audio URL, actions run against the sandbox through the real action registry, a transfer is
answered "no agent" (the sandbox has no agents). Time is a virtual clock, so "wait for the
timeout" needs no waiting. Nothing here is a second interpreter: every decision is MenuRun's.

Not thread-safe on its own: `SimulationBook` serializes the events of one simulation.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr.actions.base import ActionRequest, ActionResult
from ivr.media.prompt_catalog import PromptCatalog, PromptError
from ivr.menus.events import (
    ActionCompleted,
    Command,
    DigitPressed,
    Event,
    Hangup,
    IntentHeard,
    Play,
    PromptFinished,
    RunAction,
    StopPlayback,
    TimerExpired,
    Transfer,
    TransferEnded,
)
from ivr.menus.interpreter import MenuRun
from ivr.menus.schema import Kind, MenuTree
from ivr.work_calendar import WorkCalendar

MAX_AUTO_STEPS = 60  # prompts finished in a row in fast mode before the simulator stops
IDLE_LIFETIME_S = 1800
MAX_PER_USER = 5
KEYS = frozenset("0123456789*#")


@dataclass
class SimulatedPlay:
    play_id: int
    texts: list[str]
    prompt_ids: list[str]
    variables: list[Mapping[str, Any]]


@dataclass
class Simulation:
    id: str
    owner: str
    tree: MenuTree
    catalog: PromptCatalog
    run_action: Callable[[ActionRequest], ActionResult]
    intents: Mapping[str, Sequence[str]]
    run: MenuRun
    clock: float = 0.0
    playing: SimulatedPlay | None = None
    plays: dict[int, SimulatedPlay] = field(default_factory=dict)
    log: list[dict[str, str]] = field(default_factory=list)
    node_path: list[str] = field(default_factory=list)
    ended: str = ""
    touched: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the browser does --------------------------------------------------------------

    def start(self, fast: bool) -> None:
        self._apply(self.run.start(self.clock))
        self._settle(fast)

    def key(self, digit: str, fast: bool) -> None:
        if digit not in KEYS:
            raise ValueError(f"不是电话按键：{digit}")
        # As on a real call, digits typed into a number (an ID, a PIN) are never shown.
        typing = self.run.node.kind is Kind.COLLECT and digit.isdigit()
        self._note("caller", f"按键 {'•' if typing else digit}")
        self._event(DigitPressed(digit), fast)

    def say(self, text: str, fast: bool) -> None:
        self._note("caller", f"说：「{text}」")
        intent = match_intent(text, self.intents)
        if intent is None:
            self._note("system", "（未识别出意图，菜单继续等待）")
            return
        self._note("system", f"识别为意图 {intent}")
        self._event(IntentHeard(intent, text), fast)

    def prompt_finished(self, play_id: int, fast: bool) -> None:
        if self.playing is not None and self.playing.play_id == play_id:
            self.playing = None
            self._event(PromptFinished(play_id), fast)

    def wait_out(self, fast: bool) -> None:
        """Let the run's pending deadline pass (the caller says nothing)."""
        deadline = self.run.next_deadline()
        if deadline is None:
            self._note("system", "（当前没有在等待按键）")
            return
        self.clock = max(self.clock, deadline)
        self._note("caller", "（不出声，等到超时）")
        self._event(TimerExpired(), fast)

    # --- carrying out commands --------------------------------------------------------------

    def _event(self, event: Event, fast: bool) -> None:
        if self.ended:
            return
        self.clock += 0.5
        self._apply(self.run.handle(event, self.clock))
        self._settle(fast)

    def _settle(self, fast: bool) -> None:
        """In fast mode prompts end at once, so the run goes on to where it waits for the caller."""
        for _ in range(MAX_AUTO_STEPS):
            if not fast or self.playing is None or self.ended:
                return
            finished, self.playing = self.playing.play_id, None
            self.clock += 0.5
            self._apply(self.run.handle(PromptFinished(finished), self.clock))
        self._note("system", "（连续播放过多，已停止自动播放）")

    def _apply(self, commands: list[Command]) -> None:
        """Carry out commands in order; an action runs once the commands given with it are
        done (its wait prompt starts first, as on a call)."""
        queue = list(commands)
        actions: list[RunAction] = []
        while queue or actions:
            if not queue:
                queue += self._run_action(actions.pop(0))
                continue
            self._track_node()
            command = queue.pop(0)
            if isinstance(command, Play):
                self._play(command)
            elif isinstance(command, StopPlayback):
                if self.playing is not None and self.playing.play_id == command.play_id:
                    self.playing = None
            elif isinstance(command, RunAction):
                actions.append(command)
            elif isinstance(command, Transfer):
                self._note(
                    "system", f"转人工（队列 {command.queue}）：演练环境没有坐席，按无人接听处理"
                )
                self.clock += 0.5
                queue += self.run.handle(TransferEnded("no_answer"), self.clock)
            elif isinstance(command, Hangup):
                self.playing = None
                self.ended = command.reason
                self._note("system", f"挂机（{command.reason}）")
        self._track_node()

    def _run_action(self, command: RunAction) -> list[Command]:
        request = ActionRequest(
            command.name, command.params, "sim", f"sim-{self.id}", channel="sim"
        )
        result = self.run_action(request)
        self._note("action", f"业务 {command.name} → {result.outcome}（演练数据）")
        self.clock += 0.5
        completed = ActionCompleted(command.request_id, result.outcome, result.values)
        return self.run.handle(completed, self.clock)

    def _play(self, command: Play) -> None:
        texts, ids, variables = [], [], []
        for ref in command.prompts:
            try:
                texts.append(self.catalog.text(ref.prompt_id, ref.variables))
            except PromptError as error:
                texts.append(f"〔{error}〕")
            ids.append(ref.prompt_id)
            variables.append(ref.variables)
        play = SimulatedPlay(command.play_id, texts, ids, variables)
        self.playing = play
        self.plays[play.play_id] = play
        for old in [key for key in self.plays if key < play.play_id - 20]:
            del self.plays[old]
        self._note("prompt", "".join(texts))

    def _track_node(self) -> None:
        node = self.run.node.id
        if not self.node_path or self.node_path[-1] != node:
            self.node_path.append(node)

    def _note(self, who: str, text: str) -> None:
        self.log.append({"who": who, "text": text, "node": self.run.node.id})

    def state(self, since: int = 0) -> dict[str, Any]:
        node = self.run.node
        labels = {node_id: self.tree.nodes[node_id].label for node_id in self.node_path}
        return {
            "id": self.id,
            "version": self.tree.version,
            "node": {"id": node.id, "label": node.label, "kind": node.kind.value},
            "path": [{"id": node_id, "label": labels[node_id]} for node_id in self.node_path],
            "playing": (
                {
                    "play_id": self.playing.play_id,
                    "text": "".join(self.playing.texts),
                    "audio": f"/admin/simulator/{self.id}/audio/{self.playing.play_id}.wav",
                }
                if self.playing
                else None
            ),
            "waiting": self.run.next_deadline() is not None,
            "ended": self.ended,
            "log": self.log[since:],
            "log_size": len(self.log),
        }


def match_intent(text: str, intents: Mapping[str, Sequence[str]]) -> str | None:
    """The first intent (config order) one of whose phrases the typed text contains."""
    typed = "".join(text.split())
    for intent, phrases in intents.items():
        if any("".join(phrase.split()) in typed for phrase in phrases if phrase.strip()):
            return intent
    return None


class SimulationBook:
    """The simulations in progress on this node (a browser's simulator stays on one node)."""

    def __init__(self) -> None:
        self._items: dict[str, Simulation] = {}
        self._lock = threading.Lock()

    def open(
        self,
        owner: str,
        tree: MenuTree,
        catalog: PromptCatalog,
        run_action: Callable[[ActionRequest], ActionResult],
        intents: Mapping[str, Sequence[str]],
        calendar: WorkCalendar,
        wallclock: Callable[[], dt.datetime],
    ) -> Simulation:
        sim_id = secrets.token_hex(8)
        run = MenuRun(
            tree, wallclock=wallclock, calendar=calendar, caller="sim", call_ref=f"sim-{sim_id}"
        )
        simulation = Simulation(sim_id, owner, tree, catalog, run_action, intents, run)
        with self._lock:
            self._expire()
            mine = sorted(
                (sim for sim in self._items.values() if sim.owner == owner),
                key=lambda sim: sim.touched,
            )
            for old in mine[: max(len(mine) - MAX_PER_USER + 1, 0)]:
                del self._items[old.id]
            self._items[sim_id] = simulation
        return simulation

    def get(self, sim_id: str, owner: str) -> Simulation | None:
        with self._lock:
            simulation = self._items.get(sim_id)
        if simulation is None or simulation.owner != owner:
            return None
        simulation.touched = time.monotonic()
        return simulation

    def _expire(self) -> None:
        now = time.monotonic()
        for sim_id in [k for k, sim in self._items.items() if now - sim.touched > IDLE_LIFETIME_S]:
            del self._items[sim_id]
