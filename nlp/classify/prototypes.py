"""Classify stage: theme prototypes, and answers' similarity to them relative to the consultation.

Each theme stands for its prototype: the embedding of "question label: definition", moved
part of the way (`include_weight`) to the mean of its include examples. An answer's similarity
to a theme blends the whole answer's and its best sentence's (`sentence_weight`), after
*centring*: the consultation's mean answer is subtracted from the answers and the mean theme
from the themes, so what every answer shares (the topic of the consultation) and what every
theme shares stops counting. A theme's exclude examples pull its similarity down where an
answer is closer to them than to the theme (`exclude_weight`). The similarities are then
turned into z-scores over the consultation's own answers, per theme, so no absolute cosine cut
fitted on another corpus is needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ..embed import embed_texts
from ..types import Codebook
from ._maths import centred_cosine, group_max, unit
from .encoded import Encoded

# Theme-agnostic constants, chosen on development material (`evaluation/eval_classify.py`,
# evaluation/RESULTS.md), the same for every codebook.
SENTENCE_WEIGHT = 0.5  # similarity = (1 - w) * whole answer + w * best sentence
INCLUDE_WEIGHT = 0.5  # prototype = (1 - w) * "question label: definition" + w * mean(include)
EXCLUDE_WEIGHT = 0.5  # penalty per unit an exclude example is closer than the theme itself


def theme_texts(codebook: Codebook) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """Per theme: its head text ("question label: definition"), include and exclude examples
    (exclude examples without their "(other_theme)" pointers)."""
    q = f"{codebook.question.strip()} " if codebook.question else ""
    heads = [f"{q}{t.label}: {t.definition}" for t in codebook.themes]
    inc = [list(t.include) for t in codebook.themes]
    exc = [[s.split(" (")[0] for s in t.exclude] for t in codebook.themes]
    return heads, inc, exc


def theme_prototypes(codebook: Codebook) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The texts that stand for each theme: (texts, theme index, sign +1 include / -1 exclude)."""
    heads, inc, exc = theme_texts(codebook)
    texts, idx, sign = [], [], []
    for k in range(len(heads)):
        for s, sg in [(heads[k], 1), *[(x, 1) for x in inc[k]], *[(x, -1) for x in exc[k]]]:
            texts.append(s)
            idx.append(k)
            sign.append(sg)
    return texts, np.array(idx, dtype=int), np.array(sign, dtype=int)


@dataclass
class ThemeVectors:
    """A codebook's vectors: `theme` (k, d) prototypes, `exclude` (m, d) exclude examples of
    themes `exclude_theme` (m,), `heads` (k, d) unit "label: definition" vectors, and `texts`
    every head, include and exclude text's vector (the codebook's own reference sample)."""
    theme: np.ndarray
    exclude: np.ndarray
    exclude_theme: np.ndarray
    heads: np.ndarray
    texts: np.ndarray


