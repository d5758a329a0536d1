"""Store: the model's scores and suggestions for many answers, in one transaction (through
`Store.write_model_codings`): predictions, the theme_scores index and the model's codings,
the last through the one coding writer (`changes.write_codings`)."""
from __future__ import annotations

from typing import Any, Collection, Mapping

import sqlalchemy as sa

from ..types import MODEL_CODER
from .changes import CHUNK, Change, now, write_codings
from .schema import codings, predictions, theme_scores


def write(conn: sa.Connection, scores: Mapping[str, Mapping[str, float]],
          thresholds: Mapping[str, float], *, model_id: str,
          uncertainty: Mapping[str, float] | None = None,
          suggested: Mapping[str, Collection[str]] | None = None,
          evidence: Mapping[tuple[str, str], tuple[int, int]] | None = None) -> int:
    """`Store.write_model_codings` inside the caller's write transaction."""
    at = now()
    n = 0
    ids = list(scores)
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        conn.execute(sa.delete(predictions).where(predictions.c.response_id.in_(chunk)))
        conn.execute(sa.delete(theme_scores).where(
            theme_scores.c.response_id.in_(chunk)))
    if scores:
        conn.execute(sa.insert(predictions), [{
            "response_id": rid, "model_id": model_id, "scores": dict(s),
            "uncertainty": float((uncertainty or {}).get(rid, 0.0)),
            "priority": float((uncertainty or {}).get(rid, 0.0)), "updated_at": at}
            for rid, s in scores.items()])
        # One row per (answer, theme): 1.5 million at 100,000 answers and 15 themes,
        # so straight to the driver (SQLAlchemy's dict rows took twice as long).
        ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = (f"INSERT INTO {theme_scores.name} (response_id, theme_id, score) "
               f"VALUES ({ph}, {ph}, {ph})")
        batch: list[tuple[str, str, float]] = []
        for rid, s in scores.items():
            batch += [(rid, tid, float(p)) for tid, p in s.items()]
            if len(batch) >= 50_000:
                conn.exec_driver_sql(sql, batch)
                batch = []
        if batch:
            conn.exec_driver_sql(sql, batch)
    current: dict[tuple[str, str, str], dict[str, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        for row in conn.execute(sa.select(codings).where(
                codings.c.coder == MODEL_CODER,
                codings.c.response_id.in_(ids[i:i + CHUNK]))).mappings():
            current[(row["response_id"], row["theme_id"], MODEL_CODER)] = dict(row)
    changes: list[Change] = []
    for rid, s in scores.items():
        for tid, p in s.items():
            key = (rid, tid, MODEL_CODER)
            old = current.get(key)
            want = (tid in suggested.get(rid, ())) if suggested is not None \
                else p >= thresholds.get(tid, 0.5)
            span = (evidence or {}).get(key[:2]) or (None, None)
            cols = {"confidence": float(p), "updated_at": at,
                    "span_start": span[0], "span_end": span[1]}
            if want:
                after = {"origin": "model", "status": "suggested",
                         "confidence": float(p)}
                if old is None:
                    cols = {"origin": "model", "status": "suggested", **cols}
                moved = old is None or abs((old["confidence"] or 0) - p) > 1e-9
                changes.append(Change(rid, tid, MODEL_CODER, after, columns=cols,
                                      logged=moved))
                n += 1
            elif old is not None:
                changes.append(Change(rid, tid, MODEL_CODER, None))
    write_codings(conn, changes, actor=MODEL_CODER, action="model", at=at,
                  current=current)
    return n
