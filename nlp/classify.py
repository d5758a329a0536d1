"""Classify stage: a multi-label theme classifier on sentence embeddings.

Two parts, blended: a *definition prior* that scores every answer (and each of its sentences)
against each theme's label, definition and include/exclude examples, so coding works from a
codebook alone; and per-theme logistic regressions trained on researcher-confirmed examples,
whose weight grows with the number of examples. Probabilities are Platt-calibrated and
thresholds chosen per theme on out-of-fold predictions.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from .segment import split_segments
from .types import Codebook

log = logging.getLogger(__name__)

# Shared calibration of the definition prior: logit = w . [seg_max, whole, margin, excl] + b, and
# the threshold that goes with it. Theme-agnostic (the features are cosine similarities and
# margins between themes), so they serve any codebook until it has examples of its own.
# Fitted with `fit_prior` on every unit of the bundled corpus: reproduce with
# `python evaluation/eval_classify.py --fit-prior` (the leave-one-report-out evaluation refits
# them on the three training reports of each fold instead, so a test report never sets them).
DEFAULT_PRIOR_COEF = np.array([2.0, 3.33, 9.28, -2.27])
DEFAULT_PRIOR_INTERCEPT = -4.04
DEFAULT_PRIOR_THRESHOLD = 0.28
PRIOR_C = 100.0  # five parameters on (answers x themes) pairs: barely regularised
MIN_CALIBRATION = 8  # positives and negatives a theme needs for its own combiner and threshold
MIN_PRIOR_REFIT = 60  # examples (with >= 3 themes of >= 5 positives) to refit the prior
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
# Default inverse regularisation of the per-theme regressions: the value `select_C` picks by
# leave-one-report-out on the bundled corpus (`eval_classify.py --select-C`).
DEFAULT_C = 3.0


@dataclass
class Encoded:
    """Embeddings of answers and of their segments: `seg_owner[i]` is segment i's answer."""

    whole: np.ndarray
    seg: np.ndarray
    seg_owner: np.ndarray

    def __len__(self) -> int:
        return len(self.whole)


def encode(texts: Sequence[str], embedder, *, cache=None, progress: bool = False) -> Encoded:
    """Embed answers and their sentence segments (each distinct text once, cached)."""
    from .embed import embed_texts

    texts = [str(t) for t in texts]
    segs = [split_segments(t) for t in texts]
    flat = [s for ss in segs for s in ss]
    owner = np.repeat(np.arange(len(texts)), [len(ss) for ss in segs])
    vecs = embed_texts(texts + flat, embedder=embedder, cache=cache, progress=progress)
    return Encoded(whole=vecs[:len(texts)], seg=vecs[len(texts):], seg_owner=owner)


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


