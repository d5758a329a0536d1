"""Classify stage: active learning (what to review next) and likely mistakes among decisions."""
from __future__ import annotations

import numpy as np


def uncertainty(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per answer, how close its most doubtful theme is to that theme's threshold (1 = on it,
    0 = certain). Distances are scaled so both sides of the threshold count the same."""
    if proba.size == 0:
        return np.zeros(len(proba))
    span = np.where(proba >= thresholds, 1 - thresholds, thresholds)
    closeness = 1 - np.abs(proba - thresholds) / np.maximum(span, 1e-6)
    return np.clip(closeness.max(1), 0, 1)


def rank_for_review(proba: np.ndarray, thresholds: np.ndarray, embeddings: np.ndarray, *,
                    n: int = 50, pool: int = 500, diversity: float = 0.5) -> np.ndarray:
    """Indices of the `n` answers a researcher should review next: uncertain, and unlike each
    other (greedy: uncertainty minus `diversity` x similarity to those already picked).

    Args:
        proba: (N, k) model probabilities.
        thresholds: (k,) per-theme thresholds.
        embeddings: (N, d) normalised embeddings, aligned with `proba`.
        n: how many to return.
        pool: how many of the most uncertain to choose among.
        diversity: weight of dissimilarity against uncertainty.
    """
    u = uncertainty(proba, thresholds)
    cand = np.argsort(-u, kind="stable")[:max(pool, n)]
    chosen: list[int] = []
    max_sim = np.zeros(len(cand))
    for _ in range(min(n, len(cand))):
        score = u[cand] - diversity * max_sim
        score[chosen] = -np.inf
        j = int(np.argmax(score))
        chosen.append(j)
        max_sim = np.maximum(max_sim, embeddings[cand] @ embeddings[cand[j]])
    return cand[chosen]


def likely_mistakes(oof_proba: np.ndarray, labels: np.ndarray, *, margin: float = 0.85
                    ) -> list[tuple[int, int, float]]:
    """Researcher decisions the model confidently disagrees with, from out-of-fold scores
    (the model never saw the decision it is judging).

    Returns:
        (row, theme index, model probability) for accepted themes the model gives under
        1 - `margin`, and for absent themes it gives over `margin`, most confident first.
    """
    out = []
    rows, cols = np.nonzero((labels == 1) & (oof_proba < 1 - margin))
    out += [(int(r), int(c), float(oof_proba[r, c])) for r, c in zip(rows, cols)]
    rows, cols = np.nonzero((labels == 0) & (oof_proba > margin))
    out += [(int(r), int(c), float(oof_proba[r, c])) for r, c in zip(rows, cols)]
    return sorted(out, key=lambda x: -abs(x[2] - 0.5))
