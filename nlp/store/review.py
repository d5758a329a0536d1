"""Store: the review app's queries (queue, filters, search, context) and its logged decisions.

Every query here answers from indexes with LIMIT or keyset paging, so the app stays fast at
100,000 responses (see evaluation/bench_app.py); no function loads the whole corpus.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping, Sequence

import sqlalchemy as sa

from .. import errors
from ..types import MODEL_CODER, Coding
from .changes import Row, researcher, row_spans
from .core import Store
from .schema import codebooks, codings, events, predictions, responses, sources, theme_scores

log = logging.getLogger(__name__)

StatusFilter = Literal["any", "unreviewed", "reviewed", "suggested", "accepted", "rejected"]
Order = Literal["informative", "import"]
STATUS_FILTERS: tuple[str, ...] = ("unreviewed", "any", "reviewed", "suggested", "accepted",
                                   "rejected")


@dataclass(frozen=True)
class QueueFilter:
    """Which responses the review queue shows, and in what order.

    `status` applies to `theme_id` when one is given, else to the response as a whole:
    unreviewed (no researcher decision; with a theme, a model suggestion of it that no
    researcher has decided on, or with a confidence band any score of it in the band), reviewed, suggested (a model suggestion no researcher
    has decided on), accepted or rejected (by a researcher). `coder` narrows the researcher
    side to one person (so "unreviewed" + coder is "not yet reviewed by me"); with status
    any/suggested it keeps responses that coder touched. The confidence band is the model's
    score for `theme_id` (with status "any", whether or not it reached a suggestion), or
    without a theme the confidence of any model suggestion.
    `order` "informative" is the review order (active learning, `nlp.store.review_order`):
    model-coded answers only, the tool's ranks first, then the most uncertain.
    """

    theme_id: str | None = None
    status: StatusFilter = "unreviewed"
    min_confidence: float | None = None
    max_confidence: float | None = None
    source_id: int | None = None
    coder: str | None = None
    text: str | None = None
    order: Order = "informative"


@dataclass(frozen=True)
class QueueItem:
    """One response in the queue; `key` is its position for keyset paging."""

    response_id: str
    text: str
    source: str
    location: int | None
    respondent_id: str | None
    question: str | None
    uncertainty: float | None
    key: tuple[Any, ...]


@dataclass(frozen=True)
class ReviewContext:
    """All the review card shows: the response, its neighbours, the model's scores and every
    coder's current decision per theme ({theme_id: {coder: status}})."""

    item: QueueItem
    flag: str | None
    before: tuple[str, ...]
    after: tuple[str, ...]
    scores: Mapping[str, float]
    decisions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    confidences: Mapping[str, float] = field(default_factory=dict)
    # {theme_id: {coder: ((start, end), ...)}}: the spans each coding rests on (the model's
    # evidence sentence included); a coding on the whole answer is absent.
    spans: Mapping[str, Mapping[str, tuple[tuple[int, int], ...]]] = field(default_factory=dict)
    blind: bool = False


# -- the queue ------------------------------------------------------------------------------
# Filters are uncorrelated `response_id IN (subquery)`: SQLite builds each set once from an
# index and probes it, so a selective filter never rescans codings per candidate row.
def _coded_ids(*, theme_id: str | None = None, coder: str | None = None, model: bool = False,
               status: str | None = None) -> sa.Select:
    """Ids of responses with a coding by the model, by `coder`, or by any researcher."""
    q = sa.select(codings.c.response_id)
    if model:
        q = q.where(codings.c.coder == MODEL_CODER)
    elif coder is not None:
        q = q.where(codings.c.coder == coder)
    else:
        q = q.where(researcher(codings))
    if theme_id is not None:
        q = q.where(codings.c.theme_id == theme_id)
    if status is not None:
        q = q.where(codings.c.status == status)
    return q


