"""Rule: everything that decides a card's state, and how it is said to a caller, lives here.

Theory of operation. A card row stores its *administrative* state, the one only a counter
changes: 封存 (issued, social-security function not yet enabled), 正常, 正式挂失, 注销. A
temporary loss by phone is stored as a deadline on the card instead, and the card's *effective*
state is computed from (stored state, deadline, now): 临时挂失 until the deadline, then back to
what it was. So a temporary loss lapses exactly on time with no job running, and a read one
second after the deadline already sees the card usable again.

Which states allow what (the seeds: 12333 phone loss is temporary, lapses after 7 days unless made
formal at a counter; formal loss and 解挂 are counter operations; a lost 封存 card can still be
activated by a finder, so it may be reported lost too):
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from zoneinfo import ZoneInfo

from ivr.actions.settings import LossPolicy
from ivr.work_calendar import WorkCalendar


class CardState(Enum):
    SEALED = "封存"
    NORMAL = "正常"
    TEMPORARY_LOSS = "临时挂失"
    FORMAL_LOSS = "正式挂失"
    CANCELLED = "注销"


# Stored states from which a phone caller may report a temporary loss.
TEMPORARY_LOSS_FROM = frozenset({CardState.SEALED, CardState.NORMAL})
# Effective states from which a counter may record a formal loss (it supersedes a temporary one).
FORMAL_LOSS_FROM = frozenset({CardState.SEALED, CardState.NORMAL, CardState.TEMPORARY_LOSS})
# Effective states a counter can release (解挂).
RELEASE_FROM = frozenset({CardState.TEMPORARY_LOSS, CardState.FORMAL_LOSS})
# Effective states in which the social-security PIN may be changed by phone.
PIN_CHANGE_IN = frozenset({CardState.NORMAL})

# What the caller hears after the state's name (CardState.value), and what the electronic card
# can still do (seeds: all services while the card is normal; with the holder's authorisation under
# a loss; personal services stop once the card is cancelled).
ADVICE_TEXT = {
    CardState.SEALED: "社保功能尚未启用，领取实体卡后请到服务网点或通过线上渠道启用",
    CardState.NORMAL: "可以正常使用",
    CardState.TEMPORARY_LOSS: "到期未办理正式挂失将自动解除；如需补卡，请持身份证件到服务网点办理",
    CardState.FORMAL_LOSS: (
        "如已找回卡片，请持卡和身份证件到服务网点办理解挂；如需补卡，请到服务网点申请补发"
    ),
    CardState.CANCELLED: "此卡已注销，不能再使用",
}
ELECTRONIC_TEXT = {
    CardState.SEALED: "电子社保卡可在实体卡启用后使用",
    CardState.NORMAL: "电子社保卡服务均可使用",
    CardState.TEMPORARY_LOSS: "挂失期间，电子社保卡服务经本人授权后仍可使用",
    CardState.FORMAL_LOSS: "挂失期间，电子社保卡服务经本人授权后仍可使用",
    CardState.CANCELLED: "实体卡已注销，电子社保卡中与个人业务相关的服务不可用",
}
ELECTRONIC_NOT_ISSUED_TEXT = "您尚未领取电子社保卡，可在领取实体卡后通过电子社保卡渠道申领"

# Production progress: (stage, Card column holding its date, what the caller hears), in order.
STAGES = (
    ("applied", "applied_on", "申领已受理，正在制卡"),
    ("produced", "produced_on", "制卡已完成，等待寄出或领取"),
    ("shipped", "shipped_on", "新卡已寄出，请注意查收"),
    ("collected", "collected_on", "已领取"),
    ("activated", "activated_on", "已启用"),
)


def effective_state(
    stored: CardState, temporary_loss_until: dt.datetime | None, now: dt.datetime
) -> CardState:
    if (
        temporary_loss_until is not None
        and now < temporary_loss_until
        and stored in TEMPORARY_LOSS_FROM
    ):
        return CardState.TEMPORARY_LOSS
    return stored


def released_state(activated_on: dt.date | None) -> CardState:
    """The state a card returns to when a counter releases its loss."""
    return CardState.NORMAL if activated_on is not None else CardState.SEALED


def temporary_loss_expiry(
    reported_at: dt.datetime, policy: LossPolicy, calendar: WorkCalendar, zone: ZoneInfo
) -> dt.datetime:
    """When a temporary loss reported at `reported_at` lapses.

    "days": exactly `duration` × 24 hours later (7 days = 168 h, whatever the calendar).
    "working_days": the same local time of day, `duration` working days later.
    """
    if policy.unit == "days":
        return reported_at + dt.timedelta(days=policy.duration)
    local = reported_at.astimezone(zone)
    day = calendar.add_working_days(local.date(), policy.duration)
    return dt.datetime.combine(day, local.timetz()).astimezone(dt.UTC)


def current_stage(dates: dict[str, dt.date | None]) -> tuple[str, str, dt.date]:
    """(stage, progress_text, date) of the latest stage reached, given each stage's date."""
    reached = [
        (stage, text, day) for stage, column, text in STAGES if (day := dates[column]) is not None
    ]
    return reached[-1]
