"""Store: the review order (each answer's place in the review queue) and its random checks.

The classify stage ranks the unreviewed answers (`nlp.classify.active.review_order`); here the
ranks become `predictions.priority` (1 + 1/rank, above any uncertainty, so the queue's keyset
paging on (priority, response_id) follows the ranks), and the random checks among them are
kept in `review_checks` with the model's suggestions when each was drawn. A check a researcher
has decided on stays for good: it is one of the random checks the audit estimate rests on.
"""
from __future__ import annotations

from typing import Collection, Mapping

import sqlalchemy as sa

from ..types import MODEL_CODER, Coding
from .changes import now, researcher
from .core import Store
from ..resolve import resolve_codings
from .schema import codings, predictions, review_checks


def _decided_ids(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(codings.c.response_id).where(researcher(codings))
                            .distinct()).scalars())


def write_review_order(store: Store, ranks: Mapping[str, int], checks: Collection[str], *,
                       model_id: str) -> None:
    """Store a new review order in one transaction.

    Args:
        ranks: {response id: rank}, 1 = review first (the unreviewed answers).
        checks: the response ids among them drawn as random checks; each is stored with the
            model's suggestions it has now. Earlier checks nobody has decided on are dropped
            (this order draws its own); decided ones are kept.
    """
    with store.write() as conn:
        conn.execute(sa.update(predictions).values(priority=predictions.c.uncertainty))
        if ranks:
            ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            conn.exec_driver_sql(
                f"UPDATE {predictions.name} SET priority = {ph} WHERE response_id = {ph}",
                [(1.0 + 1.0 / int(r), rid) for rid, r in ranks.items()])
        decided = _decided_ids(conn)
        old = set(conn.execute(sa.select(review_checks.c.response_id)).scalars())
        stale = list(old - decided)
        for i in range(0, len(stale), 900):
            conn.execute(sa.delete(review_checks).where(
                review_checks.c.response_id.in_(stale[i:i + 900])))
        new = [rid for rid in dict.fromkeys(checks) if rid not in decided]
        suggested: dict[str, list[str]] = {rid: [] for rid in new}
        for i in range(0, len(new), 900):
            for rid, tid in conn.execute(sa.select(codings.c.response_id, codings.c.theme_id)
                                         .where(codings.c.coder == MODEL_CODER,
                                                codings.c.status == "suggested",
                                                codings.c.response_id.in_(new[i:i + 900]))
                                         .order_by(codings.c.id)):
                suggested[rid].append(tid)
        if new:
            t = now()
            conn.execute(sa.insert(review_checks), [
                {"response_id": rid, "model_id": model_id, "themes": suggested[rid],
                 "drawn_at": t} for rid in new])


def is_random_check(store: Store, response_id: str) -> bool:
    """Whether the answer is a random check of the review order."""
    with store.read() as conn:
        return conn.execute(sa.select(review_checks.c.response_id).where(
            review_checks.c.response_id == response_id)).first() is not None


def decided_checks(store: Store, theme_ids: Collection[str] | None = None
                   ) -> list[tuple[str, list[str], list[str]]]:
    """(response id, the model's suggestions when it was drawn, the themes researchers
    accepted) for every random check a researcher has decided on (the audit's data). With
    `theme_ids` (the active codebook), other themes are left out on both sides."""
    keep = set(theme_ids) if theme_ids is not None else None
    with store.read() as conn:
        rows = conn.execute(sa.select(review_checks.c.response_id, review_checks.c.themes)
                            .order_by(review_checks.c.drawn_at, review_checks.c.response_id)
                            ).all()
        ids = [r[0] for r in rows]
        mine: list[Coding] = []
        for i in range(0, len(ids), 900):
            for r in conn.execute(sa.select(codings).where(
                    researcher(codings), codings.c.response_id.in_(ids[i:i + 900]))
                    ).mappings():
                mine.append(Coding(response_id=r["response_id"], theme_id=r["theme_id"],
                                   coder=r["coder"], origin=r["origin"], status=r["status"]))
    accepted: dict[str, list[str]] = {}
    for (rid, tid), res in resolve_codings(mine).items():
        accepted.setdefault(rid, [])
        if res.status == "accepted" and (keep is None or tid in keep):
            accepted[rid].append(tid)
    return [(rid, [t for t in (themes or []) if keep is None or t in keep], accepted[rid])
            for rid, themes in rows if rid in accepted]