def _open_suggestion_ids(theme_id: str | None, coder: str | None) -> sa.Select:
    """Ids of responses with a model suggestion no researcher (or `coder`) has decided."""
    m, d = codings.alias("m"), codings.alias("d")
    decided = sa.select(sa.literal(1)).select_from(d).where(
        d.c.response_id == m.c.response_id, d.c.theme_id == m.c.theme_id,
        (d.c.coder == coder) if coder else researcher(d)).exists()
    q = sa.select(m.c.response_id).where(m.c.coder == MODEL_CODER, ~decided)
    return q.where(m.c.theme_id == theme_id) if theme_id is not None else q


def _band_ids(theme_id: str | None, lo: float, hi: float) -> sa.ColumnElement[bool]:
    """Responses whose model score (on `theme_id`, else on any suggested theme) is in
    [lo, hi], by index: a theme's scores, suggested or not, are rows of theme_scores; without
    a theme, the suggestions' confidences."""
    if theme_id is None:
        return responses.c.response_id.in_(sa.select(codings.c.response_id).where(
            codings.c.coder == MODEL_CODER, codings.c.confidence >= lo,
            codings.c.confidence <= hi))
    return responses.c.response_id.in_(sa.select(theme_scores.c.response_id).where(
        theme_scores.c.theme_id == theme_id, theme_scores.c.score >= lo,
        theme_scores.c.score <= hi))


def _conditions(flt: QueueFilter, conn: sa.Connection | None = None, *,
                counting: bool = False) -> list[sa.ColumnElement[bool]]:
    # Answers only. A count reads them from the (flag, response_id) index; a walk of the
    # queue's order must not (SQLite would drive from that index, then sort every answer:
    # 100 ms instead of 2), so there the test is one the index cannot serve. Flags are never
    # "".
    answer = responses.c.flag.is_(None) if counting else \
        sa.func.coalesce(responses.c.flag, "") == ""
    conds: list[sa.ColumnElement[bool]] = [answer]
    t, who = flt.theme_id, flt.coder
    rid = responses.c.response_id
    banded = flt.min_confidence is not None or flt.max_confidence is not None
    if flt.status == "unreviewed" and t is not None and not banded:
        # Not yet reviewed on this theme: the model suggested it and no researcher (or `coder`)
        # has decided on it. (Every answer nobody decided on would include those without any
        # suggestion of the theme: more than the unfiltered queue.)
        conds.append(rid.in_(_open_suggestion_ids(t, who)))
    elif flt.status == "unreviewed":
        # With a band, the band on the theme's score is the theme filter (near misses too).
        conds.append(rid.not_in(_coded_ids(theme_id=t, coder=who)))
    elif flt.status == "reviewed":
        conds.append(rid.in_(_coded_ids(theme_id=t, coder=who)))
    elif flt.status in ("accepted", "rejected"):
        conds.append(rid.in_(_coded_ids(theme_id=t, coder=who, status=flt.status)))
    elif flt.status == "suggested":
        conds.append(rid.in_(_open_suggestion_ids(t, who)))
    elif flt.status == "any":
        if t is not None and banded:
            pass  # the band on the theme's score is the theme filter (near misses included)
        elif t is not None and who is None:
            conds.append(rid.in_(sa.select(codings.c.response_id)
                                 .where(codings.c.theme_id == t)))
        elif t is not None:
            conds.append(rid.in_(_coded_ids(theme_id=t, model=True))
                         | rid.in_(_coded_ids(theme_id=t, coder=who)))
        elif who is not None:
            conds.append(rid.in_(_coded_ids(coder=who)))
    else:
        raise errors.unknown_status_filter(flt.status, list(STATUS_FILTERS))
    if flt.min_confidence is not None or flt.max_confidence is not None:
        lo = 0.0 if flt.min_confidence is None else flt.min_confidence
        hi = 1.0 if flt.max_confidence is None else flt.max_confidence
        conds.append(_band_ids(t, lo, hi))
    if flt.source_id is not None:
        conds.append(responses.c.source_id == flt.source_id)
    if flt.text and flt.text.strip():
        r2 = responses.alias("t")
        # A subquery, not a test on each row of the queue's walk: one scan of the texts costs
        # the same for any phrase, where the walk costs 0.3 ms for a common word but over a
        # second (random reads of every row) for a phrase nobody wrote. `_probe` first tries
        # the head of the walk.
        conds.append(rid.in_(sa.select(r2.c.response_id).where(
            _text_match(r2.c.text, flt.text, conn))))
    return conds


