"""Store: researchers' decisions (one click, a relabel, a bulk decision) and their undo.

Each call is one transaction and one user action: its events share one timestamp, so
`undo_last` takes the whole action back (a relabel's reject and accept together).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from .. import errors
from ..types import MODEL_CODER
from .changes import Change, Span, normalise_spans, now, row_spans, write_codings
from .core import Store
from .schema import codings, events, responses

log = logging.getLogger(__name__)

STATUSES = (None, "suggested", "accepted", "rejected")


@dataclass(frozen=True)
class Decision:
    """A coder's call on one theme: a status, or None to clear their coding.

    `spans`: the characters [start, end) of the answer the theme rests on (one or more
    sentences); empty: the whole answer. A coder has one decision per (answer, theme):
    several spans of one theme are one coding, and deciding again replaces them.
    """

    theme_id: str
    status: str | None
    origin: str = "researcher"
    confidence: float | None = None
    spans: Sequence[Span] = ()


def _check(store: Store, conn: sa.Connection, coder: str,
           decisions: Sequence[Decision]) -> None:
    """Refuse a bad request before anything is written; the codebook is read in `conn`."""
    if not coder.strip() or coder == MODEL_CODER:
        raise errors.coder_needed(MODEL_CODER)
    known = set(store.active_codebook(conn).theme_ids)
    for d in decisions:
        if d.theme_id not in known:
            raise errors.theme_not_in_codebook(d.theme_id)
        if d.status not in STATUSES:
            raise errors.bad_status(d.status)
        if d.origin not in ("model", "researcher"):
            raise errors.bad_origin(d.origin)


def _apply_all(conn: sa.Connection, by_response: Mapping[str, Sequence[Decision]], *,
               coder: str, action: str, at: datetime) -> int:
    lengths = dict(conn.execute(sa.select(responses.c.response_id,
                                          sa.func.length(responses.c.text))
                                .where(responses.c.response_id.in_(list(by_response)))).all())
    changes = []
    for rid, decisions in by_response.items():
        if rid not in lengths:
            raise errors.answer_not_in_project(rid)
        for d in decisions:
            spans = normalise_spans(d.spans, lengths[rid], where=f"answer {rid!r}, theme "
                                                                  f"{d.theme_id!r}: ")
            after = None if d.status is None else {
                "origin": d.origin, "status": d.status, "confidence": d.confidence,
                "spans": spans}
            changes.append(Change(rid, d.theme_id, coder, after,
                                  action=None if after else "clear"))
    return write_codings(conn, changes, actor=coder, action=action, at=at)


def _record(store: Store, conn: sa.Connection, response_id: str,
            decisions: Sequence[Decision], *, coder: str) -> int:
    """record_decisions inside the caller's write transaction."""
    _check(store, conn, coder, decisions)
    if not decisions:
        return 0
    return _apply_all(conn, {response_id: decisions}, coder=coder, action="set", at=now())


def record_decisions(store: Store, response_id: str, decisions: Sequence[Decision], *,
                     coder: str) -> int:
    """Apply one click's decisions in one transaction (logged with one timestamp, so
    `undo_last` takes them back together). Returns how many codings changed.

    Raises:
        KeyError: no such response.
        StoreRequestError: an empty coder name, a bad status or span, or a theme not in the
            codebook.
    """
    with store.write() as conn:
        return _record(store, conn, response_id, decisions, coder=coder)


def bulk_decisions(store: Store, response_ids: Sequence[str], decisions: Sequence[Decision],
                   *, coder: str) -> int:
    """The same decisions on many answers (a selection of the list view) as one action:
    one transaction, one undo. Returns how many codings changed.

    Raises:
        KeyError: an unknown response (nothing is written).
        StoreRequestError: as record_decisions; spans are refused (they belong to one answer).
    """
    ids = list(dict.fromkeys(response_ids))
    at = now()  # one moment for every chunk: one action, one undo
    with store.write() as conn:
        _check(store, conn, coder, decisions)
        if any(d.spans for d in decisions):
            raise errors.spans_need_one_answer()
        if not ids or not decisions:
            return 0
        n = 0
        for i in range(0, len(ids), 900):
            n += _apply_all(conn, {rid: decisions for rid in ids[i:i + 900]}, coder=coder,
                            action="bulk", at=at)
    log.info("%s: %d decisions on %d answers", coder, n, len(ids))
    return n


def code_spans(store: Store, response_id: str, theme_id: str, spans: Sequence[Span], *,
               coder: str, status: str = "accepted") -> int:
    """Apply (or reject) a theme on one or more spans of an answer, as one action. Keeps the
    model's origin and confidence when it suggested the theme there; () is the whole answer.

    Raises:
        KeyError: no such response.
        StoreRequestError: a span outside the answer, or as record_decisions.
    """
    with store.write() as conn:  # one transaction: the model's coding read inside it
        model = conn.execute(sa.select(codings.c.confidence).where(
            codings.c.response_id == response_id, codings.c.theme_id == theme_id,
            codings.c.coder == MODEL_CODER)).first()
        return _record(store, conn, response_id, [Decision(
            theme_id, status, "model" if model else "researcher",
            model[0] if model else None, tuple(spans))], coder=coder)


def relabel(store: Store, response_id: str, from_theme: str, to_theme: str, *, coder: str,
            spans: Sequence[Span] | None = None) -> int:
    """Move an answer (or the spans of it) from one theme to another as one action: reject
    `from_theme`, accept `to_theme`, in one transaction that one `undo_last` reverts whole.

    Args:
        spans: the spans the new theme rests on; None keeps those `coder` (else the model)
            marked for `from_theme`; () is the whole answer.

    Raises:
        KeyError: no such response.
        StoreRequestError: the same theme twice, or as record_decisions.
    """
    if from_theme == to_theme:
        raise errors.relabel_same_theme(from_theme)
    # One connection, one transaction: the spans are read inside the write that uses them,
    # so another reviewer's change between the read and the write cannot slip in.
    with store.write() as conn:
        if spans is None:
            rows = {r["coder"]: r for r in conn.execute(sa.select(codings).where(
                codings.c.response_id == response_id, codings.c.theme_id == from_theme,
                codings.c.coder.in_([coder, MODEL_CODER]))).mappings()}
            row = rows.get(coder) or rows.get(MODEL_CODER)
            spans = row_spans(row) if row is not None else ()
        return _record(store, conn, response_id, [
            Decision(from_theme, "rejected"),
            Decision(to_theme, "accepted", spans=tuple(spans))], coder=coder)


def undo_last(store: Store, actor: str) -> list[dict[str, Any]]:
    """Undo `actor`'s last action: every not-yet-undone event it logged at that same moment
    (one click, a relabel, a bulk decision, a merge). Logged as "undo" events. Returns the
    events undone, newest first (empty when there is nothing to undo)."""
    with store.write() as conn:
        undone = sa.select(events.c.undoes).where(events.c.undoes.is_not(None))
        live = sa.select(events).where(events.c.actor == actor, events.c.action != "undo",
                                       events.c.id.not_in(undone))
        last = conn.execute(live.order_by(events.c.id.desc()).limit(1)).mappings().first()
        if last is None:
            return []
        group = [dict(e) for e in conn.execute(
            live.where(events.c.at == last["at"]).order_by(events.c.id.desc())).mappings()]
        write_codings(conn, [Change(ev["response_id"], ev["theme_id"], ev["coder"],
                                    ev["before"], undoes=int(ev["id"])) for ev in group],
                      actor=actor, action="undo", at=now())
    return group
