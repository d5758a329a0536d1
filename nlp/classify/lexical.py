"""Classify stage: the lexical prior, the answers' words against each theme's words.

The TF-IDF similarity of an answer's character n-grams (within words, so "bureaucratic" meets
"bureaucracy") to a theme's label, definition and include examples, weighted (IDF) on the
consultation's own answers (a sample of `sample` at most) and z-scored over them; the
definition prior adds `weight` times this z-score to the embedding one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from ..types import Codebook
from .encoded import Encoded

LEXICAL_WEIGHT = 0.75  # prior z = z_embedding + w * z_lexical, standardised again
LEXICAL_NGRAMS = (4, 6)  # character n-grams (within words) of the lexical prior
LEXICAL_SAMPLE = 5_000  # answers of a consultation its lexical weights (IDF) are fitted on
_KEEP = 2  # lexical fits an `Encoded` keeps (one per codebook it is coded with, say)


@dataclass(frozen=True)
class LexicalFit:
    """The lexical weights fitted on one consultation: `key` names the themes' words and the
    sample, `vec` and `T` (the themes' transposed vectors) score texts, `mu` and `sd` the
    per-theme mean and spread of the similarities over the sample."""
    key: str
    vec: Any
    T: Any
    mu: np.ndarray
    sd: np.ndarray

    def similarity(self, texts: Sequence[str]) -> np.ndarray:
        return lexical_similarity(self.vec, self.T, texts)


def lexical_similarity(vec: Any, T: Any, texts: Sequence[str], step: int = 2_000) -> np.ndarray:
    """(n, k) TF-IDF similarity of texts to the themes' words (T: their transposed vectors),
    `step` texts at a time: a sparse matrix of character n-grams for 100,000 answers would
    take about a gigabyte at once."""
    texts = list(texts)
    out = np.zeros((len(texts), T.shape[1]), dtype=np.float32)
    for lo in range(0, len(texts), step):
        out[lo:lo + step] = (vec.transform(texts[lo:lo + step]) @ T).toarray()
    return out


def theme_documents(codebook: Codebook) -> list[str]:
    """Each theme's words: label, definition and include examples."""
    return [" ".join([t.label, t.definition, *t.include]) for t in codebook.themes]


class LexicalPrior(BaseEstimator):
    """The lexical part of the definition prior (a part of `ThemeClassifier`).

    Args:
        weight: how much the lexical z-score adds to the embedding one (0: no lexical prior).
        ngrams: the character n-gram range.
        sample: answers of a consultation the weights (IDF) are fitted on, at most.
        min_answers: answers a consultation needs for its own lexical weights.
    """

    def __init__(self, *, weight: float = LEXICAL_WEIGHT,
                 ngrams: tuple[int, int] = LEXICAL_NGRAMS, sample: int = LEXICAL_SAMPLE,
                 min_answers: int = 10) -> None:
        self.weight = weight
        self.ngrams = ngrams
        self.sample = sample
        self.min_answers = min_answers

    def reference(self, docs: list[str], enc: Encoded) -> LexicalFit | None:
        """Fit the lexical weights on the answers of `enc` (a sample at most) and the themes'
        words `docs`; None when off or when there are too few answers. A fit is kept on `enc`
        (its `memo`), so a refit after a relabel finds it instead of fitting it again."""
        texts = enc.texts
        if not self.weight or texts is None or len(texts) < self.min_answers:
            return None
        texts = list(texts)
        if len(texts) > self.sample:
            pick = np.sort(np.random.default_rng(0).choice(len(texts), self.sample,
                                                            replace=False))
            texts = [texts[i] for i in pick]
        key = hashlib.sha256("\x00".join([*docs, "\x01", *texts]).encode("utf-8",
                                                                         "replace")).hexdigest()
        slot = ("lexical-fit", tuple(self.ngrams), key)
        fit = enc.memo.get(slot)
        if fit is None:
            vec = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngrams),
                                  sublinear_tf=True, dtype=np.float32).fit([*texts, *docs])
            T = vec.transform(docs).T.tocsr()
            S = lexical_similarity(vec, T, texts)
            fits = [k for k in enc.memo if isinstance(k, tuple) and k[0] == "lexical-fit"]
            for old in fits[:max(0, len(fits) - _KEEP + 1)]:
                del enc.memo[old]
            fit = enc.memo[slot] = LexicalFit(key, vec, T, S.mean(0), S.std(0) + 1e-6)
        return fit
