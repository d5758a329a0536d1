"""Store: the project database's tables (SQLAlchemy Core). Alembic migrations mirror these."""
from __future__ import annotations

import sqlalchemy as sa

from ..text.clean import clean_text

metadata = sa.MetaData()


class CleanText(sa.types.TypeDecorator):
    """Text a person types or a file names (a coder's name from the app's URL, a memo, a theme's
    label, a source's name): cleaned as import cleans answers (`nlp.text.clean.clean_text`)
    on every write and every comparison, so no path stores a control character, and on every
    read, so one an older version stored never reaches a terminal or a spreadsheet."""

    impl: type[sa.String] = sa.Text  # String, so CleanString may narrow it to VARCHAR(n)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return clean_text(value) if isinstance(value, str) else value

    def process_result_value(self, value, dialect):
        return clean_text(value) if isinstance(value, str) else value


class CleanString(CleanText):
    """`CleanText` in a column of bounded length (VARCHAR(n))."""

    impl = sa.String
    cache_ok = True

TS = sa.DateTime(timezone=True)

sources = sa.Table(
    "sources", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", CleanString(500), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("encoding", sa.String(20)),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("imported_at", TS, nullable=False),
)

responses = sa.Table(
    "responses", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("response_id", sa.String(200), nullable=False, unique=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=True, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False, index=True),
    sa.Column("location", sa.Integer),
    sa.Column("respondent_id", sa.String(200), index=True),
    sa.Column("question", sa.Text),
    sa.Column("meta", sa.JSON, nullable=False, default=dict),
    sa.Column("flag", sa.String(20)),
    # Migration 0004: an answer's neighbours in its source (source context); counting the
    # answers (flag NULL) from a small index instead of the texts' pages.
    sa.Index("ix_responses_source_location", "source_id", "location"),
    sa.Index("ix_responses_flag", "flag", "response_id"),
)

codebooks = sa.Table(
    "codebooks", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", CleanString(200), nullable=False),
    sa.Column("version", CleanString(50), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("yaml", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("name", "version", name="uq_codebook_version"),
)

themes = sa.Table(
    "themes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("codebook_id", sa.Integer, sa.ForeignKey("codebooks.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("theme_id", sa.String(64), nullable=False),
    sa.Column("label", CleanText, nullable=False),
    sa.Column("definition", CleanText, nullable=False),
    sa.Column("include", sa.JSON, nullable=False, default=list),
    sa.Column("exclude", sa.JSON, nullable=False, default=list),
    sa.UniqueConstraint("codebook_id", "theme_id", name="uq_theme_in_codebook"),
)

# The current state: one row per (response, theme, coder). The model is coder "model".
codings = sa.Table(
    "codings", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
              nullable=False),
    sa.Column("theme_id", sa.String(64), nullable=False),
    sa.Column("coder", CleanString(200), nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("confidence", sa.Float),
    sa.Column("updated_at", TS, nullable=False),
    # Migration 0003: the characters [span_start, span_end) of the answer the coding rests on
    # (the model's evidence sentence); NULL: the whole answer.
    sa.Column("span_start", sa.Integer, nullable=True),
    sa.Column("span_end", sa.Integer, nullable=True),
    # Migration 0004: every span a coder marked, [[start, end], ...] in order (span_start/
    # span_end above hold the first); NULL: the whole answer. One coding per (answer, theme,
    # coder) stays the rule: a coder's several spans of one theme are one decision.
    sa.Column("spans", sa.JSON, nullable=True),
    sa.UniqueConstraint("response_id", "theme_id", "coder", name="uq_coding"),
    sa.Index("ix_codings_theme_status", "theme_id", "status"),
    sa.Index("ix_codings_coder", "coder"),
    # Review app (migration 0002): who reviewed what, and theme filters, index-only.
    sa.Index("ix_codings_coder_response", "coder", "response_id"),
    sa.Index("ix_codings_theme_coder_conf", "theme_id", "coder", "confidence", "response_id"),
    # Migration 0004: the confidence band over every theme, and per-theme counts by coder.
    sa.Index("ix_codings_coder_conf", "coder", "confidence", "response_id"),
    sa.Index("ix_codings_coder_theme", "coder", "theme_id", "status"),
)

# Append-only: every change to `codings`, with the state before and after.
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", CleanString(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("response_id", sa.String(200), nullable=False),
    sa.Column("theme_id", sa.String(64), nullable=False),
    sa.Column("coder", CleanString(200), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("undoes", sa.Integer, nullable=True),
    sa.Index("ix_events_actor", "actor", "id"),
    # Migration 0004: undo finds what is already undone by index, not a scan of the log.
    sa.Index("ix_events_undoes", "undoes"),
)

# The model's latest scores for every theme of a response (codings hold only suggestions).
predictions = sa.Table(
    "predictions", metadata,
    sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
              primary_key=True),
    sa.Column("model_id", sa.String(200), nullable=False),
    sa.Column("scores", sa.JSON, nullable=False),
    sa.Column("uncertainty", sa.Float, nullable=False, default=0.0, index=True),
    sa.Column("updated_at", TS, nullable=False),
    # Review app (migration 0002): keyset paging of the most-informative-first queue.
    sa.Index("ix_predictions_uncertainty_rid", "uncertainty", "response_id"),
    # Migration 0005: the review order (the higher, the sooner): 1 + 1/rank for a ranked
    # answer, its uncertainty until one is ranked. The queue pages on it.
    sa.Column("priority", sa.Float, nullable=False, default=0.0, server_default="0"),
    sa.Index("ix_predictions_priority_rid", "priority", "response_id"),
)

# Migration 0005: the random checks mixed into the review order, each with the model's
# suggestions when it was drawn (what the researcher's decision is compared with).
review_checks = sa.Table(
    "review_checks", metadata,
    sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
              primary_key=True),
    sa.Column("model_id", sa.String(200), nullable=False),
    sa.Column("themes", sa.JSON, nullable=False),
    sa.Column("drawn_at", TS, nullable=False),
)