def theme_prototypes(codebook: Codebook) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The texts that stand for each theme: (texts, theme index, sign +1 include / -1 exclude)."""
    texts, idx, sign = [], [], []
    for k, t in enumerate(codebook.themes):
        for s in (f"{t.label}: {t.definition}", t.definition, *t.include):
            texts.append(s)
            idx.append(k)
            sign.append(1)
        for s in t.exclude:
            texts.append(s.split(" (")[0])  # drop "(other_theme)" pointers
            idx.append(k)
            sign.append(-1)
    return texts, np.array(idx), np.array(sign)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


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


def fit_prior(F: np.ndarray, Y: np.ndarray, *, C: float = PRIOR_C) -> tuple[np.ndarray, float,
                                                                            float]:
    """Fit the theme-agnostic definition prior: one logistic regression over every
    (answer, theme) pair of the 4 prior features, and the F1-best threshold on its
    probabilities.

    Args:
        F: (n, k, 4) prior features (`ThemeClassifier._prior_features`).
        Y: (n, k) 0/1 gold.

    Returns:
        (coef (4,), intercept, threshold).
    """
    X, y = F.reshape(-1, F.shape[2]), np.asarray(Y).ravel()
    coef, b = _logreg(X, y, C=C)
    return coef, b, best_threshold(y, _sigmoid(X @ coef + b))


class ThemeClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label codebook classifier (scikit-learn estimator).

    Each theme is scored two ways: a *definition prior* (similarity of the answer and of its
    best sentence to the theme's label, definition and include examples, against the other
    themes and the theme's exclude examples; one theme-agnostic logistic calibration), and a
    class-balanced logistic regression on the answer's embedding trained on confirmed
    examples. A theme with at least MIN_CALIBRATION positive and negative examples combines
    the two with a small logistic regression fitted on out-of-fold scores (stacking: it learns
    how far to trust each, and its output is a calibrated probability) and gets its own
    threshold, half the best F1 its out-of-fold probabilities reach. A theme with fewer
    examples mixes the two probabilities with weight n_pos / (n_pos + prior_strength) on the
    learned one and keeps the prior's threshold.

    Args:
        codebook: the themes; their order is the column order of Y and of predict_proba.
        embedder: an `nlp.embed.Embedder` (needed when X holds texts, not embeddings).
        cache: an `nlp.embed.EmbeddingCache`, so nothing is embedded twice.
        C: inverse regularisation of the per-theme logistic regressions.
        prior_strength: for themes with few examples, the positives at which learned and
            definition scores weigh the same.
        cv: folds for the out-of-fold scores.
        random_state: seed for the folds.
        prior: (coef, intercept, threshold) of the definition prior to start from (default:
            DEFAULT_PRIOR_*); refitted on the examples when there are enough.
    """

    def __init__(self, codebook: Codebook | None = None, embedder=None, *, cache=None,
                 C: float = DEFAULT_C, prior_strength: float = 4.0, cv: int = 5,
                 random_state: int = 0, prior: tuple | None = None) -> None:
        self.codebook = codebook
        self.embedder = embedder
        self.cache = cache
        self.C = C
        self.prior_strength = prior_strength
        self.cv = cv
        self.random_state = random_state
        self.prior = prior

    # -- features --------------------------------------------------------------------------
    def _prior_features(self, enc: Encoded) -> np.ndarray:
        """(n, k, 4): best segment similarity, whole-answer similarity, margin over the other
        themes, similarity to the theme's exclude examples."""
        k = len(self.theme_ids_)
        theme, sign = np.asarray(self.proto_theme_), np.asarray(self.proto_sign_)
        pos = np.flatnonzero(sign > 0)
        pos = pos[np.argsort(theme[pos], kind="stable")]
        pstart = np.flatnonzero(np.r_[True, theme[pos][1:] != theme[pos][:-1]])
        n = len(enc)
        P = self.proto_[pos].T
        whole = np.maximum.reduceat(enc.whole @ P, pstart, axis=1)  # (n, k)
        seg_t = np.maximum.reduceat(enc.seg @ P, pstart, axis=1)  # (n_seg, k)
        starts = np.flatnonzero(np.r_[True, enc.seg_owner[1:] != enc.seg_owner[:-1]])
        seg = np.full((n, k), -1.0, dtype=np.float32)
        seg[enc.seg_owner[starts]] = np.maximum.reduceat(seg_t, starts, axis=0)
        seg = np.maximum(seg, whole)
        excl = np.zeros((n, k), dtype=np.float32)
        neg = np.flatnonzero(sign < 0)
        if len(neg):
            neg = neg[np.argsort(theme[neg], kind="stable")]
            nstart = np.flatnonzero(np.r_[True, theme[neg][1:] != theme[neg][:-1]])
            excl[:, theme[neg][nstart]] = np.maximum(
                np.maximum.reduceat(enc.whole @ self.proto_[neg].T, nstart, axis=1), 0)
        margin = seg - seg.mean(1, keepdims=True)
        return np.stack([seg, whole, margin, excl], axis=2)

    def _prior_logit(self, F: np.ndarray) -> np.ndarray:
        return F @ self.prior_coef_ + self.prior_intercept_

    def _lr_features(self, enc: Encoded, F: np.ndarray) -> np.ndarray:
        return np.hstack([enc.whole, F[:, :, 0]])

    # -- fitting ---------------------------------------------------------------------------
    def _init_from_codebook(self) -> None:
        if self.codebook is None:
            raise ValueError("ThemeClassifier needs a codebook")
        self.theme_ids_ = list(self.codebook.theme_ids)
        texts, idx, sign = theme_prototypes(self.codebook)
        if self.embedder is None:
            raise ValueError("ThemeClassifier needs an embedder to embed the theme definitions")
        from .embed import embed_texts

        self.proto_ = embed_texts(texts, embedder=self.embedder, cache=self.cache)
        self.proto_theme_, self.proto_sign_ = idx, sign
        coef, b, thr = self.prior if self.prior is not None else (
            DEFAULT_PRIOR_COEF, DEFAULT_PRIOR_INTERCEPT, DEFAULT_PRIOR_THRESHOLD)
        self.prior_coef_ = np.asarray(coef, dtype=float).copy()
        self.prior_intercept_ = float(b)
        self.prior_threshold_ = float(thr)
        k = len(self.theme_ids_)
        self.lr_coef_ = np.zeros((k, 0), dtype=np.float32)
        self.lr_intercept_ = np.zeros(k)
        self.n_pos_ = np.zeros(k, dtype=int)
        self.n_examples_ = 0
        self.stack_ = np.zeros((k, 3))  # per theme: weight of prior logit, of LR logit, bias
        self.stacked_ = np.zeros(k, dtype=bool)  # False: probability blend by example count
        self.thresholds_ = np.full(k, self.prior_threshold_)
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
        F = self._prior_features(enc)
        Z = self._lr_features(enc, F)
        n, k = len(enc), len(self.theme_ids_)
        self.n_examples_ = n
        self.n_pos_ = Yb.sum(0)
        if n >= MIN_PRIOR_REFIT and (self.n_pos_ >= 5).sum() >= 3:
            # Enough examples to recalibrate the shared prior on this codebook's own data.
            self.prior_coef_, self.prior_intercept_, self.prior_threshold_ = fit_prior(F, Yb)
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
        oof = np.zeros((n, k))
        self.thresholds_ = np.full(k, self.prior_threshold_)
        for t in range(k):
            y = Yb[:, t]
            if splits and min(y.sum(), n - y.sum()) >= MIN_CALIBRATION:
                self.stack_[t] = self._fit_stack(prior_logit[:, t], oof_lr[:, t], y)
                self.stacked_[t] = True
                oof[:, t] = self._stacked(t, prior_logit[:, t], oof_lr[:, t])
                # For calibrated probabilities the F1-optimal cut is half the best F1
                # (Lipton, Elkan & Naryanaswamy 2014): a steadier estimate than the arg-max
                # cut itself, which jumps with a handful of out-of-fold examples.
                best = _f1(y, oof[:, t] >= best_threshold(y, oof[:, t]))
                self.thresholds_[t] = float(np.clip(best / 2, 0.05, 0.95))
            else:
                oof[:, t] = self._blend(t, prior_logit[:, t], oof_lr[:, t])
        self.oof_proba_ = oof
        return self

    def _lr(self) -> LogisticRegression:
        # liblinear: ~5 ms a fit at this size, several times faster than lbfgs, so a retrain
        # (k themes x (cv + 1) fits) stays well under a second.
        return LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                  max_iter=300)

    @staticmethod
    def _fit_stack(prior_logit: np.ndarray, lr_logit: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[a, b, c] of p = sigmoid(a * prior_logit + b * lr_logit + c), fitted on out-of-fold
        scores; a score that gets a negative weight is dropped (it carries no signal)."""
        X = np.column_stack([prior_logit, np.clip(lr_logit, -30, 30)])
        keep = [0, 1]
        while True:
            w, b = _logreg(X[:, keep], y, C=1.0)
            if (w >= 0).all() or len(keep) == 1:
                break
            keep = [keep[int(np.argmax(w))]]
        out = np.zeros(3)
        out[keep] = np.maximum(w, 0)
        out[2] = b
        return out

    def _stacked(self, t: int, prior_logit: np.ndarray, lr_logit: np.ndarray) -> np.ndarray:
        a, b, c = self.stack_[t]
        return _sigmoid(a * prior_logit + b * np.clip(lr_logit, -30, 30) + c)

    def _blend(self, t: int, prior_logit: np.ndarray, lr_logit: np.ndarray) -> np.ndarray:
        """Learned and prior probabilities mixed by how many positive examples there are. The
        class-balanced regression's odds are moved back to the examples' own
        (+ log(n_pos / n_neg)), so both parts are probabilities on the same scale."""
        n_pos = float(self.n_pos_[t])
        if n_pos == 0:
            return _sigmoid(prior_logit)
        n_neg = max(float(self.n_examples_) - n_pos, 1.0)
        w = n_pos / (n_pos + self.prior_strength)
        return w * _sigmoid(lr_logit + np.log(n_pos / n_neg)) + (1 - w) * _sigmoid(prior_logit)

    # -- prediction ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) probability of each theme for each answer, in codebook order."""
        check_is_fitted(self, "thresholds_")
        enc = _as_encoded(X, self.embedder, self.cache)
        if len(enc) == 0:
            return np.zeros((0, len(self.theme_ids_)))
        F = self._prior_features(enc)
        prior_logit = self._prior_logit(F)
        if self.lr_coef_.shape[1]:
            lr_logit = self._lr_features(enc, F) @ self.lr_coef_.T + self.lr_intercept_
        else:
            lr_logit = np.full_like(prior_logit, -30.0)
        return np.column_stack([
            self._stacked(t, prior_logit[:, t], lr_logit[:, t]) if self.stacked_[t]
            else self._blend(t, prior_logit[:, t], lr_logit[:, t])
            for t in range(len(self.theme_ids_))])

    def predict(self, X: Any) -> np.ndarray:
        """(n, k) 0/1 matrix: themes whose probability reaches their threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    def score(self, X: Any, y: Any, sample_weight=None) -> float:
        """Micro-averaged F1 (the usual multi-label score)."""
        from sklearn.metrics import f1_score

        return float(f1_score(self._binarize(y, len(y)), self.predict(X), average="micro",
                              zero_division=0))

    def themes_of(self, proba: np.ndarray) -> list[list[str]]:
        """Theme ids over threshold, per row of `proba`."""
        return [[self.theme_ids_[t] for t in np.flatnonzero(row >= self.thresholds_)]
                for row in proba]


def subset(enc: Encoded, idx: Sequence[int]) -> Encoded:
    """Rows `idx` of an Encoded, in that order (segments follow their answers)."""
    idx = np.asarray(idx, dtype=int)
    if len(idx) == 0:
        return Encoded(whole=enc.whole[:0], seg=enc.seg[:0], seg_owner=enc.seg_owner[:0])
    starts = np.flatnonzero(np.r_[True, enc.seg_owner[1:] != enc.seg_owner[:-1]])
    ends = np.r_[starts[1:], len(enc.seg_owner)]
    where = np.full(len(enc), -1)
    where[enc.seg_owner[starts]] = np.arange(len(starts))
    blocks = where[idx]
    rows = np.concatenate([np.arange(starts[b], ends[b]) for b in blocks])
    owner = np.repeat(np.arange(len(idx)), ends[blocks] - starts[blocks])
    return Encoded(whole=enc.whole[idx], seg=enc.seg[rows], seg_owner=owner)


def select_C(X: Any, Y: Any, groups: Sequence, *, codebook: Codebook, embedder, cache=None,
             grid: Sequence[float] = C_GRID, prior: tuple | None = None,
             **params) -> tuple[float, dict[str, dict[str, float]]]:
    """Choose C by leave-one-group-out (e.g. one report out) on these examples only: the
    lowest log loss of the held-out probabilities (a proper score, far steadier than F1
    after thresholding on a few hundred answers); ties go to the smaller C.

    Returns:
        (best C, {str(C): {"log_loss", "micro_f1"}} of the held-out predictions).
    """
    from sklearn.metrics import f1_score

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
                                  prior=prior, **params).fit(subset(enc, tr), Yb[tr])
            p = clf.predict_proba(subset(enc, te))
            proba.append(p)
            pred.append((p >= clf.thresholds_).astype(int))
            gold.append(Yb[te])
        G, P = np.vstack(gold), np.clip(np.vstack(proba), 1e-6, 1 - 1e-6)
        scores[str(c)] = {
            "log_loss": float(-np.mean(G * np.log(P) + (1 - G) * np.log(1 - P))),
            "micro_f1": float(f1_score(G, np.vstack(pred), average="micro", zero_division=0))}
    best = min(sorted(grid), key=lambda c: (round(scores[str(c)]["log_loss"], 6), c))
    return float(best), scores
