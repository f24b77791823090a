"""Agents: SIP credentials (digest HA1s) of console users, the queue log, callback requests,
agents' call notes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_credential",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("realm", sa.String(length=64), nullable=False),
        sa.Column("ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_credential_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_credential")),
    )
    op.create_table(
        "queue_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_log")),
    )
    with op.batch_alter_table("queue_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_queue_log_queue"), ["queue"], unique=False)
        batch_op.create_index(batch_op.f("ix_queue_log_call_id"), ["call_id"], unique=False)
    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_request")),
    )
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_request_queue"), ["queue"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_callback_request_requested_at"), ["requested_at"], unique=False
        )
    op.create_table(
        "call_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_note")),
    )
    with op.batch_alter_table("call_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_note_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_table("call_note")
    op.drop_table("callback_request")
    op.drop_table("queue_log")
    op.drop_table("agent_credential")
