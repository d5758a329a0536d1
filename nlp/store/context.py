"""Store: where an answer sits in its source (section heading, transcript turns around it,
the same respondent's other answers), from the provenance stored at import."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from .. import errors
from .core import Store
from .schema import responses, sources

Kind = Literal["transcript", "report", "table"]


@dataclass(frozen=True)
class ContextLine:
    """A neighbouring answer: its id, a short label (speaker, question) and its text."""

    response_id: str
    label: str
    text: str
    location: int | None = None


@dataclass(frozen=True)
class SourceContext:
    """An answer's place in its source.

    kind: "transcript" (a respondent's turn: `before`/`after` are the turns around it in line
    order, `question` the interviewer's turn before it), "report" (a quoted passage: `section`
    is the heading above it, `before`/`after` the nearest quotes under the same heading) or
    "table" (a row: `before`/`after` are the same respondent's other answers, by row).
    `where` reads like "interview.txt, line 12". Pages are not stored at import (a PDF's pages
    are joined), so none is given.
    """

    response_id: str
    kind: Kind
    source: str
    format: str
    where: str
    location: int | None
    respondent_id: str | None
    question: str | None
    section: str | None
    speaker: str | None
    before: tuple[ContextLine, ...] = ()
    after: tuple[ContextLine, ...] = ()


def _line(row: Any, kind: Kind) -> ContextLine:
    meta = row["meta"] or {}
    if kind == "transcript":
        label = str(meta.get("speaker") or row["respondent_id"] or "")
    elif kind == "table":
        label = str(row["question"] or f"row {row['location']}")
    else:
        label = str(row["respondent_id"] or "")
    return ContextLine(row["response_id"], label, row["text"], row["location"])


def source_context(store: Store, response_id: str, *, around: int = 2) -> SourceContext:
    """Where `response_id` sits in its source, with up to `around` neighbours each side.

    Raises:
        KeyError: no such response.
    """
    r = responses
    cols = [r.c.response_id, r.c.text, r.c.location, r.c.respondent_id, r.c.question,
            r.c.meta]
    with store.read() as conn:
        me = conn.execute(sa.select(r.c.id, r.c.source_id, r.c.location, r.c.respondent_id,
                                    r.c.question, r.c.meta, sources.c.name, sources.c.format)
                          .select_from(r.outerjoin(sources, sources.c.id == r.c.source_id))
                          .where(r.c.response_id == response_id)).mappings().first()
        if me is None:
            raise errors.answer_not_in_project(response_id)
        meta = me["meta"] or {}
        kind: Kind = ("transcript" if "speaker" in meta else
                      "report" if "section" in meta else "table")
        loc = me["location"] if me["location"] is not None else -1
        same_src = (r.c.source_id == me["source_id"]) if me["source_id"] is not None \
            else r.c.source_id.is_(None)
        key: sa.ColumnElement[Any]
        if kind == "table":
            if me["respondent_id"]:
                scope = [r.c.respondent_id == me["respondent_id"]]
            else:  # no respondent: nothing ties the rows together
                scope = [sa.false()]
            key = r.c.id
            pivot = me["id"]
        else:
            scope = [same_src]
            if kind == "report":
                scope.append(r.c.meta["section"].as_string() == str(meta.get("section")))
            key = sa.func.coalesce(r.c.location, -1)
            pivot = loc
        earlier = (key < pivot) | ((key == pivot) & (r.c.id < me["id"]))
        later = (key > pivot) | ((key == pivot) & (r.c.id > me["id"]))
        before = conn.execute(sa.select(*cols).where(*scope, earlier)
                              .order_by(key.desc(), r.c.id.desc()).limit(around)
                              ).mappings().all()
        after = conn.execute(sa.select(*cols).where(*scope, later)
                             .order_by(key, r.c.id).limit(around)).mappings().all()
    unit = "row" if kind == "table" else "line"
    name = me["name"] or "entered directly"
    where = f"{name}, {unit} {me['location']}" if me["location"] is not None else name
    return SourceContext(
        response_id=response_id, kind=kind, source=me["name"] or "", format=me["format"] or "",
        where=where, location=me["location"], respondent_id=me["respondent_id"],
        question=me["question"], section=(str(meta.get("section")) or None)
        if kind == "report" else None,
        speaker=str(meta.get("speaker")) if kind == "transcript" else None,
        before=tuple(_line(x, kind) for x in reversed(before)),
        after=tuple(_line(x, kind) for x in after))
