"""Classify stage: the review order of a coded consultation, for the project's review queue
and for file mode's `review_rank` (the ranking itself is `nlp.classify.active`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..types import Corpus
from .active import review_order
from .examples import Examples
from .model import Encoded


def confirmed_counts(theme_ids: Sequence[str], themes: Sequence[Sequence[str]]) -> np.ndarray:
    """(k,) how many of the reviewed answers carry each theme."""
    idx = {t: i for i, t in enumerate(theme_ids)}
    out = np.zeros(len(idx))
    for ts in themes:
        for t in ts:
            if t in idx:
                out[idx[t]] += 1
    return out


def file_review_order(corpus: Corpus, model, enc: Encoded, proba: np.ndarray,
                      ex: Examples) -> dict[str, int]:
    """{answer id: review_rank} for the answers of a file not among the examples' ids (the
    review order of `nlp.classify.active.review_order`, random checks included)."""
    reviewed = np.array([rid in ex.by_id for rid in corpus.ids], dtype=bool)
    confirmed = confirmed_counts(model.theme_ids_, ex.themes)
    # Ranked on the scores as written (4 places), so the order does not depend on how the
    # run was chunked (chunks agree to the last bit only after rounding).
    order = review_order(np.round(proba, 4), np.asarray(model.thresholds_), enc.whole,
                         reviewed=reviewed, confirmed=confirmed)
    ranks = order.ranks(len(corpus))
    return {rid: int(ranks[i]) for i, rid in enumerate(corpus.ids) if ranks[i] > 0}


def answers_review_order(model, answers: Corpus, enc: Encoded, reviewed_ids: Sequence[str],
                         reviewed_themes: Sequence[Sequence[str]]
                         ) -> tuple[dict[str, int], list[str]]:
    """Rank every answer no researcher has decided on for review (`review_order`, with its
    random checks) by the model's current scores.

    Returns:
        ({answer id: rank, 1 = review first}, the ids of the random checks).
    """
    if not len(answers):
        return {}, []
    proba = model.predict_proba(enc)
    reviewed_set = set(reviewed_ids)
    reviewed = np.array([rid in reviewed_set for rid in answers.ids], dtype=bool)
    confirmed = confirmed_counts(model.theme_ids_, reviewed_themes)
    order = review_order(proba, np.asarray(model.thresholds_), enc.whole, reviewed=reviewed,
                         confirmed=confirmed, seed=len(reviewed_set))
    ids = answers.ids
    return ({ids[j]: r for r, j in enumerate(order.order.tolist(), 1)},
            [ids[j] for j in order.order[order.audit].tolist()])
