"""Store: the one write path for codings (`write_codings`): set or clear them and log each
change in the event log (undoable), and the store's one clock (`now`).

Every researcher decision (review clicks, relabels, bulk decisions, .qdpx imports), every
undo, the model's suggestions (`Store.write_model_codings`) and codebook restructuring
(rename, merge, split) write codings through `write_codings` and nothing else. An event's
`before`/`after` is a coding state: {"origin", "status", "confidence"} plus "spans" when the
coding rests on marked spans of the answer (absent: the whole answer).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence, overload

import sqlalchemy as sa

from .. import errors
from ..types import MODEL_CODER
from .schema import codings, events

Span = tuple[int, int]
Key = tuple[str, str, str]  # (response_id, theme_id, coder)
# A stored row as the store passes it around: a dict, or SQLAlchemy's RowMapping (whose keys
# may be a column as well as its name, so it is no Mapping[str, Any]).
Row = Mapping[Any, Any]
CHUNK = 900  # ids per IN (...): under SQLite's bound-parameter limit


def researcher(table: Any) -> sa.ColumnElement[bool]:
    """Any coder but the model, as two index ranges (`coder != 'model'` would scan the model's
    codings, most of the table)."""
    return (table.c.coder < MODEL_CODER) | (table.c.coder > MODEL_CODER)


def now() -> datetime:
    """The store's one clock: the time every row and event is stamped with (UTC)."""
    return datetime.now(timezone.utc)


def normalise_spans(spans: Sequence[Sequence[int]] | None, length: int | None = None, *,
                    where: str = "") -> tuple[Span, ...]:
    """Spans as sorted, non-overlapping (start, end) pairs, overlapping or touching ones
    joined; () for none (the whole answer).

    Raises:
        StoreRequestError: a span that is not two whole numbers 0 <= start < end (<= `length`).
    """
    out: list[list[int]] = []
    for sp in sorted((tuple(s) for s in spans or ()), key=lambda s: tuple(s)):
        if len(sp) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in sp):
            raise errors.span_not_two_numbers(where, sp)
        a, b = sp
        if not 0 <= a < b or (length is not None and b > length):
            raise errors.span_out_of_range(where, (a, b), length)
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


def row_spans(row: Row) -> tuple[Span, ...]:
    """A coding row's spans (the model's single evidence span included)."""
    if row.get("spans"):
        return tuple((int(a), int(b)) for a, b in row["spans"])
    if row.get("span_start") is not None and row.get("span_end") is not None:
        return ((int(row["span_start"]), int(row["span_end"])),)
    return ()


@overload
def coding_state(row: Row) -> dict[str, Any]: ...
@overload
def coding_state(row: None) -> None: ...
@overload
def coding_state(row: Row | None) -> dict[str, Any] | None: ...
def coding_state(row: Row | None) -> dict[str, Any] | None:
    """The part of a coding row the event log records as before/after."""
    if row is None:
        return None
    out = {"origin": row["origin"], "status": row["status"], "confidence": row["confidence"]}
    if row.get("spans"):
        out["spans"] = [list(s) for s in row["spans"]]
    return out


@dataclass(frozen=True)
class Change:
    """One coding set to `after` (a coding state; None deletes it), for `write_codings`.

    columns: the coding columns written, when not those `after` gives (the model keeps its
        evidence span in span_start/span_end; a moved coding keeps its own columns).
    logged: whether the change is logged (the model does not log a score that did not move).
    action: this change's action when not the call's (a decision that clears: "clear").
    undoes: the event this change takes back (an undo).
    """

    response_id: str
    theme_id: str
    coder: str
    after: Mapping[str, Any] | None
    columns: Mapping[str, Any] | None = None
    logged: bool = True
    action: str | None = None
    undoes: int | None = None

    @property
    def key(self) -> Key:
        return (self.response_id, self.theme_id, self.coder)


