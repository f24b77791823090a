"""Prompt edits of the supervisor console, with the recordings they need, shared by every node.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("prompt_id", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_change")),
    )
    op.create_index(
        op.f("ix_prompt_change_prompt_id"), "prompt_change", ["prompt_id"], unique=False
    )
    op.create_table(
        "prompt_recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("wav", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["prompt_change.id"],
            name=op.f("fk_prompt_recording_change_id_prompt_change"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_recording")),
    )
    op.create_index(
        op.f("ix_prompt_recording_change_id"), "prompt_recording", ["change_id"], unique=False
    )
    op.create_index(op.f("ix_prompt_recording_name"), "prompt_recording", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_prompt_recording_name"), table_name="prompt_recording")
    op.drop_index(op.f("ix_prompt_recording_change_id"), table_name="prompt_recording")
    op.drop_table("prompt_recording")
    op.drop_index(op.f("ix_prompt_change_prompt_id"), table_name="prompt_change")
    op.drop_table("prompt_change")
