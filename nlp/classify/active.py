"""Classify stage: active learning (what to review next) and likely mistakes among decisions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIT_EVERY = 5  # every 5th answer of the review order is a random check (0: none)
POOL = 2_000  # the most informative answers the diverse greedy chooses among
DIVERSITY = 0.5  # weight of similarity to answers already picked or reviewed
REVIEWED_SAMPLE = 1_000  # reviewed answers the greedy keeps away from (a seeded sample)
COVERAGE_BATCH = 10  # picks between updates of the themes' coverage weights
CHECKS_HEAD = 10_000  # random checks are mixed into this many first places (ranked again
# after every refit, so a review never runs past them)


def closeness(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N, k): how close each score is to its theme's threshold (1 = on it, 0 = certain).
    Distances are scaled so both sides of the threshold count the same."""
    span = np.where(proba >= thresholds, 1 - thresholds, thresholds)
    return np.clip(1 - np.abs(proba - thresholds) / np.maximum(span, 1e-6), 0, 1)


def uncertainty(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per answer, how close its most doubtful theme is to that theme's threshold (1 = on it,
    0 = certain)."""
    if proba.size == 0:
        return np.zeros(len(proba))
    return closeness(proba, thresholds).max(1)


def theme_weights(confirmed: np.ndarray) -> np.ndarray:
    """(k,) priority of each theme: 1 / sqrt(1 + answers confirmed with it), so a theme with
    few confirmations counts most and one with many still counts."""
    return 1.0 / np.sqrt(1.0 + np.maximum(np.asarray(confirmed, dtype=float), 0.0))


def informativeness(proba: np.ndarray, thresholds: np.ndarray,
                    confirmed: np.ndarray | None = None) -> np.ndarray:
    """(N,) what reviewing each answer is worth: its most doubtful theme, weighted by how few
    confirmations that theme has, plus the mean weighted doubt over all its themes (an answer
    in doubt on several themes teaches several)."""
    if proba.size == 0:
        return np.zeros(len(proba))
    k = proba.shape[1]
    w = theme_weights(np.zeros(k) if confirmed is None else confirmed)
    wc = closeness(proba, thresholds) * (w / w.max())
    return wc.max(1) + wc.sum(1) / k


@dataclass(frozen=True)
class ReviewOrder:
    """The order in which to review the unreviewed answers.

    `order[r]` is the answer (row index) to review at rank r + 1; `audit[r]` is True where
    that answer is a random check (drawn uniformly from the answers not placed before it),
    which is what lets the model's agreement be estimated without the order's bias."""

    order: np.ndarray
    audit: np.ndarray

    def ranks(self, n: int) -> np.ndarray:
        """(n,) rank of each answer, 1 = review first; 0 for an answer not ranked."""
        r = np.zeros(n, dtype=np.int64)
        r[self.order] = np.arange(1, len(self.order) + 1)
        return r


def review_order(proba: np.ndarray, thresholds: np.ndarray, embeddings: np.ndarray, *,
                 reviewed: np.ndarray | None = None, confirmed: np.ndarray | None = None,
                 audit_every: int = AUDIT_EVERY, seed: int = 0, pool: int = POOL,
                 diversity: float = DIVERSITY) -> ReviewOrder:
    """Rank every unreviewed answer for review (continuous active learning).

    The `pool` most informative answers (see `informativeness`) are ordered greedily: each
    pick is the most informative answer net of `diversity` x its similarity to the answers
    picked or reviewed before it; every COVERAGE_BATCH picks the themes those picks will
    likely confirm count as confirmed, so the next picks turn to other themes. The rest
    follow by informativeness. Then every `audit_every`-th place goes to a random check.
    Deterministic for a given `seed`.

    Args:
        proba: (N, k) model probabilities; thresholds: (k,) per-theme thresholds.
        embeddings: (N, d) normalised answer vectors aligned with `proba`.
        reviewed: (N,) bool, answers a researcher has decided on (never ranked).
        confirmed: (k,) answers confirmed with each theme so far.
    """
    n = len(proba)
    k = proba.shape[1] if proba.ndim == 2 else 0
    reviewed = np.zeros(n, bool) if reviewed is None else np.asarray(reviewed, bool)
    conf = np.zeros(k) if confirmed is None else np.asarray(confirmed, float).copy()
    todo = np.flatnonzero(~reviewed)
    if len(todo) == 0:
        return ReviewOrder(np.zeros(0, np.int64), np.zeros(0, bool))
    score = informativeness(proba[todo], thresholds, conf)
    by_score = todo[np.argsort(-score, kind="stable")]
    cand = by_score[:pool]
    rng = np.random.default_rng(seed)
    E = _unit(embeddings[cand])
    max_sim = np.zeros(len(cand), np.float32)
    done = np.flatnonzero(reviewed)
    if len(done):
        if len(done) > REVIEWED_SAMPLE:
            done = np.sort(rng.choice(done, REVIEWED_SAMPLE, replace=False))
        max_sim = np.maximum(max_sim, (E @ _unit(embeddings[done]).T).max(1))
    gram = E @ E.T
    P, C = proba[cand], closeness(proba[cand], thresholds)
    s = informativeness(P, thresholds, conf)
    taken = np.zeros(len(cand), bool)
    picked: list[int] = []
    for step in range(len(cand)):
        if step and step % COVERAGE_BATCH == 0:
            conf += P[picked[-COVERAGE_BATCH:]].sum(0)
            w = theme_weights(conf)
            wc = C * (w / w.max())
            s = wc.max(1) + wc.sum(1) / max(k, 1)
        net = np.where(taken, -np.inf, s - diversity * max_sim)
        j = int(np.argmax(net))
        taken[j] = True
        picked.append(j)
        np.maximum(max_sim, gram[j], out=max_sim)
    head = cand[picked]
    informative = np.concatenate([head, by_score[len(cand):]])
    return _with_checks(informative, audit_every, rng)


def rank_for_review(proba: np.ndarray, thresholds: np.ndarray, embeddings: np.ndarray, *,
                    n: int = 50, pool: int = POOL, diversity: float = DIVERSITY) -> np.ndarray:
    """Indices of the `n` answers to review next (the head of `review_order`, no random
    checks)."""
    return review_order(proba, thresholds, embeddings, audit_every=0, pool=pool,
                        diversity=diversity).order[:n]


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _with_checks(informative: np.ndarray, every: int, rng: np.random.Generator) -> ReviewOrder:
    """Every `every`-th place (5, 10, ...) of the first CHECKS_HEAD to an answer drawn at
    random among those not yet placed; the other places follow `informative`."""
    n = len(informative)
    if every <= 0 or n == 0:
        return ReviewOrder(informative.astype(np.int64), np.zeros(n, bool))
    order = np.empty(n, np.int64)
    audit = np.zeros(n, bool)
    placed = np.zeros(int(informative.max()) + 1, bool)
    shuffled = rng.permutation(informative)
    head = min(n, CHECKS_HEAD)
    a = b = 0  # next of `informative`, next of `shuffled`
    for r in range(head):
        if (r + 1) % every == 0:
            while placed[shuffled[b]]:
                b += 1
            x, audit[r] = shuffled[b], True
        else:
            while placed[informative[a]]:
                a += 1
            x = informative[a]
        order[r] = x
        placed[x] = True
    if head < n:  # beyond the head (more than anyone reviews at once): informative only
        rest = informative[a:]
        order[head:] = rest[~placed[rest]]
    return ReviewOrder(order, audit)


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
