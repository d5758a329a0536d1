"""Classify stage: the decision rule, from theme probabilities to suggested themes.

A relative rule: the themes close to the answer's best one (in log-odds), over a floor, at
most `max_themes`, and (while the prior is the codebook's own) always the best one. With
enough examples, how close is chosen on their out-of-fold probabilities.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from ._maths import f1, logit, sigmoid

MIN_Z = 0.5  # a theme must stand this far (in its own standard deviations) above its mean
MARGIN_Z = 0.75  # ... and within this of the answer's best theme (0.5 before the theme-share
#                   estimate: RESULTS.md, "Theme shares")
MAX_THEMES = 3  # at most this many suggestions an answer
MIN_RULE_EXAMPLES = 100  # examples needed to choose the decision rule on them
MARGIN_GRID = (0.5, 1.0, 2.0, np.inf)  # in z units, for the rule chosen on examples


def relative_rule(proba: np.ndarray, thresholds: np.ndarray, margin: float, *,
                  max_themes: int = MAX_THEMES, at_least_one: bool = True) -> np.ndarray:
    """(n, k) bool: themes at or over their threshold whose log-odds are within `margin` of the
    answer's best theme, at most `max_themes` an answer (the most probable); with
    `at_least_one`, an answer's most probable theme always (flagged non-answers are left out
    before the model is asked)."""
    proba = np.asarray(proba, dtype=float)
    if proba.size == 0:
        return np.zeros(proba.shape, dtype=bool)
    L = logit(proba)
    keep = (proba >= thresholds) & (L >= L.max(1, keepdims=True) - margin)
    if at_least_one and proba.shape[1]:
        keep[np.arange(len(proba)), proba.argmax(1)] = True
    if proba.shape[1] > max_themes:
        rank = np.argsort(np.argsort(-proba, axis=1, kind="stable"), axis=1, kind="stable")
        keep &= rank < max_themes
    return keep


def best_threshold(y: np.ndarray, p: np.ndarray, lo: float = 0.05, hi: float = 0.95) -> float:
    """The probability cut that maximises F1 of `p >= cut` against `y` (ties: the lowest)."""
    y, p = np.asarray(y).ravel(), np.asarray(p).ravel()
    grid = np.unique(np.round(p, 3))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) == 0 or y.sum() == 0:
        return 0.5
    scores = [f1(y, p >= g) for g in grid]
    return float(grid[int(np.argmax(scores))])


def stacked_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """A theme's own cut from its out-of-fold probabilities: for calibrated probabilities the
    F1-optimal cut is half the best F1 (Lipton, Elkan & Naryanaswamy 2014), a steadier
    estimate than the arg-max cut itself, which jumps with a handful of out-of-fold examples."""
    best = f1(y, p >= best_threshold(y, p))
    return float(np.clip(best / 2, 0.05, 0.95))


class DecisionRule(BaseEstimator):
    """The decision rule (a part of `ThemeClassifier`); z units are the prior's.

    Args:
        min_z: the floor, in z units over the theme's mean.
        margin_z: how close to the answer's best theme a theme must be, in z units.
        max_themes: suggestions an answer, at most.
        margin_grid: margins (z units) tried on the examples' out-of-fold probabilities.
        min_examples: examples needed to choose the margin on them.
    """

    def __init__(self, *, min_z: float = MIN_Z, margin_z: float = MARGIN_Z,
                 max_themes: int = MAX_THEMES, margin_grid: Sequence[float] = MARGIN_GRID,
                 min_examples: int = MIN_RULE_EXAMPLES) -> None:
        self.min_z = min_z
        self.margin_z = margin_z
        self.max_themes = max_themes
        self.margin_grid = margin_grid
        self.min_examples = min_examples

    def threshold(self, slope: float, mid: float) -> float:
        """The probability floor under a prior sigmoid(slope * (z - mid))."""
        return float(sigmoid(np.asarray(slope * (self.min_z - mid))))

    def margin(self, slope: float) -> float:
        """The cold margin in log-odds."""
        return slope * self.margin_z

    def choose_margin(self, Y: np.ndarray, oof: np.ndarray, thresholds: np.ndarray,
                      slope: float, *, at_least_one: bool) -> float:
        """The margin (log-odds) with the best micro-F1 of the out-of-fold probabilities
        `oof` against the examples' themes `Y` (ties: the cold margin); 1e9 for none."""
        grid = tuple(self.margin_grid)
        scores = {m: f1(Y, self.decide(oof, thresholds, slope * m, at_least_one=at_least_one))
                  for m in grid}
        best = max(grid, key=lambda m: (round(scores[m], 9), m == self.margin_z))
        return float(slope * best) if np.isfinite(best) else 1e9

    def decide(self, proba: np.ndarray, thresholds: np.ndarray, margin: float, *,
               at_least_one: bool) -> np.ndarray:
        """(n, k) bool: see `relative_rule`."""
        return relative_rule(proba, thresholds, margin, max_themes=self.max_themes,
                             at_least_one=at_least_one)
