"""Classify stage: a multi-label theme classifier on sentence embeddings.

Two parts, stacked: a *definition prior* that works from the codebook alone and decides
relative to the consultation at hand, and per-theme logistic regressions trained on
researcher-confirmed examples, whose say grows with the number of examples.

The prior compares each answer (whole, and its best sentence) with each theme's prototype
(question + label + definition, moved halfway to its include examples) after *centring*: the
consultation's mean answer is subtracted from the answers and the mean theme from the themes,
so what every answer shares (the topic of the consultation) and what every theme shares stops
counting. Each theme's similarities are then turned into z-scores over this consultation's own
answers, so no absolute cosine cut fitted on another corpus is needed. A lexical prior joins
them: the TF-IDF similarity of the answer's character n-grams (within words, so "bureaucratic"
meets "bureaucracy") to the theme's label, definition and include examples, weighted (IDF) on
this consultation's answers and z-scored over them the same way; the two z-scores are summed
and standardised again. Z-scores give every theme about the same share of the consultation,
so each theme's log-odds then move towards the share estimated from the consultation itself
(`nlp.classify.shares`: how often the theme is an answer's most similar under plain cosine).
A relative rule decides: the themes close to the answer's best one, over a floor, at most
three, and always the best one. A theme's exclude examples pull its score down where an answer
is closer to them than to the theme. With enough examples a second lexical part joins: a
TF-IDF logistic regression per theme on the examples' words, stacked with the others.
Every constant here is theme-agnostic and was chosen on development consultations (see
evaluation/RESULTS.md), never on the consultation being coded.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from ..embed import embed_texts
from ..embed.run import CHUNK, embed_answers
from ..text.segment import MAX_SEGMENTS, segment_spans
from ..types import Codebook
from .intercepts import theme_intercepts
from .propagate import MAX_ANSWERS as PROPAGATE_MAX, WEIGHT as PROPAGATE_WEIGHT
from .propagate import knn_graph, propagate
from .shares import SHARE_WEIGHT, estimated_counts, share_offset

log = logging.getLogger(__name__)
# The lexical prior's fitted weights by key (a digest of the themes' words and the sample they
# were fitted on): a refit after a relabel finds them here instead of fitting them again.
_LEXICAL_FITS: dict[str, tuple[Any, Any, np.ndarray, np.ndarray]] = {}

# Theme-agnostic constants of the definition prior. Chosen on development material (the
# bundled corpus and two consultations in other domains, `evaluation/eval_classify.py
# --sweep`), the same for every codebook; nothing is tuned on the consultation being coded.
SENTENCE_WEIGHT = 0.5  # similarity = (1 - w) * whole answer + w * best sentence
INCLUDE_WEIGHT = 0.5  # prototype = (1 - w) * "question label: definition" + w * mean(include)
PRIOR_SLOPE = 1.45  # prior probability = sigmoid(SLOPE * (z - MID)): a pooled logistic fit of
PRIOR_MID = 1.69  # gold codes on z over the development consultations
LEXICAL_WEIGHT = 0.75  # prior z = z_embedding + w * z_lexical, standardised again
LEXICAL_NGRAMS = (4, 6)  # character n-grams (within words) of the lexical prior
LEXICAL_SAMPLE = 5_000  # answers of a consultation its lexical weights (IDF) are fitted on
EXCLUDE_WEIGHT = 0.5  # penalty per unit an exclude example is closer than the theme itself
MIN_Z = 0.5  # a theme must stand this far (in its own standard deviations) above its mean
MARGIN_Z = 0.75  # ... and within this of the answer's best theme (0.5 before the theme-share
#                   estimate: RESULTS.md, "Theme shares")
MAX_THEMES = 3  # at most this many suggestions an answer
OWN_STATISTICS = 10  # answers from which a batch's own statistics are used alone
MIN_REFERENCE = 30  # examples from which they, not the codebook's texts, are the reference
PREVALENCE_PSEUDO = 1.0  # pseudo-count of the theme-share correction (see _prevalence_offset)
MIN_LEARNED = 1  # positive examples from which a theme's own regression has a say
MIN_CALIBRATION = 8  # positives and negatives a theme needs for its own combiner and threshold
# Below 100 examples in all, what is fitted on out-of-fold scores of the examples (a stacked
# combiner and threshold per theme, the TF-IDF part, the decision rule) and the refitted prior
# cost the development consultations 0.01-0.06 samples-F1 against the codebook alone at 40, 60
# and 80 examples (evaluation/RESULTS.md): with fewer, the prior and the regressions are
# blended by count.
MIN_STACK = 100  # ... and examples in all
MIN_RULE_EXAMPLES = 100  # examples needed to choose the decision rule on them
MIN_LEXICAL = 100  # examples from which the TF-IDF part is fitted and stacked
MIN_PRIOR_REFIT = 100  # examples (with >= 3 themes of >= 5 positives) to refit the prior
PRIOR_C = 100.0  # three parameters on (answers x themes) pairs: barely regularised
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
LEXICAL_C = 1.0  # TF-IDF regressions (1 / 10 / 100 tried by leave-one-report-out)
# Default inverse regularisation of the per-theme regressions (`eval_classify.py --select-C`).
DEFAULT_C = 3.0
_MARGIN_GRID = (0.5, 1.0, 2.0, np.inf)  # in z units, for the rule chosen on examples
# Switches for the evaluation's ablation only (evaluation/eval_classify.py); always on.
CENTRE = True
PREVALENCE = True  # the examples' theme shares correct the prior (False: an ablation)
ZSCORE = True


@dataclass
class Encoded:
    """Embeddings of answers and of their segments: `seg_owner[i]` is segment i's answer and
    `seg_span[i]` its (start, end) characters in that answer (-1 when unknown)."""
    whole: np.ndarray
    seg: np.ndarray
    seg_owner: np.ndarray
    seg_span: np.ndarray | None = None
    texts: list[str] | None = None  # the answers themselves, for the lexical parts
    lexical: np.ndarray | None = None  # (n, k) lexical similarities to a codebook's themes...
    lexical_key: str | None = None  # ... under the lexical weights with this key
    # Word TF-IDF matrices of these answers by vocabulary digest, so a refit whose examples
    # keep their vocabulary (a relabel) re-scores without reading every answer again.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seg_span is None:
            self.seg_span = np.full((len(self.seg), 2), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.whole)


# How `encode` gets the vectors (measured with `evaluation/eval_classify.py --whole`, see
# evaluation/RESULTS.md):
# - "context" (default): each answer runs through the model once; its vector is the one it
#   gets alone, and each sentence's is pooled from that same run (in the context of the
#   answer), so an answer costs its own tokens and nothing more. Embedders that cannot
#   (`in_context` false: sentence-transformers, the fake) fall back to "embed".
# - "embed": the reference: the answer, and each of its sentences on its own.
# - "mean": sentences on their own; the answer's vector is the normalised mean of theirs.
WHOLE = "context"


def segment_answers(texts: Sequence[str]) -> tuple[list[list[tuple[int, int]]], list[int]]:
    """Per answer: the (start, end) spans of all its sentences, and how many of them are scored
    as segments (the first MAX_SEGMENTS of `segment_spans`)."""
    spans, scored = [], []
    for t in texts:
        sp = segment_spans(t, max_segments=1 << 30)
        spans.append(sp)
        scored.append(min(len(sp), MAX_SEGMENTS))
    return spans, scored


def assemble(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
             scored: Sequence[int], V: np.ndarray, *,
             whole_vecs: np.ndarray | None = None) -> Encoded:
    """An `Encoded` from the vectors V of every span (rows in order, unit length); the first
    `scored[i]` spans of answer i are its segments. Each answer's vector is `whole_vecs[i]`,
    else the normalised mean of all its spans' vectors ("mean")."""
    n = len(texts)
    V = np.asarray(V, dtype=np.float32)
    dim = V.shape[1] if V.ndim == 2 else 0
    counts = np.array([len(sp) for sp in spans], dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64) if n else np.zeros(0, np.int64)
    if whole_vecs is None:
        W = np.add.reduceat(V, starts, axis=0) if n and len(V) else np.zeros((n, dim), np.float32)
        W = (W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    else:
        W = np.asarray(whole_vecs, dtype=np.float32)
    scored = np.asarray(scored, dtype=np.int64)
    if np.array_equal(scored, counts):
        seg = V  # every span is a segment: no copy
    else:
        keep = np.concatenate([np.arange(o, o + k) for o, k in zip(starts, scored)]) \
            if n else np.zeros(0, np.int64)
        seg = V[keep.astype(np.int64)] if len(keep) else np.zeros((0, dim), np.float32)
    seg_span = np.array([se for sp, k in zip(spans, scored) for se in sp[:k]],
                        dtype=np.int64).reshape(-1, 2)
    owner = np.repeat(np.arange(n), scored)
    return Encoded(whole=W, seg=seg, seg_owner=owner, seg_span=seg_span, texts=list(texts))


def encode(texts: Sequence[str], embedder, *, cache=None, progress: bool = False,
           whole: str | None = None, chunk: int | None = None, runner=None) -> Encoded:
    """Embed answers and their sentence segments, each distinct text once (cached); `whole`:
    see WHOLE. `chunk` answers go to the cache at a time and `runner` runs them elsewhere
    (a cluster): see `nlp.embed.run.embed_answers`."""
    whole = whole or WHOLE
    if whole not in ("context", "mean", "embed"):
        raise ValueError(f"whole must be 'context', 'embed' or 'mean', not {whole!r}")
    texts = [str(t) for t in texts]
    spans, scored = segment_answers(texts)
    if whole == "mean":
        flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
        return assemble(texts, spans, scored, embed_texts(flat, embedder=embedder, cache=cache,
                                                          progress=progress))
    spans = [sp[:k] for sp, k in zip(spans, scored)]
    W, S = embed_answers(texts, spans, embedder=embedder, cache=cache, progress=progress,
                         chunk=chunk or CHUNK, runner=runner,
                         in_context=False if whole == "embed" else None)
    return assemble(texts, spans, scored, S, whole_vecs=W)


def _as_encoded(X: Any, embedder, cache) -> Encoded:
    if isinstance(X, Encoded):
        return X
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f":
        n = len(X)  # bare embeddings: the whole answer is its only segment
        return Encoded(whole=X.astype(np.float32), seg=X.astype(np.float32),
                       seg_owner=np.arange(n))
    if hasattr(X, "columns") and "text" in X.columns:  # a DataFrame with a text column
        X = X["text"]
    if hasattr(X, "tolist"):
        X = X.tolist()
    if embedder is None:
        raise ValueError("texts need an embedder: ThemeClassifier(embedder=...)")
    return encode(list(X), embedder, cache=cache)


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


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-9)


