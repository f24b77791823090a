"""Menu publications: every menu version put live, newest last, shared by all IVR nodes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "menu_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("menu", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_menu_publication")),
    )
    with op.batch_alter_table("menu_publication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_menu_publication_menu"), ["menu"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("menu_publication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_menu_publication_menu"))
    op.drop_table("menu_publication")
