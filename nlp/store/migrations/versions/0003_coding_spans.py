"""Coding spans: the characters of the answer a coding rests on (for the model, the sentence
that carries the theme best); NULL means the whole answer.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("codings") as batch:
        batch.add_column(sa.Column("span_start", sa.Integer, nullable=True))
        batch.add_column(sa.Column("span_end", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("codings") as batch:
        batch.drop_column("span_end")
        batch.drop_column("span_start")
