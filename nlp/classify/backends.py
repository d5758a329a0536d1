"""Classify stage: the classifier backends a project can code with, by name.

A backend is a scikit-learn style estimator class: `Backend(codebook=..., embedder=...,
cache=...)`, `.fit(texts or None, theme lists or None)` returning self, `.theme_ids_`,
`.embedder`, `.cache` and `.score_batch(Encoded) -> Scored`. A new one is a module with such a
class and one line in `CLASSIFIERS`.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence

from .model import Encoded, Scored, ThemeClassifier


class ThemeModel(Protocol):
    """What `code_responses` needs of a fitted classifier."""

    theme_ids_: list[str]
    embedder: Any
    cache: Any

    def fit(self, X: Sequence[str] | None, Y: Sequence[Sequence[str]] | None) -> "ThemeModel": ...

    def score_batch(self, enc: Encoded) -> Scored: ...


CLASSIFIERS: dict[str, type] = {
    "theme": ThemeClassifier,  # definition prior + per-theme regressions on embeddings
}
DEFAULT_CLASSIFIER = "theme"
