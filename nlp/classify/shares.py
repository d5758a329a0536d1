"""Classify stage: theme shares estimated from the consultation itself, without labels.

The definition prior z-scores each theme's similarity over the consultation, so every theme
gets about the same share of suggestions; real consultations do not have equal shares (one
theme raised by half the answers, another by 1%). Plain cosine similarity to each theme's
"label: definition" keeps what the z-scores take away: an answer's most similar theme is
more often a common one. So the share of answers whose most similar theme is t (times the
number of themes an answer has, estimated by the same similarities: those within
SHARE_MARGIN of the best) estimates how many answers raise t, and each theme's prior log-odds
move part of the way (SHARE_WEIGHT) from what the prior expects towards it.

Measured on seven development consultations (evaluation/RESULTS.md): the codebook alone
rose from under the cosine floor on the consultations with uneven shares to above it on all
seven. Nothing here knows a codebook or a domain.
"""
from __future__ import annotations

import numpy as np

# Chosen on the seven development consultations together: the weight with the best mean
# samples-F1 among those that leave no consultation below the cosine floor
# (evaluation/RESULTS.md, "Theme shares"); the margin is the cosine floor's own.
SHARE_WEIGHT = 0.75  # how far the prior's expected counts move towards the estimate (log scale)
SHARE_MARGIN = 0.05  # themes within this cosine of an answer's best count as raised by it
SHARE_PSEUDO = 1.0  # pseudo-count on both sides of the log ratio


def estimated_counts(whole: np.ndarray, heads: np.ndarray, margin: float = SHARE_MARGIN
                     ) -> np.ndarray:
    """(k,) estimated answers raising each theme: the answers whose most similar head
    ("label: definition", unit rows of `heads`) is that theme, scaled so that they sum to the
    themes an answer raises (within `margin` of its best) over all answers."""
    if not len(whole) or not len(heads):
        return np.zeros(len(heads))
    sim = np.asarray(whole, dtype=np.float32) @ np.asarray(heads, dtype=np.float32).T
    best = sim.max(1, keepdims=True)
    per_answer = float((sim >= best - margin).sum()) / len(sim)
    return np.bincount(sim.argmax(1), minlength=len(heads)).astype(float) * per_answer


def share_offset(estimated: np.ndarray, expected: np.ndarray, weight: float = SHARE_WEIGHT
                 ) -> np.ndarray:
    """(k,) log-odds offsets that move the prior's expected counts towards the estimated
    ones: weight * log((estimated + 1) / (expected + 1))."""
    return weight * np.log((np.asarray(estimated, float) + SHARE_PSEUDO)
                           / (np.asarray(expected, float) + SHARE_PSEUDO))
