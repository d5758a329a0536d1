"""Store: the one write path for a coding: set or clear it and log the change (undoable).

Every researcher decision (review clicks, relabels, bulk decisions, .qdpx imports) and every
undo goes through `apply_change`; the model's bulk suggestions (`Store.write_model_codings`)
and codebook restructuring log the same event shape in bulk. An event's `before`/`after` is a
coding state: {"origin", "status", "confidence"} plus "spans" when the coding rests on marked
spans of the answer (absent: the whole answer).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from ..types import MODEL_CODER
from .schema import codings, events

Span = tuple[int, int]


def researcher(table: Any) -> sa.ColumnElement[bool]:
    """Any coder but the model, as two index ranges (`coder != 'model'` would scan the model's
    codings, most of the table)."""
    return (table.c.coder < MODEL_CODER) | (table.c.coder > MODEL_CODER)


def now() -> datetime:
    return datetime.now(timezone.utc)


def normalise_spans(spans: Sequence[Sequence[int]] | None, length: int | None = None, *,
                    where: str = "") -> tuple[Span, ...]:
    """Spans as sorted, non-overlapping (start, end) pairs, overlapping or touching ones
    joined; () for none (the whole answer).

    Raises:
        ValueError: a span that is not two whole numbers 0 <= start < end (<= `length`).
    """
    out: list[list[int]] = []
    for sp in sorted((tuple(s) for s in spans or ()), key=lambda s: tuple(s)):
        if len(sp) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in sp):
            raise ValueError(f"{where}a span is two whole numbers (start, end), not {sp!r}")
        a, b = sp
        if not 0 <= a < b or (length is not None and b > length):
            limit = f" <= {length} (the answer's length)" if length is not None else ""
            raise ValueError(f"{where}span ({a}, {b}) is not 0 <= start < end{limit}")
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def span_columns(spans: Sequence[Sequence[int]] | None) -> dict[str, Any]:
    """The coding columns that hold `spans` (span_start/span_end: the first one)."""
    sp = [list(s) for s in spans or ()]
    return {"spans": sp or None, "span_start": sp[0][0] if sp else None,
            "span_end": sp[0][1] if sp else None}


def row_spans(row: Mapping[str, Any]) -> tuple[Span, ...]:
    """A coding row's spans (the model's single evidence span included)."""
    if row.get("spans"):
        return tuple((int(a), int(b)) for a, b in row["spans"])
    if row.get("span_start") is not None and row.get("span_end") is not None:
        return ((int(row["span_start"]), int(row["span_end"])),)
    return ()


def coding_state(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a coding row the event log records as before/after."""
    if row is None:
        return None
    out = {"origin": row["origin"], "status": row["status"], "confidence": row["confidence"]}
    if row.get("spans"):
        out["spans"] = [list(s) for s in row["spans"]]
    return out


def apply_change(conn: sa.Connection, *, response_id: str, theme_id: str, coder: str,
                 after: Mapping[str, Any] | None, actor: str, action: str, at: datetime,
                 undoes: int | None = None) -> int:
    """Set one coding to `after` (a coding state; None deletes it) and log it, inside the
    caller's transaction. Events logged with one `at` by one actor are one user action, which
    `undo_last` takes back whole. Returns the event id."""
    row = conn.execute(sa.select(codings).where(
        codings.c.response_id == response_id, codings.c.theme_id == theme_id,
        codings.c.coder == coder)).mappings().first()
    before = coding_state(row)
    state = None if after is None else {
        "origin": after["origin"], "status": after["status"],
        "confidence": after.get("confidence"),
        **({"spans": [list(s) for s in after["spans"]]} if after.get("spans") else {})}
    if state is None:
        if row is not None:
            conn.execute(sa.delete(codings).where(codings.c.id == row["id"]))
    else:
        vals = {"origin": state["origin"], "status": state["status"],
                "confidence": state["confidence"], "updated_at": at,
                **span_columns(state.get("spans"))}
        if row is None:
            conn.execute(sa.insert(codings).values(response_id=response_id, theme_id=theme_id,
                                                   coder=coder, **vals))
        else:
            conn.execute(sa.update(codings).where(codings.c.id == row["id"]).values(**vals))
    res = conn.execute(sa.insert(events).values(
        at=at, actor=actor, action=action, response_id=response_id, theme_id=theme_id,
        coder=coder, before=before, after=state, undoes=undoes))
    return int(res.inserted_primary_key[0])