# Migration 0004: the same scores one row per (response, theme), so a confidence band on one
# theme is an index range instead of a pass over every stored score.
theme_scores = sa.Table(
    "theme_scores", metadata,
    sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
              primary_key=True),
    sa.Column("theme_id", sa.String(64), primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Index("ix_theme_scores_band", "theme_id", "score", "response_id"),
)

# Migration 0004: researchers' notes on an answer, a theme or the whole project.
memos = sa.Table(
    "memos", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("target", sa.String(20), nullable=False),  # answer | theme | project
    sa.Column("target_id", sa.String(200), nullable=False, default=""),  # "" for the project
    sa.Column("author", CleanString(200), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("text", CleanText, nullable=False),
    sa.Index("ix_memos_target", "target", "target_id", "id"),
)

# Project-wide values the toolkit keeps in the database (the anonymiser's placeholder
# numbering, issue 19: Store.placeholder_numbering).
settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.JSON),
)

# Migration 0006: each answer's anonymised text and the spans found in it (with the placeholder
# each got), computed once per anonymisation fingerprint (settings, rules, spaCy pipeline:
# nlp.text.anonymise.settings_fingerprint) and reused by every export and report; `text_hash`
# is the answer's text it was computed on (an answer whose text changed is computed again).
anonymised = sa.Table(
    "anonymised", metadata,
    sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
              primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("spans", sa.JSON, nullable=False),
    sa.Column("computed_at", TS, nullable=False),
    sa.Index("ix_anonymised_fingerprint", "fingerprint", "text_hash"),
)

# Migration 0006: the same for texts that are no answer's but go through the anonymiser in
# every export (free-text metadata values, respondent ids, memos, pieces of answers cut at
# coded spans), keyed by the text's hash.
anonymised_texts = sa.Table(
    "anonymised_texts", metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("text_hash", sa.String(64), primary_key=True),
    sa.Column("spans", sa.JSON, nullable=False),
    sa.Column("computed_at", TS, nullable=False),
)