def _text_match(col: Any, text: str, conn: sa.Connection | None) -> sa.ColumnElement[bool]:
    """`text` anywhere in `col`, literally (% and _ are not wildcards), ignoring case."""
    pat = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # SQLite's LIKE ignores (ASCII) case by itself; ilike would lower() every text first.
    sqlite = conn is not None and conn.dialect.name == "sqlite"
    return (col.like if sqlite else col.ilike)(f"%{pat}%", escape="\\")


def _base(flt: QueueFilter, columns: Sequence[Any], conn: sa.Connection | None = None, *,
          filtered: bool = True) -> sa.Select:
    cols = [responses.c.response_id, responses.c.text, sources.c.name.label("source"),
            responses.c.location, responses.c.respondent_id, responses.c.question, *columns]
    frm: sa.FromClause
    if flt.order == "informative":
        frm = predictions.join(responses, responses.c.response_id == predictions.c.response_id)
        cols += [predictions.c.uncertainty, predictions.c.priority]
    else:
        frm = responses
        cols += [sa.null().label("uncertainty"), sa.null().label("priority")]
    frm = frm.outerjoin(sources, sources.c.id == responses.c.source_id)
    q = sa.select(*cols).select_from(frm)
    return q.where(*_conditions(flt, conn)) if filtered else q


def _item(row: Row, order: Order) -> QueueItem:
    key = ((row["priority"], row["response_id"]) if order == "informative"
           else (row["rowid"],))
    return QueueItem(response_id=row["response_id"], text=row["text"], source=row["source"] or "",
                     location=row["location"], respondent_id=row["respondent_id"],
                     question=row["question"], uncertainty=row["uncertainty"], key=key)


def _ordered(conn: sa.Connection, flt: QueueFilter, *, reverse: bool = False,
             after: Sequence[Any] | None = None) -> sa.Select:
    q = _base(flt, [responses.c.id.label("rowid")], conn)
    if flt.order == "informative":
        k = sa.tuple_(predictions.c.priority, predictions.c.response_id)
        cols = (predictions.c.priority, predictions.c.response_id)
        if after is not None:
            q = q.where(k > sa.tuple_(*after) if reverse else k < sa.tuple_(*after))
        return q.order_by(*(c.asc() if reverse else c.desc() for c in cols))
    if after is not None:
        q = q.where(responses.c.id < after[0] if reverse else responses.c.id > after[0])
    return q.order_by(responses.c.id.desc() if reverse else responses.c.id.asc())


PROBE_ROWS = 2000


def _probe(conn: sa.Connection, flt: QueueFilter, want: int, *, reverse: bool = False,
           after: Sequence[Any] | None = None) -> list[Row] | None:
    """For the filters that may match most answers (text search; a confidence band over any
    theme): the first `want` matches among the next PROBE_ROWS rows of the queue's walk
    without those filters, or None when there are fewer (then the full query decides). A
    common word or a wide band is answered from the head of the queue in a few ms, and they
    are the true first matches: every match lies in that head or after it."""
    text = flt.text if flt.text and flt.text.strip() else None
    band = flt.theme_id is None and (flt.min_confidence is not None
                                     or flt.max_confidence is not None)
    if not text and not band:
        return None
    rest = replace(flt, text=None)
    if band:
        rest = replace(rest, min_confidence=None, max_confidence=None)
    head = _ordered(conn, rest, reverse=reverse, after=after).limit(PROBE_ROWS).subquery("h")
    conds = []
    if text:
        conds.append(_text_match(head.c.text, text, conn))
    if band:
        lo = 0.0 if flt.min_confidence is None else flt.min_confidence
        hi = 1.0 if flt.max_confidence is None else flt.max_confidence
        # Only the answer's id may pick the index (its few codings): with the coder or the
        # confidence indexable, SQLite scanned every model suggestion for each row (13-30 s).
        conf = sa.func.coalesce(codings.c.confidence, -1.0)
        conds.append(sa.select(sa.literal(1)).where(
            codings.c.response_id == head.c.response_id,
            sa.func.coalesce(codings.c.coder, "") == MODEL_CODER, conf >= lo, conf <= hi
        ).exists())
    if flt.order == "informative":  # the walk's own order, as in _ordered
        order = [c.asc() if reverse else c.desc() for c in (head.c.priority,
                                                             head.c.response_id)]
    else:
        order = [head.c.rowid.desc() if reverse else head.c.rowid.asc()]
    rows = conn.execute(sa.select(head).where(*conds).order_by(*order).limit(want)
                        ).mappings().all()
    return list(rows) if len(rows) >= want else None


