"""The relational schema: people, their cards, PIN credentials, losses, audit and call records,
and the published menu versions.

Rules the schema encodes:
- `Card.state` holds the card's *administrative* state (正常, 封存, 正式挂失, 注销), the one a
  counter sets. A temporary loss is not a stored state but a deadline, `temporary_loss_until`: the
  card *is* 临时挂失 while `now < temporary_loss_until` (see `ivr.actions.card_state`), so a
  temporary loss lapses on time with no job running.
- A PIN is kept only as a salted scrypt hash (`ivr.actions.pin_hash`); never the PIN itself.
- Audit and call records hold masked identifiers only (`ivr.masking`).
- Every timestamp is stored as UTC and read back timezone-aware, on SQLite as on PostgreSQL.
- Console users' passwords are scrypt hashes; their sessions are stored by token hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))

    cards: Mapped[list[Card]] = relationship(back_populates="person", order_by="Card.id")


class Card(Base):
    """One physical social-security card and its electronic twin.

    Production progress is a row of dates, one per stage (`ivr.actions.card_state.STAGES`); the
    latest stage with a date is where the card is.
    """

    __tablename__ = "card"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    bank: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    temporary_loss_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    pin_locked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    electronic_issued: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_on: Mapped[dt.date] = mapped_column(Date)
    produced_on: Mapped[dt.date | None] = mapped_column(Date)
    shipped_on: Mapped[dt.date | None] = mapped_column(Date)
    collected_on: Mapped[dt.date | None] = mapped_column(Date)
    activated_on: Mapped[dt.date | None] = mapped_column(Date)

    person: Mapped[Person] = relationship(back_populates="cards")
    pin: Mapped[PinCredential | None] = relationship(back_populates="card")


class PinCredential(Base):
    """The social-security application PIN of one card, as a self-describing scrypt hash."""

    __tablename__ = "pin_credential"

    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    is_initial: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    card: Mapped[Card] = relationship(back_populates="pin")


class LossReport(Base):
    """A temporary or formal loss; `ended_at` and `end_reason` close it (lapsed, released, ...)."""

    __tablename__ = "loss_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "temporary" | "formal"
    channel: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(Text)
    call_ref: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_loss_report_open_expiry", "ended_at", "expires_at"),)


class PinAttempt(Base):
    """Every PIN check by phone, right or wrong, for audit (the lock itself is on `Card`)."""

    __tablename__ = "pin_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    local_day: Mapped[dt.date] = mapped_column(Date)
    success: Mapped[bool] = mapped_column(Boolean)
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(Text)
    call_ref: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """One line per action taken, with masked identifiers only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(Text)
    call_ref: Mapped[str | None] = mapped_column(Text)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"), index=True)
    masked_id_number: Mapped[str | None] = mapped_column(String(18))
    masked_card_number: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class CallRecord(Base):
    """A call detail record, written through the CDR spool (`ivr.store.cdr_spool`)."""

    __tablename__ = "call_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(Text, index=True)
    caller: Mapped[str | None] = mapped_column(Text)
    callee: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    menu_version: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(64))


class MenuPublication(Base):
    """One menu version put live. The newest row of a menu is the version new calls start on, on
    every node; rows are never changed, so they are the menu's history, and a rollback publishes
    an older text again."""

    __tablename__ = "menu_publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    menu: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[str] = mapped_column(String(64))  # `MenuTree.version`, a hash of the text
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)  # the file it came from, or who rolled back
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    author: Mapped[str | None] = mapped_column(String(64))  # a console user; None: file or CLI
    message: Mapped[str | None] = mapped_column(Text)  # why, as the publisher wrote it


class User(Base):
    """Someone who logs in to the web consoles: role `agent` or `supervisor`.

    The password is kept only as a self-describing scrypt hash (`ivr.store.accounts`). Rows are
    disabled, never deleted, so the change log's usernames always name a row.

    Agents' SIP credentials (ivr/agents) belong in a table of their own that points here
    (`user_id` -> users.id, one row per agent: SIP username, realm, HA1 digests for MD5 and
    SHA-256), so one person has one account for the console and the softphone, and disabling
    the user disables both. `python -m ivr agents add` creates the user with role `agent`
    through `ivr.store.accounts.add_user` and its credential row in the same transaction.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # "agent" | "supervisor"
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A logged-in browser. Kept in the database so any node accepts it; `id` is the SHA-256 of
    the cookie's token, so the table alone never lets anyone in."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class ChangeLogEntry(Base):
    """Who changed what in the consoles or with the account commands, and when."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    username: Mapped[str] = mapped_column(String(64))  # who; "cli" for an operator's command
    action: Mapped[str] = mapped_column(String(64))  # e.g. "user.add", "menu.publish"
    target: Mapped[str] = mapped_column(String(255))  # what it acted on
    detail: Mapped[str | None] = mapped_column(Text)  # JSON; never a password or full ID number


class MenuDraft(Base):
    """A supervisor's unpublished edit of a menu, one per author and menu."""

    __tablename__ = "menu_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    menu: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("menu", "author", name="uq_menu_draft_menu_author"),)


class AgentCredential(Base):
    """An agent's SIP credential, beside its console account (`users`, role `agent`): the
    registrar checks REGISTERs against these digests; the digest username is the user's name,
    and disabling the user disables the phone too.

    Only HA1 values are kept (H(username:realm:password) for MD5 and for SHA-256, RFC 8760),
    never the password; they are bound to `realm`, so changing the realm needs new passwords.
    """

    __tablename__ = "agent_credential"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    realm: Mapped[str] = mapped_column(String(64))
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class QueueLogEntry(Base):
    """One event of a caller in an agent queue, like Asterisk's `queue_log`.

    `event`: enter, offer, no_answer, connect (wait_s), abandon (position, wait_s), exit_menu,
    transfer (detail: where to), complete (talk_s), callback_requested, callback_done. Numbers
    appear masked (`ivr.masking`) except the caller's own number, needed to call back.
    """

    __tablename__ = "queue_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str] = mapped_column(Text, index=True)
    event: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int | None] = mapped_column(Integer)
    wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    node: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class CallbackRequest(Base):
    """A caller who asked to be called back instead of waiting; agents work the list."""

    __tablename__ = "callback_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[str] = mapped_column(String(32))
    window: Mapped[str] = mapped_column(String(32))  # when the caller wants the call, as chosen
    call_id: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | calling | done | failed
    agent: Mapped[str | None] = mapped_column(String(32))
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class CallNote(Base):
    """What an agent wrote about a call, kept with the call record (by SIP Call-ID)."""

    __tablename__ = "call_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(Text, index=True)
    agent: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


class PromptChange(Base):
    """One prompt edit made in the supervisor console: a new text for a prompt, or a studio
    recording for one clip. Rows are never changed; the newest text of a prompt and the newest
    recording of a name are laid over the repository's prompt files and recordings by every
    node, and the highest id is the prompts' version."""

    __tablename__ = "prompt_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    author: Mapped[str] = mapped_column(String(64))
    prompt_id: Mapped[str | None] = mapped_column(String(128), index=True)  # a text change
    text: Mapped[str | None] = mapped_column(Text)  # the prompt's new template


class PromptRecording(Base):
    """The 8 kHz mono 16-bit WAV of one recording a prompt change needs: `studio/<clip name>`
    for an uploaded recording, `tts/<text hash>` for one synthesized for a new text (so no other
    node needs espeak-ng)."""

    __tablename__ = "prompt_recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("prompt_change.id"), index=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary)