class Prototypes(BaseEstimator):
    """The embedding part of the definition prior (a part of `ThemeClassifier`).

    Args:
        centre: subtract the consultation's mean answer and the mean theme (False: an
            ablation).
        zscore: z-scores per theme (False: one mean and spread for every theme, an ablation).
        sentence_weight: weight of the best sentence against the whole answer.
        include_weight: how far a prototype moves to its include examples.
        exclude_weight: penalty per unit an exclude example is closer than the theme.
    """

    def __init__(self, *, centre: bool = True, zscore: bool = True,
                 sentence_weight: float = SENTENCE_WEIGHT,
                 include_weight: float = INCLUDE_WEIGHT,
                 exclude_weight: float = EXCLUDE_WEIGHT) -> None:
        self.centre = centre
        self.zscore = zscore
        self.sentence_weight = sentence_weight
        self.include_weight = include_weight
        self.exclude_weight = exclude_weight

    def embed(self, codebook: Codebook, embedder: Any, cache: Any = None) -> ThemeVectors:
        """Embed a codebook's texts (each distinct text once, through `cache`) into its
        prototypes."""
        heads, inc, exc = theme_texts(codebook)
        flat = heads + [x for xs in inc for x in xs] + [x for xs in exc for x in xs]
        plain = [f"{t.label}: {t.definition}" for t in codebook.themes]
        V = embed_texts(flat + plain, embedder=embedder, cache=cache)
        head_vec = unit(V[len(flat):]).astype(np.float32)
        V = V[:len(flat)]
        k = len(heads)
        pos = k
        theme_vec = []
        for t in range(k):
            v = V[t]
            if inc[t]:
                w = self.include_weight
                v = (1 - w) * v + w * V[pos:pos + len(inc[t])].mean(0)
                pos += len(inc[t])
            theme_vec.append(v)
        return ThemeVectors(
            theme=np.asarray(theme_vec, dtype=np.float32),
            exclude=np.asarray(V[pos:], dtype=np.float32).reshape(-1, V.shape[1]),
            exclude_theme=np.repeat(np.arange(k), [len(x) for x in exc]).astype(np.int64),
            heads=head_vec, texts=V)

    def similarity(self, theme_vec: np.ndarray, excl_vec: np.ndarray, excl_theme: np.ndarray,
                   enc: Encoded, centre: Any) -> tuple[np.ndarray, np.ndarray]:
        """(n, k) blended similarity of answers to themes after centring on `centre`, and
        (n, k) the segment row that carries each theme best (-1: none)."""
        tmean = theme_vec.mean(0) if self.centre else 0.0
        centre = centre if self.centre else 0.0
        P = unit(theme_vec - tmean)
        ew = self.exclude_weight
        has_excl = bool(len(excl_vec) and ew)
        Q = np.vstack([P, unit(excl_vec - tmean)]) if has_excl else P
        both = centred_cosine(enc.whole, centre, Q)
        whole = both[:, :len(P)]
        seg, arg = group_max(centred_cosine(enc.seg, centre, P), enc.seg_owner, len(enc))
        seg = np.where(arg >= 0, seg, whole)
        sw = self.sentence_weight
        sim = (1 - sw) * whole + sw * seg
        if has_excl:
            ex = both[:, len(P):]  # (n, m)
            order = np.argsort(excl_theme, kind="stable")
            themes = excl_theme[order]
            starts = np.flatnonzero(np.r_[True, themes[1:] != themes[:-1]])
            closest = np.maximum.reduceat(ex[:, order], starts, axis=1)
            cols = themes[starts]
            sim[:, cols] -= ew * np.maximum(closest - whole[:, cols], 0)
        return sim, arg

    def statistics(self, sim: np.ndarray, *, weight: float, n: int, ref_mu: np.ndarray,
                   ref_sd: np.ndarray) -> tuple[Any, Any]:
        """The mean and spread the similarities `sim` of a batch of `n` answers are z-scored
        with: the batch's own (`weight` 1), the reference's (0), or a blend of the two."""
        if not self.zscore:  # ablation: one mean and spread for every theme
            return sim.mean(), sim.std() + 1e-6
        if weight == 0:
            return ref_mu, ref_sd
        mu = weight * sim.mean(0) + (1 - weight) * ref_mu
        sd = weight * (sim.std(0) + 1e-6) + (1 - weight) * ref_sd if n > 1 else ref_sd
        return mu, sd


def raw_similarities(theme_vec: np.ndarray, enc: Encoded
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uncentred similarities: best sentence (at least the whole answer's), whole answer, and
    best sentence less its mean over themes. Once a codebook has its own examples, a refitted
    prior can weigh them (absolute similarity carries over between reports of one series)."""
    P = unit(theme_vec)
    raw_whole = enc.whole @ P.T
    raw_seg, _ = group_max(enc.seg @ P.T, enc.seg_owner, len(enc))
    raw_seg = np.maximum(raw_seg, raw_whole)
    return raw_seg, raw_whole, raw_seg - raw_seg.mean(1, keepdims=True)