def queue_next(store: Store, flt: QueueFilter, *, after: Sequence[Any] | None = None
               ) -> QueueItem | None:
    """The first response of the queue after `after` (a QueueItem.key), or None at the end."""
    with store.read() as conn:
        rows = _probe(conn, flt, 1, after=after)
        row = rows[0] if rows else conn.execute(_ordered(conn, flt, after=after).limit(1)
                                                ).mappings().first()
    return _item(row, flt.order) if row else None


def queue_prev(store: Store, flt: QueueFilter, *, before: Sequence[Any]) -> QueueItem | None:
    """The response just before `before` in the queue's order, or None at the start."""
    with store.read() as conn:
        rows = _probe(conn, flt, 1, reverse=True, after=before)
        row = rows[0] if rows else conn.execute(
            _ordered(conn, flt, reverse=True, after=before).limit(1)).mappings().first()
    return _item(row, flt.order) if row else None


def queue_page(store: Store, flt: QueueFilter, *, offset: int = 0, limit: int = 20
               ) -> list[QueueItem]:
    """One page of the queue (for lists: quotes under a theme, search results)."""
    with store.read() as conn:
        probed = _probe(conn, flt, offset + limit)
        rows: Sequence[Row] = probed[offset:] if probed is not None else conn.execute(
            _ordered(conn, flt).limit(limit).offset(offset)).mappings().all()
    return [_item(r, flt.order) for r in rows]


def queue_count(store: Store, flt: QueueFilter) -> int:
    """How many responses match the filter."""
    with store.read() as conn:
        # Only the tables the filter needs: without the sources join (names are not
        # counted), "not yet reviewed" counts from indexes alone, never reading the texts.
        frm: Any = responses
        if flt.order == "informative":
            frm = predictions.join(responses,
                                   responses.c.response_id == predictions.c.response_id)
        q = sa.select(sa.func.count()).select_from(frm).where(
            *_conditions(flt, conn, counting=True))
        return int(conn.execute(q).scalar_one())


def has_predictions(store: Store) -> bool:
    """Whether the model has scored any response (the informative order needs it)."""
    with store.read() as conn:
        return conn.execute(sa.select(predictions.c.response_id).limit(1)).first() is not None


def find_item(store: Store, response_id: str, *, order: Order = "informative"
              ) -> QueueItem | None:
    """A response as a queue item, whatever the filter (to reopen it after a page refresh)."""
    q = _base(QueueFilter(order=order), [responses.c.id.label("rowid")], filtered=False
              ).where(responses.c.response_id == response_id)
    with store.read() as conn:
        row = conn.execute(q).mappings().first()
    if row is None and order == "informative":
        return find_item(store, response_id, order="import")
    return _item(row, order) if row else None