def _clean_state(after: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if after is None:
        return None
    return {"origin": after["origin"], "status": after["status"],
            "confidence": after.get("confidence"),
            **({"spans": [list(s) for s in after["spans"]]} if after.get("spans") else {})}


def _as_stored(key: Key, dialect: sa.Dialect) -> Key:
    """A coding's key as the table holds it (a coder's name is cleaned on every write and
    comparison, `schema.CleanText`), so a change meets the row it names."""
    cols = (codings.c.response_id, codings.c.theme_id, codings.c.coder)
    response_id, theme_id, coder = (c.type.process_bind_param(v, dialect)
                                    if isinstance(c.type, sa.types.TypeDecorator) else v
                                    for c, v in zip(cols, key))
    return response_id, theme_id, coder


def _current_rows(conn: sa.Connection, keys: Sequence[Key]) -> dict[Key, dict[str, Any]]:
    """The stored coding rows of `keys` (absent: no coding)."""
    want = set(keys)
    rids = sorted({k[0] for k in want})
    themes = sorted({k[1] for k in want})
    coders = sorted({k[2] for k in want})
    out: dict[Key, dict[str, Any]] = {}
    for i in range(0, len(rids), CHUNK):
        q = sa.select(codings).where(codings.c.response_id.in_(rids[i:i + CHUNK]))
        if len(themes) <= CHUNK:
            q = q.where(codings.c.theme_id.in_(themes))
        if len(coders) <= CHUNK:
            q = q.where(codings.c.coder.in_(coders))
        for row in conn.execute(q).mappings():
            key = (row["response_id"], row["theme_id"], row["coder"])
            if key in want:
                out[key] = dict(row)
    return out


def write_codings(conn: sa.Connection, changes: Sequence[Change], *, actor: str, action: str,
                  at: datetime, current: Mapping[Key, Mapping[str, Any]] | None = None) -> int:
    """THE writer of codings: set each change's coding and log it in the event log, inside
    the caller's transaction. Researchers' decisions, undo, .qdpx imports, the model's
    suggestions and codebook restructuring all write through here.

    Changes are applied in order (a coding changed twice logs two events, the second's
    `before` being the first's `after`); the table gets each coding's final state, in bulk.
    Events logged with one `at` by one actor are one user action, which `undo_last` takes
    back whole.

    Args:
        current: the stored rows of every coding `changes` touch ({(response_id, theme_id,
            coder): row}), when the caller has read them in this transaction; else they are
            read here.

    Returns:
        How many events were logged.
    """
    changes = list(changes)
    if not changes:
        return 0
    stored = dict(current) if current is not None else _current_rows(
        conn, [_as_stored(c.key, conn.dialect) for c in changes])
    state: dict[Key, dict[str, Any] | None] = {}
    final: dict[Key, Change] = {}
    evs: list[dict[str, Any]] = []
    for ch in changes:
        key = _as_stored(ch.key, conn.dialect)
        before = state[key] if key in state else coding_state(stored.get(key))
        after = _clean_state(ch.after)
        state[key] = after
        final[key] = ch
        if ch.logged:
            evs.append({"at": at, "actor": actor, "action": ch.action or action,
                        "response_id": key[0], "theme_id": key[1], "coder": key[2],
                        "before": before, "after": after, "undoes": ch.undoes})
    dels: list[int] = []
    ins: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    upd: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, ch in final.items():
        row, after = stored.get(key), state[key]
        if after is None:
            if row is not None:
                dels.append(row["id"])
            continue
        vals = dict(ch.columns) if ch.columns is not None else {
            "origin": after["origin"], "status": after["status"],
            "confidence": after["confidence"], **span_columns(after.get("spans"))}
        vals.setdefault("updated_at", at)
        if row is None:
            vals = {"response_id": key[0], "theme_id": key[1], "coder": key[2], **vals}
            ins.setdefault(tuple(sorted(vals)), []).append(vals)
        else:
            upd.setdefault(tuple(sorted(vals)), []).append({"_id": row["id"], **vals})
    for i in range(0, len(dels), CHUNK):
        conn.execute(sa.delete(codings).where(codings.c.id.in_(dels[i:i + CHUNK])))
    for rows in ins.values():
        conn.execute(sa.insert(codings), rows)
    for cols, rows in upd.items():
        conn.execute(sa.update(codings).where(codings.c.id == sa.bindparam("_id"))
                     .values({c: sa.bindparam(c) for c in cols}), rows)
    if evs:
        conn.execute(sa.insert(events), evs)
    return len(evs)


def apply_change(conn: sa.Connection, *, response_id: str, theme_id: str, coder: str,
                 after: Mapping[str, Any] | None, actor: str, action: str, at: datetime,
                 undoes: int | None = None) -> int:
    """Set one coding to `after` (a coding state; None deletes it) and log it, inside the
    caller's transaction (`write_codings` with one change). Returns events logged (1)."""
    return write_codings(conn, [Change(response_id, theme_id, coder, after, undoes=undoes)],
                         actor=actor, action=action, at=at)
