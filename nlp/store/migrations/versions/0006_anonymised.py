"""Stored anonymisation: each answer's anonymised text and spans (with their placeholders),
computed once per anonymisation fingerprint and reused by every export and report
(`anonymised`), and of other texts every export anonymises (`anonymised_texts`),
keyed by their hash (issue 28).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anonymised",
        sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
                  primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )
    op.create_index("ix_anonymised_fingerprint", "anonymised", ["fingerprint", "text_hash"])
    op.create_table(
        "anonymised_texts",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("spans", sa.JSON, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("anonymised_texts")
    op.drop_index("ix_anonymised_fingerprint", "anonymised")
    op.drop_table("anonymised")