def review_context(store: Store, item: QueueItem, *, neighbours: int = 1,
                   coder: str | None = None, blind: bool = False) -> ReviewContext:
    """What the review card shows for `item`: neighbouring text from the same source,
    the model's scores, and each coder's decision per theme.

    Args:
        coder, blind: blind double coding: with `blind`, only the model's suggestions and
            `coder`'s own decisions are returned (no other researcher's), so a second coder
            is not swayed by the first.

    Raises:
        ValueError: blind without a coder.
    """
    if blind and not (coder or "").strip():
        raise errors.blind_needs_coder()
    r = responses
    with store.read() as conn:
        me = conn.execute(sa.select(r.c.id, r.c.source_id, r.c.flag).where(
            r.c.response_id == item.response_id)).mappings().one()
        same = (r.c.source_id == me["source_id"]) if me["source_id"] is not None \
            else r.c.source_id.is_(None)
        before = conn.execute(sa.select(r.c.text).where(same, r.c.id < me["id"])
                              .order_by(r.c.id.desc()).limit(neighbours)).scalars().all()
        after = conn.execute(sa.select(r.c.text).where(same, r.c.id > me["id"])
                             .order_by(r.c.id).limit(neighbours)).scalars().all()
        scores = conn.execute(sa.select(predictions.c.scores).where(
            predictions.c.response_id == item.response_id)).scalar()
        decisions: dict[str, dict[str, str]] = {}
        conf: dict[str, float] = {}
        spans: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {}
        q = sa.select(codings.c.theme_id, codings.c.coder, codings.c.status,
                      codings.c.confidence, codings.c.spans, codings.c.span_start,
                      codings.c.span_end).where(codings.c.response_id == item.response_id)
        if blind:
            q = q.where(codings.c.coder.in_([MODEL_CODER, coder]))
        for row in conn.execute(q.order_by(codings.c.id)).mappings():
            decisions.setdefault(row["theme_id"], {})[row["coder"]] = row["status"]
            if row_spans(row):
                spans.setdefault(row["theme_id"], {})[row["coder"]] = row_spans(row)
            if row["coder"] == MODEL_CODER and row["confidence"] is not None:
                conf[row["theme_id"]] = float(row["confidence"])
    return ReviewContext(item=item, flag=me["flag"], before=tuple(reversed(before)),
                         after=tuple(after), scores=dict(scores or {}), decisions=decisions,
                         confidences=conf, spans=spans, blind=blind)


def coding_spans(store: Store, response_id: str, theme_id: str, *, coder: str
                 ) -> tuple[tuple[int, int], ...] | None:
    """The spans `coder`'s coding of a theme on an answer rests on: () for the whole answer,
    None when that coder has no coding there."""
    with store.read() as conn:
        row = conn.execute(sa.select(codings.c.spans, codings.c.span_start, codings.c.span_end)
                           .where(codings.c.response_id == response_id,
                                  codings.c.theme_id == theme_id, codings.c.coder == coder)
                           ).mappings().first()
    return None if row is None else row_spans(row)


def visible_codings(store: Store, response_id: str, *, coder: str) -> list[Coding]:
    """Blind double coding: an answer's codings `coder` may see, the model's suggestions and
    their own decisions (no other researcher's)."""
    return [c for c in store.codings(response_id=response_id)
            if c.coder in (MODEL_CODER, coder)]


def reviewed_count(store: Store, *, coder: str | None = None) -> int:
    """Responses with at least one researcher decision (by `coder` when given)."""
    cond = (codings.c.coder == coder) if coder else researcher(codings)
    q = sa.select(sa.func.count(sa.distinct(codings.c.response_id))).where(cond)
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())


def list_coders(store: Store) -> list[str]:
    """Researchers who have coded anything, alphabetically (the model excluded)."""
    q = (sa.select(codings.c.coder).where(codings.c.coder != MODEL_CODER).distinct()
         .order_by(codings.c.coder))
    with store.read() as conn:
        return list(conn.execute(q).scalars())


def data_version(store: Store) -> tuple[int, int, int]:
    """Changes whenever codings, codebooks or responses change: a cache key for the app's
    slower summaries (last event id, active codebook, last response)."""
    with store.read() as conn:
        ev = conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
        cb = conn.execute(sa.select(sa.func.max(codebooks.c.id))
                          .where(codebooks.c.active.is_(True))).scalar() or 0
        n = conn.execute(sa.select(sa.func.max(responses.c.id))).scalar() or 0
    return int(ev), int(cb), int(n)
