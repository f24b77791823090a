"""REGISTERs answered off the reactor: the registrar runs on the database pool, the reply goes
back through the SIP user agent. This is the registrar's only contact with the process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import redis
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ivr.agents import accounts
from ivr.agents.digest import NonceMint
from ivr.agents.registrar import Registrar, RegistrarSettings, Reply
from ivr.agents.registrar_store import RegistrarStore
from ivr.sip.events import RegisterReceived, RequestHandle
from ivr.store.db import Database

log = logging.getLogger("ivr.agents.registrar")

Respond = Callable[[RequestHandle, Reply], None]
RunBlocking = Callable[..., Deferred[Reply]]


class Registration:
    def __init__(self, registrar: Registrar, run_blocking: RunBlocking, respond: Respond) -> None:
        self.registrar = registrar
        self._run = run_blocking
        self._respond = respond

    @classmethod
    def build(
        cls,
        settings: RegistrarSettings,
        db: Database,
        client: redis.Redis,
        run_blocking: RunBlocking,
        respond: Respond,
    ) -> Registration:
        """The shared nonce secret is read from Redis at the first REGISTER, not here."""
        store = RegistrarStore(client)
        registrar = Registrar(
            settings, store, partial(accounts.credentials, db), NonceMint(store.nonce_secret)
        )
        return cls(registrar, run_blocking, respond)

    def receive(self, event: RegisterReceived) -> None:
        def failed(failure: Failure) -> None:
            log.error("REGISTER not handled: %s", failure.getErrorMessage())
            self._respond(event.handle, Reply(500, "Server Internal Error (try again)"))

        self._run(
            self.registrar.handle, event.request, event.source, event.transport, time.time()
        ).addCallbacks(partial(self._respond, event.handle), failed)
