"""Helpers shared by the action tests: a controlled clock, valid ID numbers, requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ivr.actions.base import ActionRequest
from ivr.actions.service import ActionContext
from ivr.actions.settings import PinPolicy
from ivr.id_number import check_character

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# A Monday morning in Shanghai.
START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
# Cheap scrypt for tests; the production cost is exercised in test_pin_rules.
FAST_PIN = PinPolicy(scrypt_n=2**4, scrypt_r=1, scrypt_p=1)


class FakeClock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def id_for(serial: int, born: str = "19800312") -> str:
    first17 = f"360102{born}{serial:03d}"
    return first17 + check_character(first17)


def request(name: str, **params: str) -> ActionRequest:
    return ActionRequest(name=name, params=params, caller="13912345678", call_ref="call-1")


def with_settings(ctx: ActionContext, **changes: object) -> ActionContext:
    return replace(ctx, settings=replace(ctx.settings, **changes))
