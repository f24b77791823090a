"""Initial schema: people, cards, PIN credentials, losses, PIN attempts, audit, call records.

Timestamps are naive UTC DateTime columns (`ivr.store.models.UtcDateTime` adds the zone).

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:28:33.526397
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("callee", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("menu_version", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_record")),
    )
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_record_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_record_started_at"), ["started_at"], unique=False)

    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("id_number", name=op.f("uq_person_id_number")),
    )
    op.create_table(
        "card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("card_number", sa.String(length=32), nullable=False),
        sa.Column("bank", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("temporary_loss_until", sa.DateTime(), nullable=True),
        sa.Column("pin_locked_at", sa.DateTime(), nullable=True),
        sa.Column("electronic_issued", sa.Boolean(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("produced_on", sa.Date(), nullable=True),
        sa.Column("shipped_on", sa.Date(), nullable=True),
        sa.Column("collected_on", sa.Date(), nullable=True),
        sa.Column("activated_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_card_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card")),
        sa.UniqueConstraint("card_number", name=op.f("uq_card_card_number")),
    )
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_person_id"), ["person_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("call_ref", sa.Text(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("masked_id_number", sa.String(length=18), nullable=True),
        sa.Column("masked_card_number", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_audit_log_card_id_card")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_card_id"), ["card_id"], unique=False)

    op.create_table(
        "loss_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("call_ref", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_loss_report_card_id_card")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loss_report")),
    )
    with op.batch_alter_table("loss_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loss_report_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            "ix_loss_report_open_expiry", ["ended_at", "expires_at"], unique=False
        )

    op.create_table(
        "pin_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("call_ref", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_pin_attempt_card_id_card")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pin_attempt")),
    )
    with op.batch_alter_table("pin_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pin_attempt_card_id"), ["card_id"], unique=False)

    op.create_table(
        "pin_credential",
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("is_initial", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card.id"], name=op.f("fk_pin_credential_card_id_card")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_pin_credential")),
    )


def downgrade() -> None:
    op.drop_table("pin_credential")
    with op.batch_alter_table("pin_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pin_attempt_card_id"))

    op.drop_table("pin_attempt")
    with op.batch_alter_table("loss_report", schema=None) as batch_op:
        batch_op.drop_index("ix_loss_report_open_expiry")
        batch_op.drop_index(batch_op.f("ix_loss_report_card_id"))

    op.drop_table("loss_report")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_card_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    with op.batch_alter_table("card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_person_id"))

    op.drop_table("card")
    op.drop_table("person")
    with op.batch_alter_table("call_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_record_started_at"))
        batch_op.drop_index(batch_op.f("ix_call_record_call_id"))

    op.drop_table("call_record")
