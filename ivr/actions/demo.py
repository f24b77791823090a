"""Demo people and cards, one per caller journey, for `python -m ivr db seed-demo`.

The people are invented; their ID numbers are valid GB 11643 numbers (region, birth date and
check character all right) so the menus accept them. Dates are relative to the seeding day, so
a card "in production" is still in production whenever the demo is seeded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.actions.card_rules import CardState, temporary_loss_expiry
from ivr.actions.pin_hash import hash_pin
from ivr.actions.settings import ActionSettings
from ivr.id_number import check_character
from ivr.store.models import Card, LossReport, Person, PinCredential


@dataclass(frozen=True)
class DemoCard:
    state: CardState
    pin: str
    is_initial: bool
    # days ago of each production stage: applied, produced, shipped, collected, activated
    stage_days_ago: tuple[int, int | None, int | None, int | None, int | None]
    electronic: bool = True
    temporary_loss_days_ago: int | None = None
    pin_locked: bool = False


@dataclass(frozen=True)
class DemoPerson:
    first17: str
    name: str
    phone: str
    bank: str
    journey: str
    cards: tuple[DemoCard, ...]

    @property
    def id_number(self) -> str:
        return self.first17 + check_character(self.first17)

    @property
    def states_text(self) -> str:
        """The cards' states as a caller would hear them at seeding time."""
        return "/".join(
            "临时挂失" if card.temporary_loss_days_ago is not None else card.state.value
            for card in self.cards
        )


USED = (400, 380, 370, 360, 350)
IN_PRODUCTION = (2, None, None, None, None)
PRODUCED = (9, 3, None, None, None)
SHIPPED = (10, 5, 1, None, None)
COLLECTED_ONLY = (30, 25, 22, 20, None)

DEMO_PEOPLE = (
    DemoPerson(
        "36010219800312001", "张伟", "13900000001", "中国工商银行", "正常；修改密码",
        (DemoCard(CardState.NORMAL, "802461", False, USED),),
    ),
    DemoPerson(
        "41088119751120002", "李娜", "13900000002", "中国建设银行", "初始密码不能电话修改",
        (DemoCard(CardState.NORMAL, "123456", True, USED),),
    ),
    DemoPerson(
        "22040219900705003", "王芳", "13900000003", "中国农业银行", "封存：制卡中",
        (DemoCard(CardState.SEALED, "123456", True, IN_PRODUCTION, electronic=False),),
    ),
    DemoPerson(
        "51010419881009004", "刘洋", "13900000004", "中国银行", "封存：已寄出",
        (DemoCard(CardState.SEALED, "123456", True, SHIPPED, electronic=False),),
    ),
    DemoPerson(
        "11010519650228005", "陈静", "13900000005", "交通银行", "封存：已领取未启用",
        (DemoCard(CardState.SEALED, "123456", True, COLLECTED_ONLY),),
    ),
    DemoPerson(
        "36042119720815006", "杨磊", "13900000006", "中国邮政储蓄银行", "临时挂失中（再挂失）",
        (DemoCard(CardState.NORMAL, "730915", False, USED, temporary_loss_days_ago=2),),
    ),
    DemoPerson(
        "41010519580101007", "赵敏", "13900000007", "中国工商银行", "正式挂失",
        (DemoCard(CardState.FORMAL_LOSS, "620418", False, USED),),
    ),
    DemoPerson(
        "22010219830630008", "黄勇", "13900000008", "中国建设银行", "旧卡注销、新卡制作完成",
        (
            DemoCard(CardState.CANCELLED, "551902", False, (900, 890, 880, 870, 860)),
            DemoCard(CardState.SEALED, "123456", True, PRODUCED),
        ),
    ),
    DemoPerson(
        "51070319920214009", "周杰", "13900000009", "中国农业银行", "密码已锁定",
        (DemoCard(CardState.NORMAL, "904718", False, USED, pin_locked=True),),
    ),
    DemoPerson(
        "36010219790921023", "吴霞", "13900000010", "中国银行", "正常；末位X用*键",
        (DemoCard(CardState.NORMAL, "275903", False, USED),),
    ),
)  # fmt: skip


def seed_demo(
    session: Session, now: dt.datetime, settings: ActionSettings
) -> list[tuple[DemoPerson, bool]]:
    """Add the demo people not yet present; (person, added) for each, in table order."""
    today = now.astimezone(settings.timezone).date()
    report: list[tuple[DemoPerson, bool]] = []
    for serial, demo in enumerate(DEMO_PEOPLE, start=1):
        exists = session.scalar(select(Person.id).where(Person.id_number == demo.id_number))
        report.append((demo, exists is None))
        if exists is not None:
            continue
        person = Person(id_number=demo.id_number, name=demo.name, phone=demo.phone)
        session.add(person)
        for index, spec in enumerate(demo.cards):
            session.add(_card(person, spec, demo.bank, f"D{serial:04d}{index:04d}", now, today))
        session.flush()
        for card, spec in zip(person.cards, demo.cards, strict=True):
            session.add(
                PinCredential(
                    card_id=card.id,
                    pin_hash=hash_pin(spec.pin, settings.pin),
                    is_initial=spec.is_initial,
                    changed_at=now,
                )
            )
            if spec.temporary_loss_days_ago is not None:
                reported_at = now - dt.timedelta(days=spec.temporary_loss_days_ago)
                card.temporary_loss_until = temporary_loss_expiry(
                    reported_at, settings.temporary_loss, settings.calendar, settings.timezone
                )
                session.add(
                    LossReport(
                        card_id=card.id,
                        kind="temporary",
                        channel="ivr",
                        caller=demo.phone,
                        reported_at=reported_at,
                        expires_at=card.temporary_loss_until,
                    )
                )
    return report


def _card(
    person: Person, spec: DemoCard, bank: str, number: str, now: dt.datetime, today: dt.date
) -> Card:
    produced, shipped, collected, activated = (
        None if days is None else today - dt.timedelta(days=days)
        for days in spec.stage_days_ago[1:]
    )
    return Card(
        person=person,
        card_number=number,
        bank=bank,
        state=spec.state.value,
        pin_locked_at=now if spec.pin_locked else None,
        electronic_issued=spec.electronic,
        applied_on=today - dt.timedelta(days=spec.stage_days_ago[0]),
        produced_on=produced,
        shipped_on=shipped,
        collected_on=collected,
        activated_on=activated,
    )
