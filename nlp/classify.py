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

# Shared calibration of the definition prior: logit = w . [seg_max, whole, margin, excl] + b.
# Theme-agnostic (features are cosine similarities and margins between themes), fitted once on
# the bundled corpus with leave-one-report-out and used for any codebook until examples exist.
DEFAULT_PRIOR_COEF = np.array([9.0, 4.0, 10.0, -4.0])
DEFAULT_PRIOR_INTERCEPT = -6.0
MIN_CALIBRATION = 8
MIN_PRIOR_REFIT = 60


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


class ThemeClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label codebook classifier (scikit-learn estimator).

    Args:
        codebook: the themes; their order is the column order of Y and of predict_proba.
        embedder: an `nlp.embed.Embedder` (needed when X holds texts, not embeddings).
        cache: an `nlp.embed.EmbeddingCache`, so nothing is embedded twice.
        C: inverse regularisation of the per-theme logistic regressions.
        prior_strength: examples at which learned and definition scores weigh the same.
        cv: folds for out-of-fold calibration and thresholds.
        random_state: seed for the folds.
    """

    def __init__(self, codebook: Codebook | None = None, embedder=None, *, cache=None,
                 C: float = 10.0, prior_strength: float = 4.0, cv: int = 5,
                 random_state: int = 0) -> None:
        self.codebook = codebook
        self.embedder = embedder
        self.cache = cache
        self.C = C
        self.prior_strength = prior_strength
        self.cv = cv
        self.random_state = random_state

    # -- features --------------------------------------------------------------------------
    def _prior_features(self, enc: Encoded) -> np.ndarray:
        """(n, k, 4): best segment similarity, whole-answer similarity, margin over the other
        themes, similarity to the theme's exclude examples."""
        k = len(self.theme_ids_)
        pos, neg = self.proto_sign_ > 0, self.proto_sign_ < 0
        sw = enc.whole @ self.proto_.T
        ss = enc.seg @ self.proto_.T
        n = len(enc)
        whole = np.full((n, k), -1.0, dtype=np.float32)
        seg = np.full((n, k), -1.0, dtype=np.float32)
        excl = np.zeros((n, k), dtype=np.float32)
        starts = np.flatnonzero(np.r_[True, enc.seg_owner[1:] != enc.seg_owner[:-1]])
        owners = enc.seg_owner[starts]
        for t in range(k):
            cols = np.flatnonzero(pos & (self.proto_theme_ == t))
            whole[:, t] = sw[:, cols].max(1)
            seg[owners, t] = np.maximum.reduceat(ss[:, cols].max(1), starts)
            ecols = np.flatnonzero(neg & (self.proto_theme_ == t))
            if len(ecols):
                excl[:, t] = np.maximum(sw[:, ecols].max(1), 0)
        seg = np.maximum(seg, whole)
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
        self.prior_coef_ = DEFAULT_PRIOR_COEF.copy()
        self.prior_intercept_ = float(DEFAULT_PRIOR_INTERCEPT)
        k = len(self.theme_ids_)
        self.lr_coef_ = np.zeros((k, 0), dtype=np.float32)
        self.lr_intercept_ = np.zeros(k)
        self.n_pos_ = np.zeros(k, dtype=int)
        self.n_examples_ = 0
        self.platt_ = np.tile([1.0, 0.0], (k, 1))
        self.thresholds_ = np.full(k, 0.5)
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
        k = len(self.theme_ids_)
        self.n_examples_ = len(enc)
        self.n_pos_ = Yb.sum(0)
        if len(enc) >= MIN_PRIOR_REFIT and (self.n_pos_ >= 5).sum() >= 3:
            # Enough examples to recalibrate the shared prior on this codebook's own data.
            pl = LogisticRegression(C=1.0, max_iter=500).fit(F.reshape(-1, F.shape[2]),
                                                            Yb.ravel())
            self.prior_coef_, self.prior_intercept_ = pl.coef_[0], float(pl.intercept_[0])
        prior_logit = self._prior_logit(F)
        self.lr_coef_ = np.zeros((k, Z.shape[1]), dtype=np.float32)
        self.lr_intercept_ = np.full(k, -30.0)
        oof = np.zeros((len(enc), k))
        folds = min(self.cv, max(2, int(self.n_pos_[self.n_pos_ > 0].min(initial=2))))
        kf = KFold(n_splits=folds, shuffle=True, random_state=self.random_state) \
            if len(enc) >= folds else None
        for t in range(k):
            y = Yb[:, t]
            if 0 < y.sum() < len(y):
                lr = self._lr().fit(Z, y)
                self.lr_coef_[t], self.lr_intercept_[t] = lr.coef_[0], lr.intercept_[0]
            if kf is None:
                oof[:, t] = self._blend(prior_logit[:, t], Z @ self.lr_coef_[t]
                                        + self.lr_intercept_[t], y.sum())
                continue
            for tr, te in kf.split(Z):
                yt = y[tr]
                if 0 < yt.sum() < len(yt):
                    lr = self._lr().fit(Z[tr], yt)
                    lr_logit = lr.decision_function(Z[te])
                else:
                    lr_logit = np.full(len(te), 30.0 if yt.sum() else -30.0)
                oof[te, t] = self._blend(prior_logit[te, t], lr_logit, yt.sum())
        self._calibrate(oof, Yb)
        self.oof_proba_ = self._apply_platt(oof)
        return self

    def _lr(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=300)

    def _blend(self, prior_logit: np.ndarray, lr_logit: np.ndarray, n_pos: float) -> np.ndarray:
        """Learned and prior probabilities mixed by how many positive examples there are."""
        w = n_pos / (n_pos + self.prior_strength)
        return w * _sigmoid(lr_logit) + (1 - w) * _sigmoid(prior_logit)

    def _calibrate(self, oof: np.ndarray, Y: np.ndarray) -> None:
        """Platt scaling and an F1-best threshold per theme, from out-of-fold scores.

        With few examples both are too noisy to trust: a theme keeps the identity mapping
        and the 0.5 threshold until it has MIN_CALIBRATION positives and negatives."""
        k = Y.shape[1]
        for t in range(k):
            y, s = Y[:, t], _logit(oof[:, t])
            if y.sum() < MIN_CALIBRATION or (len(y) - y.sum()) < MIN_CALIBRATION:
                continue
            pl = LogisticRegression(C=1.0).fit(s[:, None], y)
            if pl.coef_[0, 0] <= 0.1:  # scores carry no signal out of fold: leave them be
                continue
            self.platt_[t] = [pl.coef_[0, 0], pl.intercept_[0]]
            p = _sigmoid(self.platt_[t, 0] * s + self.platt_[t, 1])
            grid = np.unique(np.round(p, 3))
            f1 = [self._f1(y, p >= g) for g in grid]
            self.thresholds_[t] = float(np.clip(grid[int(np.argmax(f1))], 0.05, 0.95))

    @staticmethod
    def _f1(y: np.ndarray, pred: np.ndarray) -> float:
        tp = float((y & pred).sum())
        return 2 * tp / max(1.0, float(y.sum() + pred.sum()))

    def _apply_platt(self, p: np.ndarray) -> np.ndarray:
        s = _logit(p)
        return _sigmoid(s * self.platt_[:, 0] + self.platt_[:, 1])

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
        p = np.column_stack([self._blend(prior_logit[:, t], lr_logit[:, t], self.n_pos_[t])
                             for t in range(len(self.theme_ids_))])
        return self._apply_platt(p)

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
