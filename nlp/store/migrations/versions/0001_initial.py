"""Initial schema: sources, responses, codebooks, themes, codings, events, predictions,
processed, settings.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("encoding", sa.String(20)),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("response_id", sa.String(200), nullable=False, unique=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("location", sa.Integer),
        sa.Column("respondent_id", sa.String(200)),
        sa.Column("question", sa.Text),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("flag", sa.String(20)),
    )
    op.create_index("ix_responses_source_id", "responses", ["source_id"])
    op.create_index("ix_responses_text_hash", "responses", ["text_hash"])
    op.create_index("ix_responses_respondent_id", "responses", ["respondent_id"])
    op.create_table(
        "codebooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_codebook_version"),
    )
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("codebook_id", sa.Integer, sa.ForeignKey("codebooks.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("theme_id", sa.String(64), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("include", sa.JSON, nullable=False),
        sa.Column("exclude", sa.JSON, nullable=False),
        sa.UniqueConstraint("codebook_id", "theme_id", name="uq_theme_in_codebook"),
    )
    op.create_index("ix_themes_codebook_id", "themes", ["codebook_id"])
    op.create_table(
        "codings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
                  nullable=False),
        sa.Column("theme_id", sa.String(64), nullable=False),
        sa.Column("coder", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("response_id", "theme_id", "coder", name="uq_coding"),
    )
    op.create_index("ix_codings_theme_status", "codings", ["theme_id", "status"])
    op.create_index("ix_codings_coder", "codings", ["coder"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False),
        sa.Column("theme_id", sa.String(64), nullable=False),
        sa.Column("coder", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
        sa.Column("undoes", sa.Integer, nullable=True),
    )
    op.create_index("ix_events_actor", "events", ["actor", "id"])
    op.create_table(
        "predictions",
        sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
                  primary_key=True),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("uncertainty", sa.Float, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_predictions_uncertainty", "predictions", ["uncertainty"])
    op.create_table(
        "processed",
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(100), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON),
    )


def downgrade() -> None:
    for name in ("settings", "processed", "predictions", "events", "codings", "themes",
                 "codebooks", "responses", "sources"):
        op.drop_table(name)