def _lexical_similarity(vec, T, texts: Sequence[str], step: int = 2_000) -> np.ndarray:
    """(n, k) TF-IDF similarity of texts to the themes' words (T: their transposed vectors),
    `step` texts at a time: a sparse matrix of character n-grams for 100,000 answers would
    take about a gigabyte at once."""
    texts = list(texts)
    out = np.zeros((len(texts), T.shape[1]), dtype=np.float32)
    for lo in range(0, len(texts), step):
        out[lo:lo + step] = (vec.transform(texts[lo:lo + step]) @ T).toarray()
    return out


def _centred_cosine(X: np.ndarray, centre, P: np.ndarray) -> np.ndarray:
    """cos(x - centre, p) for every row x of X and (unit) row p of P, without building the
    centred copy of X: (x.p - c.p) / |x - c|, |x - c|^2 = |x|^2 - 2 x.c + |c|^2."""
    X = np.asarray(X, dtype=np.float32)
    P = np.asarray(P, dtype=np.float32)
    if len(X) == 0:
        return np.zeros((0, len(P)), dtype=np.float32)
    if np.isscalar(centre):  # no centring
        return _unit(X) @ P.T
    c = np.asarray(centre, dtype=np.float32)
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64) - 2.0 * (X @ c).astype(np.float64) \
        + float(c.astype(np.float64) @ c)
    norm = np.sqrt(np.maximum(sq, 1e-18)).astype(np.float32)
    return ((X @ P.T) - (c @ P.T)) / np.maximum(norm, 1e-9)[:, None]


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((y.astype(bool) & pred.astype(bool)).sum())
    return 2 * tp / max(1.0, float(y.sum() + pred.sum()))


