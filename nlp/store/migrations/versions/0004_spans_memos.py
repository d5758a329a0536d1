"""Several spans per coding, memos, the model's scores per theme (theme_scores), indexes for the review app's slower filters (the band
over every theme, per-theme counts, source context), and the unused `processed`/`settings`
tables dropped.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("codings") as batch:
        batch.add_column(sa.Column("spans", sa.JSON, nullable=True))
    op.execute("UPDATE codings SET spans = json_array(json_array(span_start, span_end)) "
               "WHERE span_start IS NOT NULL AND span_end IS NOT NULL"
               if op.get_bind().dialect.name == "sqlite" else
               "UPDATE codings SET spans = json_build_array(json_build_array(span_start, "
               "span_end)) WHERE span_start IS NOT NULL AND span_end IS NOT NULL")
    op.create_table(
        "memos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_memos_target", "memos", ["target", "target_id", "id"])
    op.create_index("ix_codings_coder_conf", "codings", ["coder", "confidence", "response_id"])
    op.create_index("ix_codings_coder_theme", "codings", ["coder", "theme_id", "status"])
    op.create_index("ix_responses_source_location", "responses", ["source_id", "location"])
    op.create_index("ix_events_undoes", "events", ["undoes"])
    op.create_index("ix_responses_flag", "responses", ["flag", "response_id"])
    op.create_table(
        "theme_scores",
        sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
                  primary_key=True),
        sa.Column("theme_id", sa.String(64), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.execute("INSERT INTO theme_scores (response_id, theme_id, score) "
               "SELECT p.response_id, j.key, j.value FROM predictions p, json_each(p.scores) j"
               if op.get_bind().dialect.name == "sqlite" else
               "INSERT INTO theme_scores (response_id, theme_id, score) "
               "SELECT p.response_id, j.key, (j.value #>> '{}')::float "
               "FROM predictions p, json_each(p.scores::json) j")
    op.create_index("ix_theme_scores_band", "theme_scores", ["theme_id", "score", "response_id"])
    # Never read or written by the toolkit (spaCy output and settings live elsewhere).
    op.drop_table("processed")
    op.drop_table("settings")


def downgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON),
    )
    op.create_table(
        "processed",
        sa.Column("text_hash", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(100), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.drop_index("ix_responses_flag", table_name="responses")
    op.drop_index("ix_events_undoes", table_name="events")
    op.drop_index("ix_responses_source_location", table_name="responses")
    op.drop_index("ix_codings_coder_theme", table_name="codings")
    op.drop_index("ix_codings_coder_conf", table_name="codings")
    op.drop_index("ix_theme_scores_band", table_name="theme_scores")
    op.drop_table("theme_scores")
    op.drop_index("ix_memos_target", table_name="memos")
    op.drop_table("memos")
    with op.batch_alter_table("codings") as batch:
        batch.drop_column("spans")
