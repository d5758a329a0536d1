"""Store: each answer's anonymisation, computed once per anonymisation fingerprint (settings,
rules, spaCy pipeline) and reused by every export and report (migration 0006, issue 28).

A row is (response id, fingerprint): the text hash it was computed on, the anonymised text and
the spans found, each with the placeholder it got ([start, end, label, placeholder]). Rows of
an answer whose text has changed since are not returned; rows of another fingerprint are
dropped when rows of a new one are written (a change of settings recomputes every answer).

Other texts every export anonymises (free-text metadata values, respondent ids, memos, pieces
of answers cut at coded spans) are kept the same way, keyed by their hash (`anonymised_texts`).
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import sqlalchemy as sa

from ..types import text_hash
from .changes import now
from .core import Store
from .schema import anonymised, anonymised_texts, responses

log = logging.getLogger(__name__)

#: Rows written per transaction (a long run keeps what it has done if stopped).
BATCH_ROWS = 2000
_IN = 500  # values per IN (...) list


def stored_anonymised(store: Store, fingerprint: str) -> dict[str, list[list[Any]]]:
    """{text hash: span rows} of the answers anonymised under `fingerprint` whose text is still
    the one they were anonymised on, and of the other texts stored under it."""
    q = (sa.select(anonymised.c.text_hash, anonymised.c.spans)
         .select_from(anonymised.join(responses, sa.and_(
             responses.c.response_id == anonymised.c.response_id,
             responses.c.text_hash == anonymised.c.text_hash)))
         .where(anonymised.c.fingerprint == fingerprint))
    other = (sa.select(anonymised_texts.c.text_hash, anonymised_texts.c.spans)
             .where(anonymised_texts.c.fingerprint == fingerprint))
    with store.read() as conn:
        out = {h: list(spans) for h, spans in conn.execute(other)}
        out.update((h, list(spans)) for h, spans in conn.execute(q))
        return out


def anonymised_answers(store: Store, fingerprint: str,
                       response_ids: Sequence[str] | None = None) -> dict[str, str]:
    """{response id: anonymised text} stored under `fingerprint` (current texts only), for
    all answers or those named. The placeholders are those given when each was computed."""
    q = (sa.select(anonymised.c.response_id, anonymised.c.text)
         .select_from(anonymised.join(responses, sa.and_(
             responses.c.response_id == anonymised.c.response_id,
             responses.c.text_hash == anonymised.c.text_hash)))
         .where(anonymised.c.fingerprint == fingerprint))
    out: dict[str, str] = {}
    with store.read() as conn:
        if response_ids is None:
            return {rid: text for rid, text in conn.execute(q)}
        ids = list(dict.fromkeys(response_ids))
        for i in range(0, len(ids), _IN):
            out.update(conn.execute(q.where(anonymised.c.response_id.in_(ids[i:i + _IN]))))
    return out


def save_anonymised(store: Store, fingerprint: str,
                    found: Sequence[tuple[str, str, list[list[Any]]]]) -> int:
    """Store (text, anonymised text, span rows) under `fingerprint`, replacing what it had: for
    every answer whose text is one of those given, and for each other text by its hash. One
    transaction per BATCH_ROWS rows; the first also drops the rows of any other fingerprint.
    Returns how many answers were stored."""
    by_hash = {text_hash(text): (anon, spans) for text, anon, spans in found}
    hashes = list(by_hash)
    ids: list[tuple[str, str]] = []  # (response id, text hash)
    with store.read() as conn:
        for i in range(0, len(hashes), _IN):
            ids.extend((rid, h) for rid, h in conn.execute(
                sa.select(responses.c.response_id, responses.c.text_hash)
                .where(responses.c.text_hash.in_(hashes[i:i + _IN]))
                .order_by(responses.c.id)))
    answers = {h for _, h in ids}
    others = [h for h in hashes if h not in answers]
    if not hashes:
        return 0
    at = now()
    first = True
    for i in range(0, max(len(ids), len(others)), BATCH_ROWS):
        chunk = ids[i:i + BATCH_ROWS]
        texts = others[i:i + BATCH_ROWS]
        with store.write() as conn:
            if first:
                gone = conn.execute(sa.delete(anonymised).where(
                    anonymised.c.fingerprint != fingerprint)).rowcount
                conn.execute(sa.delete(anonymised_texts).where(
                    anonymised_texts.c.fingerprint != fingerprint))
                if gone:
                    log.info("dropped %d anonymised answers of other settings", gone)
                first = False
            rids = [rid for rid, _ in chunk]
            for j in range(0, len(rids), _IN):
                conn.execute(sa.delete(anonymised).where(
                    anonymised.c.fingerprint == fingerprint,
                    anonymised.c.response_id.in_(rids[j:j + _IN])))
            if chunk:
                conn.execute(sa.insert(anonymised), [
                    {"response_id": rid, "fingerprint": fingerprint, "text_hash": h,
                     "text": by_hash[h][0], "spans": by_hash[h][1], "computed_at": at}
                    for rid, h in chunk])
            for j in range(0, len(texts), _IN):
                conn.execute(sa.delete(anonymised_texts).where(
                    anonymised_texts.c.fingerprint == fingerprint,
                    anonymised_texts.c.text_hash.in_(texts[j:j + _IN])))
            if texts:
                conn.execute(sa.insert(anonymised_texts), [
                    {"fingerprint": fingerprint, "text_hash": h, "spans": by_hash[h][1],
                     "computed_at": at} for h in texts])
    log.info("stored the anonymisation of %d answers and %d other texts", len(ids), len(others))
    return len(ids)


def count_anonymised(store: Store, fingerprint: str | None = None) -> int:
    """How many answers' anonymisation is stored (under `fingerprint`, or any)."""
    q = sa.select(sa.func.count()).select_from(anonymised)
    if fingerprint is not None:
        q = q.where(anonymised.c.fingerprint == fingerprint)
    with store.read() as conn:
        return int(conn.execute(q).scalar_one())