def _logreg(X: np.ndarray, y: np.ndarray, C: float = 1.0, iters: int = 50
            ) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by Newton's method (the objective of scikit-learn's
    LogisticRegression(C=C)): for the few-feature fits here it takes a millisecond where lbfgs
    takes tens. Returns (coef, intercept)."""
    X = np.column_stack([np.asarray(X, dtype=float), np.ones(len(X))])
    y = np.asarray(y, dtype=float)
    reg = np.full(X.shape[1], 1.0 / C)
    reg[-1] = 1e-8  # the intercept is (all but) free

    def loss(w):
        z = X @ w
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * np.sum(reg * w * w))

    w = np.zeros(X.shape[1])
    cur = loss(w)
    for _ in range(iters):
        p = _sigmoid(X @ w)
        g = X.T @ (p - y) + reg * w
        H = (X * (p * (1 - p))[:, None]).T @ X + np.diag(reg)
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-4 and loss(w - t * step) > cur:  # backtrack if a full step overshoots
            t /= 2
        w = w - t * step
        new = loss(w)
        if cur - new < 1e-10 * max(1.0, abs(cur)):
            break
        cur = new
    return w[:-1], float(w[-1])


def best_threshold(y: np.ndarray, p: np.ndarray, lo: float = 0.05, hi: float = 0.95) -> float:
    """The probability cut that maximises F1 of `p >= cut` against `y` (ties: the lowest)."""
    y, p = np.asarray(y).ravel(), np.asarray(p).ravel()
    grid = np.unique(np.round(p, 3))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) == 0 or y.sum() == 0:
        return 0.5
    f1 = [_f1(y, p >= g) for g in grid]
    return float(grid[int(np.argmax(f1))])


def relative_rule(proba: np.ndarray, thresholds: np.ndarray, margin: float, *,
                  max_themes: int = MAX_THEMES, at_least_one: bool = True) -> np.ndarray:
    """(n, k) bool: themes at or over their threshold whose log-odds are within `margin` of the
    answer's best theme, at most `max_themes` an answer (the most probable); with
    `at_least_one`, an answer's most probable theme always (flagged non-answers are left out
    before the model is asked)."""
    proba = np.asarray(proba, dtype=float)
    if proba.size == 0:
        return np.zeros(proba.shape, dtype=bool)
    L = _logit(proba)
    keep = (proba >= thresholds) & (L >= L.max(1, keepdims=True) - margin)
    if at_least_one and proba.shape[1]:
        keep[np.arange(len(proba)), proba.argmax(1)] = True
    if proba.shape[1] > max_themes:
        rank = np.argsort(np.argsort(-proba, axis=1, kind="stable"), axis=1, kind="stable")
        keep &= rank < max_themes
    return keep


def _group_max(values: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per answer, the maximum over its rows of `values` (rows grouped contiguously by
    `owner`) and the row holding it: ((n, k) maxima, -1 where none; (n, k) rows, -1)."""
    k = values.shape[1]
    best = np.full((n, k), -1.0, dtype=np.float32)
    arg = np.full((n, k), -1, dtype=np.int64)
    if len(values) == 0:
        return best, arg
    change = np.r_[True, owner[1:] != owner[:-1]]
    starts = np.flatnonzero(change)
    mx = np.maximum.reduceat(values, starts, axis=0)
    grp = np.cumsum(change) - 1
    rows = np.where(values >= mx[grp] - 1e-7, np.arange(len(values))[:, None], len(values))
    best[owner[starts]] = mx
    arg[owner[starts]] = np.minimum.reduceat(rows, starts, axis=0)
    return best, arg


@dataclass
class Scored:
    """What the classifier says of a batch: probabilities (n, k), the decisions (n, k bool),
    and per (answer, theme) the (start, end) characters of the sentence that carries the
    theme best (-1 when unknown)."""
    proba: np.ndarray
    chosen: np.ndarray
    evidence: np.ndarray


class ThemeClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label codebook classifier (scikit-learn estimator).

    From the codebook alone it scores by the definition prior (module docstring) and decides
    by the relative rule. With confirmed examples each theme also gets a class-balanced
    logistic regression on the answer's embedding and its prior z-scores; a theme with at least
    MIN_CALIBRATION positive and negative examples (out of MIN_STACK or more in all) combines
    the two with a small logistic regression fitted on out-of-fold scores (stacking) and gets
    its own threshold, half the
    best F1 its out-of-fold probabilities reach; a theme with fewer examples mixes the two
    probabilities with weight n_pos / (n_pos + prior_strength) on the learned one. With
    MIN_RULE_EXAMPLES examples or more, the rule's margin is chosen on out-of-fold predictions.
    Once calibrated on a consultation, each theme's prior also moves by how far the examples'
    theme shares stand from what the prior expects of them there (`_prevalence_offset`).

    The prior's statistics (centre and per-theme mean and spread) come from the batch being
    coded when it holds OWN_STATISTICS answers or more; smaller batches lean on a reference:
    the examples the model was fitted on, the codebook's own texts, or the whole consultation
    after `calibrate`.

    Args:
        codebook: the themes; their order is the column order of Y and of predict_proba.
        embedder: an `nlp.embed.Embedder` (needed when X holds texts, not embeddings).
        cache: an `nlp.embed.EmbeddingCache`, so nothing is embedded twice.
        C: inverse regularisation of the per-theme logistic regressions.
        prior_strength: for themes with few examples, the positives at which learned and
            definition scores weigh the same.
        cv: folds for the out-of-fold scores.
        random_state: seed for the folds.
        share_weight: how far the prior follows the theme shares estimated from the
            consultation itself (`nlp.classify.shares`; 0: equal shares, the old prior).
        propagate_weight: log-odds per unit of the examples' residuals spread over the
            calibrated consultation's answers (`nlp.classify.propagate`; 0: none).
        intercepts: each theme's log-odds shifted by the examples, shrunk by how far the
            shifts stand out from chance (`nlp.classify.intercepts`; False: none).
    """
    def __init__(self, codebook: Codebook | None = None, embedder=None, *, cache=None,
                 C: float = DEFAULT_C, prior_strength: float = 30.0, cv: int = 5,
                 random_state: int = 0, share_weight: float = SHARE_WEIGHT,
                 propagate_weight: float = PROPAGATE_WEIGHT, intercepts: bool = True) -> None:
        self.codebook = codebook
        self.embedder = embedder
        self.cache = cache
        self.C = C
        self.prior_strength = prior_strength
        self.cv = cv
        self.random_state = random_state
        self.share_weight = share_weight
        self.propagate_weight = propagate_weight
        self.intercepts = intercepts

    # -- the definition prior ----------------------------------------------------------------
    def _similarity(self, enc: Encoded, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, k) blended similarity of answers to themes after centring, and (n, k) the
        segment row that carries each theme best."""
        tmean = self.theme_vec_.mean(0) if CENTRE else 0.0
        centre = centre if CENTRE else 0.0
        P = _unit(self.theme_vec_ - tmean)
        has_excl = bool(len(self.excl_vec_) and EXCLUDE_WEIGHT)
        Q = np.vstack([P, _unit(self.excl_vec_ - tmean)]) if has_excl else P
        both = _centred_cosine(enc.whole, centre, Q)
        whole = both[:, :len(P)]
        seg, arg = _group_max(_centred_cosine(enc.seg, centre, P), enc.seg_owner, len(enc))
        seg = np.where(arg >= 0, seg, whole)
        sim = (1 - SENTENCE_WEIGHT) * whole + SENTENCE_WEIGHT * seg
        if has_excl:
            ex = both[:, len(P):]  # (n, m)
            order = np.argsort(self.excl_theme_, kind="stable")
            themes = self.excl_theme_[order]
            starts = np.flatnonzero(np.r_[True, themes[1:] != themes[:-1]])
            closest = np.maximum.reduceat(ex[:, order], starts, axis=1)
            cols = themes[starts]
            sim[:, cols] -= EXCLUDE_WEIGHT * np.maximum(closest - whole[:, cols], 0)
        return sim, arg

    def _set_reference(self, enc: Encoded) -> np.ndarray:
        """Take the prior's statistics from `enc`; returns its similarities."""
        self.ref_center_ = enc.whole.mean(0).astype(np.float32)
        sim, _ = self._similarity(enc, self.ref_center_)
        self.ref_mu_ = sim.mean(0)
        self.ref_sd_ = sim.std(0) + 1e-6
        self.ref_n_ = int(len(enc))
        return sim

    def calibrate(self, X: Any) -> "ThemeClassifier":
        """Take the prior's statistics from a whole consultation (say, every answer of a
        project) and use them for every later batch, however small."""
        check_is_fitted(self, "thresholds_")
        enc = _as_encoded(X, self.embedder, self.cache)
        if len(enc):
            sim = self._set_reference(enc)
            self.lex_key_, self.comb_mu_, self.comb_sd_ = "", None, None
            self.calibrated_ = True
            z = (sim - self.ref_mu_) / self.ref_sd_
            lex = self._lexical_reference(enc.texts) if enc.texts is not None else None
            if lex is not None:
                self.lex_key_, self.lex_mu_, self.lex_sd_ = lex
                self._lex_fit = _LEXICAL_FITS[self.lex_key_][:2]  # the model keeps its own
                if enc.lexical_key != self.lex_key_:  # keep them for every later batch of it
                    enc.lexical, enc.lexical_key = self._lexical_sim(enc.texts), self.lex_key_
                zl = self._lexical_z(enc)
                zsum = z + LEXICAL_WEIGHT * zl
                self.comb_mu_, self.comb_sd_ = zsum.mean(0), zsum.std(0) + 1e-6
                z = (zsum - self.comb_mu_) / self.comb_sd_
            self.share_offset_ = self._share_offset(enc, z)
            examples = getattr(self, "_examples", None)
            self._prop_keys, self._prop_E = None, None
            if examples is not None and len(examples):
                self.offset_ = self._prevalence_offset(examples)
                Y = getattr(self, "_examples_Y", None)
                # Below MIN_STACK examples (from 100 they cost the bundled corpus 0.02: RESULTS.md)
                if (self.intercepts and self.n_examples_ < MIN_STACK and Y is not None
                        and len(Y) == len(examples)):
                    self.offset_ = self.offset_ + theme_intercepts(  # nlp.classify.intercepts
                        _logit(self._score(examples)[0]), Y)[0]
                self._spread(enc, examples)
        return self

    def _spread(self, enc: Encoded, examples: Encoded) -> None:
        """Spread the examples' residuals (decision minus probability) over a
        k-nearest-neighbour graph of the consultation's answers and the examples
        (`nlp.classify.propagate`); `_score` adds them to the answers of `enc` it meets again."""
        Y = getattr(self, "_examples_Y", None)
        if (not self.propagate_weight or Y is None or len(Y) != len(examples)
                or len(enc) + len(examples) > PROPAGATE_MAX):
            return
        keys = {row.tobytes(): i for i, row in enumerate(enc.whole)}
        node, extra = [], []
        for row in examples.whole:
            i = keys.get(row.tobytes())
            if i is None:
                extra.append(row)
                i = len(enc) + len(extra) - 1
            node.append(i)
        W = np.vstack([enc.whole, *extra]) if extra else enc.whole
        E0 = np.zeros((len(W), len(self.theme_ids_)))
        E0[node] = Y - self._score(examples)[0]
        self._prop_E = self.propagate_weight * propagate(knn_graph(W), E0,
                                                         np.unique(node))[:len(enc)]
        self._prop_keys = keys

    def _prevalence_offset(self, examples: Encoded) -> np.ndarray:
        """Per-theme logit offset from the examples' theme shares.

        The prior expects sum_i p_it answers of theme t among the examples (p from the prior
        under the statistics in force: after `calibrate`, the consultation being coded); the
        examples hold n_pos_t. Each theme moves by log((observed + 1) / (expected + 1)),
        shrunk towards 0 by how much the themes' deviations exceed chance (a James-Stein
        factor 1 - 1 / mean Pearson chi-square): where the examples' shares are what the
        prior expects up to sampling noise, nothing moves; where one theme is far more common
        than the definitions suggest, the prior follows the examples.
        """
        k = len(self.theme_ids_)
        if not PREVALENCE or not len(examples) or not self.n_pos_.sum():
            return np.zeros(k)
        F, _ = self._prior(examples)
        # (a saved model keeps a sample of its examples at most: scaled to all of them)
        expected = _sigmoid(F @ self.prior_coef_ + self.prior_intercept_
                            + self.share_offset_).sum(0) * (
            max(self.n_examples_, len(examples)) / len(examples))
        observed = self.n_pos_.astype(float)
        dispersion = float(np.mean((observed - expected) ** 2 / np.maximum(expected, 0.5)))
        shrink = max(0.0, 1.0 - 1.0 / dispersion) if dispersion > 0 else 0.0
        return shrink * np.log((observed + PREVALENCE_PSEUDO) / (expected + PREVALENCE_PSEUDO))

    # -- theme shares from the consultation (nlp.classify.shares) ------------------------------
    def _cold_prior(self) -> bool:
        """True while the prior is the codebook's own (not refitted on examples): the refitted
        prior weighs uncentred similarities, which already carry the themes' shares."""
        return bool(np.array_equal(np.asarray(self.prior_coef_, float),
                                   [PRIOR_SLOPE, 0.0, 0.0, 0.0, 0.0, 0.0]))

    def _heads(self) -> np.ndarray:
        """(k, d) unit vectors of each theme's "label: definition" (embedded on first use by a
        loaded model, which does not store them)."""
        if getattr(self, "head_vec_", None) is None:
            self.head_vec_ = _unit(embed_texts(
                [f"{t.label}: {t.definition}" for t in self.codebook.themes],
                embedder=self.embedder, cache=self.cache)).astype(np.float32)
        return self.head_vec_

    def _share_offset(self, enc: Encoded, z: np.ndarray) -> np.ndarray:
        """(k,) prior log-odds offsets towards the theme shares estimated from `enc` (a whole
        consultation, or a batch of OWN_STATISTICS answers or more; `z` its (n, k) combined
        z-scores, the cold prior's only feature); 0 otherwise."""
        k = len(self.theme_ids_)
        if not self.share_weight or len(enc) < OWN_STATISTICS or not self._cold_prior():
            return np.zeros(k)
        expected = _sigmoid(self.prior_coef_[0] * z + self.prior_intercept_).sum(0)
        return share_offset(estimated_counts(enc.whole, self._heads()), expected,
                            self.share_weight)

    # -- the lexical prior: character n-grams of the answer against each theme's words -------
    def _theme_documents(self) -> list[str]:
        return [" ".join([t.label, t.definition, *t.include]) for t in self.codebook.themes]

    def _lexical_reference(self, texts: Sequence[str]) -> tuple[str, np.ndarray, np.ndarray] | None:
        """Fit the lexical prior's weights (IDF) on a consultation's answers (a sample of
        LEXICAL_SAMPLE at most) and the themes' words: (key, per-theme mean, spread of the
        similarities over the sample), or None when there are too few answers."""
        if not LEXICAL_WEIGHT or len(texts) < OWN_STATISTICS:
            return None
        texts = list(texts)
        if len(texts) > LEXICAL_SAMPLE:
            pick = np.sort(np.random.default_rng(0).choice(len(texts), LEXICAL_SAMPLE,
                                                            replace=False))
            texts = [texts[i] for i in pick]
        docs = self._theme_documents()
        key = hashlib.sha256("\x00".join([*docs, "\x01", *texts]).encode("utf-8",
                                                                         "replace")).hexdigest()
        if key not in _LEXICAL_FITS:
            vec = TfidfVectorizer(analyzer="char_wb", ngram_range=LEXICAL_NGRAMS,
                                  sublinear_tf=True, dtype=np.float32).fit([*texts, *docs])
            T = vec.transform(docs).T.tocsr()
            S = _lexical_similarity(vec, T, texts)
            while len(_LEXICAL_FITS) >= 4:
                _LEXICAL_FITS.pop(next(iter(_LEXICAL_FITS)))
            _LEXICAL_FITS[key] = (vec, T, S.mean(0), S.std(0) + 1e-6)
        _, _, mu, sd = _LEXICAL_FITS[key]
        return key, mu, sd

    def _lexical_sim(self, texts: Sequence[str]) -> np.ndarray:
        return _lexical_similarity(*self._lex_fit, texts)

    def _lexical_z(self, enc: Encoded) -> np.ndarray | None:
        """(n, k) z-scores of the answers' lexical similarity to each theme over the
        consultation (the calibrated one, else this batch when it is big enough)."""
        if not LEXICAL_WEIGHT or enc.texts is None or not len(enc):
            return None
        if self.calibrated_:
            if not self.lex_key_ or getattr(self, "_lex_fit", None) is None:
                return None
            S = enc.lexical if enc.lexical_key == self.lex_key_ and enc.lexical is not None \
                else self._lexical_sim(enc.texts)
            return (S - self.lex_mu_) / self.lex_sd_
        lex = self._lexical_reference(enc.texts)
        if lex is None:
            return None
        key, mu, sd = lex
        return (_lexical_similarity(*_LEXICAL_FITS[key][:2], enc.texts) - mu) / sd

    def _prior(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """(n, k, 6) prior features (combined z-score over the consultation, centred
        similarity, three uncentred similarities, lexical z-score) and (n, k) evidence
        segment rows."""
        z, zl, sim, arg, raw = self._z_parts(enc)
        if zl is None:
            zc, zl = z, np.zeros_like(z)
        else:
            zsum = z + LEXICAL_WEIGHT * zl
            if self.calibrated_ and self.comb_sd_ is not None:
                zc = (zsum - self.comb_mu_) / self.comb_sd_
            else:
                zc = (zsum - zsum.mean(0)) / (zsum.std(0) + 1e-6)
        return np.stack([zc, sim, *raw, zl], axis=2), arg

    def _z_parts(self, enc: Encoded):
        """The embedding z-scores, the lexical ones (None when unavailable), the centred
        similarity, the evidence rows and the uncentred similarities."""
        n = len(enc)
        w = 0.0 if self.calibrated_ else min(1.0, n / OWN_STATISTICS)
        centre = self.ref_center_ if w == 0 else \
            w * enc.whole.mean(0) + (1 - w) * self.ref_center_
        sim, arg = self._similarity(enc, centre)
        if not ZSCORE:  # ablation: one mean and spread for every theme
            mu, sd = sim.mean(), sim.std() + 1e-6
        elif w == 0:
            mu, sd = self.ref_mu_, self.ref_sd_
        else:
            mu = w * sim.mean(0) + (1 - w) * self.ref_mu_
            sd = w * (sim.std(0) + 1e-6) + (1 - w) * self.ref_sd_ if n > 1 else self.ref_sd_
        # Uncentred similarities too: once a codebook has its own examples, the refitted
        # prior can weigh them (absolute similarity carries over between reports of one series).
        P = _unit(self.theme_vec_)
        raw_whole = enc.whole @ P.T
        raw_seg, _ = _group_max(enc.seg @ P.T, enc.seg_owner, n)
        raw_seg = np.maximum(raw_seg, raw_whole)
        raw = (raw_seg, raw_whole, raw_seg - raw_seg.mean(1, keepdims=True))
        return (sim - mu) / sd, self._lexical_z(enc), sim, arg, raw

    def _prior_logit(self, F: np.ndarray) -> np.ndarray:
        return F @ self.prior_coef_ + self.prior_intercept_ + self.offset_

    # -- fitting ---------------------------------------------------------------------------
    def _init_from_codebook(self) -> None:
        if self.codebook is None:
            raise ValueError("ThemeClassifier needs a codebook")
        if self.embedder is None:
            raise ValueError("ThemeClassifier needs an embedder to embed the theme definitions")

        self.theme_ids_ = list(self.codebook.theme_ids)
        heads, inc, exc = theme_texts(self.codebook)
        flat = heads + [x for xs in inc for x in xs] + [x for xs in exc for x in xs]
        plain = [f"{t.label}: {t.definition}" for t in self.codebook.themes]
        V = embed_texts(flat + plain, embedder=self.embedder, cache=self.cache)
        self.head_vec_ = _unit(V[len(flat):]).astype(np.float32)
        V = V[:len(flat)]
        k = len(heads)
        pos = k
        theme_vec = []
        for t in range(k):
            v = V[t]
            if inc[t]:
                v = (1 - INCLUDE_WEIGHT) * v + INCLUDE_WEIGHT * V[pos:pos + len(inc[t])].mean(0)
                pos += len(inc[t])
            theme_vec.append(v)
        self.theme_vec_ = np.asarray(theme_vec, dtype=np.float32)
        self.excl_vec_ = np.asarray(V[pos:], dtype=np.float32).reshape(-1, V.shape[1])
        self.excl_theme_ = np.repeat(np.arange(k), [len(x) for x in exc]).astype(np.int64)
        self.calibrated_ = False
        # Until examples or a consultation say otherwise, the codebook's own texts set the
        # prior's statistics (so even a single answer can be scored).
        self._set_reference(Encoded(whole=V, seg=V, seg_owner=np.arange(len(V))))
        self.prior_coef_ = np.array([PRIOR_SLOPE, 0.0, 0.0, 0.0, 0.0, 0.0])
        self.lex_key_, self.comb_mu_, self.comb_sd_ = "", None, None
        self.lex_mu_ = self.lex_sd_ = np.zeros(k)
        self.prior_intercept_ = -PRIOR_SLOPE * PRIOR_MID
        self.prior_threshold_ = float(_sigmoid(PRIOR_SLOPE * (MIN_Z - PRIOR_MID)))
        self.margin_ = PRIOR_SLOPE * MARGIN_Z
        self.lr_coef_ = np.zeros((k, 0), dtype=np.float32)
        self.lr_intercept_ = np.zeros(k)
        self.n_pos_ = np.zeros(k, dtype=int)
        self.n_examples_ = 0
        self.lex_vocabulary_: list[str] = []
        self.lex_idf_ = np.zeros(0, dtype=np.float32)
        self.lex_coef_ = np.zeros((k, 0), dtype=np.float32)
        self.lex_intercept_ = np.zeros(k)
        self.stack_ = np.zeros((k, 4))  # per theme: weights of prior, LR, lexical logits; bias
        self.stacked_ = np.zeros(k, dtype=bool)  # False: probability blend by example count
        self.thresholds_ = np.full(k, self.prior_threshold_)
        self.share_offset_ = np.zeros(k)  # towards the consultation's estimated shares
        self.offset_ = np.zeros(k)  # per-theme logit offset from the examples' theme shares,
        #                             set by `calibrate`
        self._examples: Encoded | None = None  # kept to re-estimate it on each consultation
        self._examples_Y: np.ndarray | None = None  # ... and their themes, to spread them
        self._prop_keys: dict | None = None  # calibrated answers (vector bytes: row) ...
        self._prop_E: np.ndarray | None = None  # ... and their propagated log-odds moves
        self.embedder_id_ = getattr(self.embedder, "model_id", "unknown")

    def _binarize(self, Y: Any, n: int) -> np.ndarray:
        if Y is None:
            return np.zeros((0, len(self.theme_ids_)), dtype=int)
        if isinstance(Y, np.ndarray) and Y.ndim == 2:
            if Y.shape != (n, len(self.theme_ids_)):
                raise ValueError(f"Y has shape {Y.shape}; expected ({n}, {len(self.theme_ids_)})")
            return (Y > 0).astype(int)
        pos = {t: i for i, t in enumerate(self.theme_ids_)}
        out = np.zeros((n, len(self.theme_ids_)), dtype=int)
        for i, labels in enumerate(Y):
            for t in labels:
                if t not in pos:
                    raise ValueError(f"theme {t!r} is not in the codebook")
                out[i, pos[t]] = 1
        return out

    def fit(self, X: Any = None, Y: Any = None) -> "ThemeClassifier":
        """Learn from confirmed examples (or from the codebook alone when X is None).

        Args:
            X: texts, a DataFrame with a `text` column, embeddings (n, d), or `Encoded`.
            Y: (n, k) 0/1 matrix in codebook order, or a list of theme-id lists.

        Returns:
            self
        """
        self._init_from_codebook()
        if X is None or (hasattr(X, "__len__") and len(X) == 0):
            return self
        enc = _as_encoded(X, self.embedder, self.cache)
        Yb = self._binarize(Y, len(enc))
        if len(enc) >= MIN_REFERENCE:
            self._set_reference(enc)
        F, _ = self._prior(enc)
        Z = enc.whole
        n, k = len(enc), len(self.theme_ids_)
        self.n_examples_ = n
        self.n_pos_ = Yb.sum(0)
        if n >= MIN_PRIOR_REFIT and (self.n_pos_ >= 5).sum() >= 3:
            # Enough examples to recalibrate the prior on this codebook's own decisions:
            # one logistic regression over every (answer, theme) pair.
            self.prior_coef_, self.prior_intercept_ = _logreg(
                F.reshape(-1, F.shape[2]), Yb.ravel(), C=PRIOR_C)
        prior_logit = self._prior_logit(F)
        self.lr_coef_ = np.zeros((k, Z.shape[1]), dtype=np.float32)
        self.lr_intercept_ = np.full(k, -30.0)
        oof_lr = np.zeros((n, k))
        folds = min(self.cv, n)
        splits = list(KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
                      .split(Z)) if folds >= 2 else []
        for t in range(k):
            y = Yb[:, t]
            if 0 < y.sum() < n:
                lr = self._lr().fit(Z, y)
                self.lr_coef_[t], self.lr_intercept_[t] = lr.coef_[0], lr.intercept_[0]
            else:
                self.lr_intercept_[t] = 30.0 if y.sum() else -30.0
            oof_lr[:, t] = Z @ self.lr_coef_[t] + self.lr_intercept_[t]
            for tr, te in splits:
                yt = y[tr]
                if 0 < yt.sum() < len(yt):
                    oof_lr[te, t] = self._lr().fit(Z[tr], yt).decision_function(Z[te])
                else:
                    oof_lr[te, t] = 30.0 if yt.sum() else -30.0
        oof_lex = self._fit_lexical(enc.texts, Yb, splits) if (
            enc.texts is not None and n >= MIN_LEXICAL and splits) else np.zeros((n, k))
        oof = np.zeros((n, k))
        self.thresholds_ = np.full(k, self.prior_threshold_)
        for t in range(k):
            y = Yb[:, t]
            if splits and n >= MIN_STACK and min(y.sum(), n - y.sum()) >= MIN_CALIBRATION:
                self.stack_[t] = self._fit_stack(
                    np.column_stack([prior_logit[:, t], oof_lr[:, t], oof_lex[:, t]]), y)
                self.stacked_[t] = True
                oof[:, t] = self._stacked(t, prior_logit[:, t], oof_lr[:, t], oof_lex[:, t])
                # For calibrated probabilities the F1-optimal cut is half the best F1
                # (Lipton, Elkan & Naryanaswamy 2014): a steadier estimate than the arg-max
                # cut itself, which jumps with a handful of out-of-fold examples.
                best = _f1(y, oof[:, t] >= best_threshold(y, oof[:, t]))
                self.thresholds_[t] = float(np.clip(best / 2, 0.05, 0.95))
            else:
                oof[:, t] = self._blend(t, prior_logit[:, t], oof_lr[:, t])
        if n >= MIN_RULE_EXAMPLES:
            # Enough examples to choose how relative the decision is (ties: the cold rule).
            scores = {m: _f1(Yb, relative_rule(oof, self.thresholds_, PRIOR_SLOPE * m,
                                               at_least_one=self._cold_prior()))
                      for m in _MARGIN_GRID}
            best_m = max(_MARGIN_GRID, key=lambda m: (round(scores[m], 9), m == MARGIN_Z))
            self.margin_ = float(PRIOR_SLOPE * best_m) if np.isfinite(best_m) else 1e9
        self.oof_proba_ = oof
        # The examples' theme shares are compared with what the prior expects of them under
        # the statistics of the consultation being coded, so only `calibrate` sets offset_
        # (estimated under the examples' own statistics it gained little: RESULTS.md).
        self._examples = enc
        self._examples_Y = Yb
        return self

    def _lr(self) -> LogisticRegression:
        # liblinear: ~5 ms a fit at this size, several times faster than lbfgs, so a retrain
        # (k themes x (cv + 1) fits) stays well under a second.
        return LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                  max_iter=300)

    def _fit_lexical(self, texts: list[str], Yb: np.ndarray, splits) -> np.ndarray:
        """Fit the TF-IDF part (words and word pairs of the examples, one class-balanced
        logistic regression per theme); returns its out-of-fold logits."""
        def vectorizer(**kw):
            return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                   stop_words="english", **kw)

        def fit_logits(Xtr, Ytr, Xte):
            out = np.zeros((Xte.shape[0], Ytr.shape[1]))
            coef = np.zeros((Ytr.shape[1], Xtr.shape[1]), dtype=np.float32)
            bias = np.zeros(Ytr.shape[1])
            for t in range(Ytr.shape[1]):
                y = Ytr[:, t]
                if 0 < y.sum() < len(y):
                    lr = LogisticRegression(C=LEXICAL_C, class_weight="balanced",
                                            solver="liblinear", max_iter=300).fit(Xtr, y)
                    coef[t], bias[t] = lr.coef_[0], lr.intercept_[0]
                else:
                    bias[t] = 30.0 if y.sum() else -30.0
                out[:, t] = Xte @ coef[t] + bias[t]
            return out, coef, bias

        n, k = Yb.shape
        oof = np.zeros((n, k))
        for tr, te in splits:
            vec = vectorizer(min_df=1).fit([texts[i] for i in tr])
            oof[te] = fit_logits(vec.transform([texts[i] for i in tr]), Yb[tr],
                                 vec.transform([texts[i] for i in te]))[0]
        vec = vectorizer(min_df=2).fit(texts)
        _, self.lex_coef_, self.lex_intercept_ = fit_logits(vec.transform(texts), Yb,
                                                            vec.transform(texts[:1]))
        self.lex_vocabulary_ = vec.get_feature_names_out().tolist()
        self.lex_idf_ = vec.idf_.astype(np.float32)
        self._lex_vec = self._lex_digest = None
        return np.clip(oof, -30, 30)

    def _lexical_logit(self, enc: Encoded) -> np.ndarray:
        k = len(self.theme_ids_)
        if not len(getattr(self, "lex_vocabulary_", [])) or enc.texts is None:
            return np.zeros((len(enc), k))  # no lexical part (or bare vectors): no say
        if getattr(self, "_lex_vec", None) is None:

            self._lex_vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                            stop_words="english",
                                            vocabulary=self.lex_vocabulary_)
            self._lex_vec.idf_ = self.lex_idf_
        key = getattr(self, "_lex_digest", None)
        if key is None:
            key = self._lex_digest = hashlib.sha256("\x00".join(self.lex_vocabulary_).encode(
                "utf-8", "replace") + self.lex_idf_.tobytes()).hexdigest()
        X = enc.memo.get(key)
        if X is None:
            enc.memo.clear()  # one vocabulary's matrix at a time
            X = enc.memo[key] = self._lex_vec.transform(enc.texts)
        return np.clip(np.asarray(X @ self.lex_coef_.T) + self.lex_intercept_, -30, 30)

    @staticmethod
    def _fit_stack(X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[a, b, d, c] of p = sigmoid(a * prior_logit + b * lr_logit + d * lexical_logit +
        c), fitted on out-of-fold scores (the columns of X); a score that gets a negative
        weight, or carries nothing, is dropped."""
        X = np.clip(X, -30, 30)
        keep = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) > 0]
        while True:
            w, b = _logreg(X[:, keep], y, C=1.0)
            if (w >= 0).all() or len(keep) == 1:
                break
            keep = [j for j, wj in zip(keep, w) if wj > 0] or [keep[int(np.argmax(w))]]
        out = np.zeros(4)
        out[keep] = np.maximum(w, 0)
        out[3] = b
        return out

    def _stacked(self, t: int, prior_logit: np.ndarray, lr_logit: np.ndarray,
                 lex_logit: np.ndarray) -> np.ndarray:
        a, b, d, c = self.stack_[t]
        return _sigmoid(a * prior_logit + b * np.clip(lr_logit, -30, 30)
                        + d * np.clip(lex_logit, -30, 30) + c)

    def _blend(self, t: int, prior_logit: np.ndarray, lr_logit: np.ndarray) -> np.ndarray:
        """Learned and prior probabilities mixed by how many positive examples there are. The
        class-balanced regression's odds are moved back to the examples' own
        (+ log(n_pos / n_neg)), so both parts are probabilities on the same scale."""
        n_pos = float(self.n_pos_[t])
        if n_pos < MIN_LEARNED:
            return _sigmoid(prior_logit)
        n_neg = max(float(self.n_examples_) - n_pos, 1.0)
        w = n_pos / (n_pos + self.prior_strength)
        return w * _sigmoid(lr_logit + np.log(n_pos / n_neg)) + (1 - w) * _sigmoid(prior_logit)

    # -- prediction ----------------------------------------------------------------------------
    def _score(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        k = len(self.theme_ids_)
        if len(enc) == 0:
            return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
        F, arg = self._prior(enc)
        prior_logit = self._prior_logit(F) + (
            self.share_offset_ if self.calibrated_ else self._share_offset(enc, F[..., 0]))
        if self.lr_coef_.shape[1]:
            lr_logit = enc.whole @ self.lr_coef_.T + self.lr_intercept_
        else:
            lr_logit = np.full_like(prior_logit, -30.0)
        lex_logit = self._lexical_logit(enc)
        proba = np.column_stack([
            self._stacked(t, prior_logit[:, t], lr_logit[:, t], lex_logit[:, t])
            if self.stacked_[t]
            else self._blend(t, prior_logit[:, t], lr_logit[:, t]) for t in range(k)])
        if getattr(self, "_prop_E", None) is not None:  # the consultation's own answers
            rows = np.array([self._prop_keys.get(r.tobytes(), -1) for r in enc.whole])
            hit = rows >= 0
            if hit.any():
                proba[hit] = _sigmoid(_logit(proba[hit]) + self._prop_E[rows[hit]])
        return proba, arg

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) probability of each theme for each answer, in codebook order."""
        check_is_fitted(self, "thresholds_")
        return self._score(_as_encoded(X, self.embedder, self.cache))[0]

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """(n, k) bool: the themes the model suggests, given its probabilities."""
        check_is_fitted(self, "thresholds_")
        # Every answer gets its best theme while the prior is the codebook's; a prior refitted
        # on examples has learned when none applies (always one cost the bundled corpus 0.02
        # with all training reports: RESULTS.md).
        return relative_rule(proba, self.thresholds_, self.margin_,
                             at_least_one=self._cold_prior())

    def score_batch(self, X: Any) -> Scored:
        """Probabilities, decisions and evidence sentences of a batch in one pass."""
        check_is_fitted(self, "thresholds_")
        enc = _as_encoded(X, self.embedder, self.cache)
        proba, arg = self._score(enc)
        spans = enc.seg_span[np.maximum(arg, 0)] if len(enc.seg_span) else \
            np.full(arg.shape + (2,), -1, dtype=np.int64)
        spans = np.where((arg >= 0)[..., None], spans, -1)
        return Scored(proba=proba, chosen=self.decide(proba), evidence=spans)

    def predict(self, X: Any) -> np.ndarray:
        """(n, k) 0/1 matrix of the suggested themes."""
        return self.decide(self.predict_proba(X)).astype(int)

    def score(self, X: Any, y: Any, sample_weight=None) -> float:
        """Micro-averaged F1 (the usual multi-label score)."""
        return float(f1_score(self._binarize(y, len(y)), self.predict(X), average="micro",
                              zero_division=0))

    def themes_of(self, proba: np.ndarray) -> list[list[str]]:
        """Suggested theme ids per row of `proba`, most probable first."""
        chosen = self.decide(proba)
        return [[self.theme_ids_[t] for t in np.argsort(-row, kind="stable") if keep[t]]
                for row, keep in zip(proba, chosen)]


def subset(enc: Encoded, idx: Sequence[int]) -> Encoded:
    """Rows `idx` of an Encoded, in that order (segments follow their answers)."""
    idx = np.asarray(idx, dtype=int)
    if len(idx) == 0:
        return Encoded(whole=enc.whole[:0], seg=enc.seg[:0], seg_owner=enc.seg_owner[:0],
                       seg_span=enc.seg_span[:0], texts=[] if enc.texts is not None else None)
    starts = np.flatnonzero(np.r_[True, enc.seg_owner[1:] != enc.seg_owner[:-1]])
    ends = np.r_[starts[1:], len(enc.seg_owner)]
    where = np.full(len(enc), -1)
    where[enc.seg_owner[starts]] = np.arange(len(starts))
    blocks = where[idx]
    rows = np.concatenate([np.arange(starts[b], ends[b]) for b in blocks])
    owner = np.repeat(np.arange(len(idx)), ends[blocks] - starts[blocks])
    return Encoded(whole=enc.whole[idx], seg=enc.seg[rows], seg_owner=owner,
                   seg_span=enc.seg_span[rows],
                   texts=[enc.texts[i] for i in idx] if enc.texts is not None else None,
                   lexical=enc.lexical[idx] if enc.lexical is not None else None,
                   lexical_key=enc.lexical_key)


def select_C(X: Any, Y: Any, groups: Sequence, *, codebook: Codebook, embedder, cache=None,
             grid: Sequence[float] = C_GRID, **params) -> tuple[float, dict[str, dict[str, float]]]:
    """Choose C by leave-one-group-out (e.g. one report out) on these examples only: the
    lowest log loss of the held-out probabilities (a proper score, far steadier than F1
    after thresholding on a few hundred answers); ties go to the smaller C.

    Returns:
        (best C, {str(C): {"log_loss", "micro_f1"}} of the held-out predictions).
    """
    groups = np.asarray(groups)
    probe = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
    probe._init_from_codebook()
    enc = _as_encoded(X, embedder, cache)
    Yb = probe._binarize(Y, len(enc))
    scores: dict[str, dict[str, float]] = {}
    for c in sorted(grid):
        gold, proba, pred = [], [], []
        for g in np.unique(groups):
            tr, te = np.flatnonzero(groups != g), np.flatnonzero(groups == g)
            clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache, C=c,
                                  **params).fit(subset(enc, tr), Yb[tr])
            p = clf.predict_proba(subset(enc, te))
            proba.append(p)
            pred.append(clf.decide(p).astype(int))
            gold.append(Yb[te])
        G, P = np.vstack(gold), np.clip(np.vstack(proba), 1e-6, 1 - 1e-6)
        scores[str(c)] = {
            "log_loss": float(-np.mean(G * np.log(P) + (1 - G) * np.log(1 - P))),
            "micro_f1": float(f1_score(G, np.vstack(pred), average="micro", zero_division=0))}
    best = min(sorted(grid), key=lambda c: (round(scores[str(c)]["log_loss"], 6), c))
    return float(best), scores
