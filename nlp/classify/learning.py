"""Classify stage: learning from confirmed examples.

Per theme a class-balanced logistic regression on the answers' embeddings, whose say grows
with the theme's positive examples (a blend by count); with enough examples in all, a TF-IDF
logistic regression on the examples' words joins, and the three logits (prior, embedding,
words) are stacked by a small logistic regression fitted on out-of-fold scores. The examples'
theme shares correct the prior where they stand far from what it expects
(`prevalence_offset`), and their residuals spread over the consultation's own answers
(`spread`, over `nlp.classify.propagate`'s graph).
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ._maths import logreg, sigmoid
from .encoded import Encoded
from .propagate import MAX_ANSWERS as PROPAGATE_MAX
from .propagate import knn_graph, propagate

MIN_REFERENCE = 30  # examples from which they, not the codebook's texts, are the reference
PREVALENCE_PSEUDO = 1.0  # pseudo-count of the theme-share correction (see prevalence_offset)
MIN_LEARNED = 1  # positive examples from which a theme's own regression has a say
MIN_CALIBRATION = 8  # positives and negatives a theme needs for its own combiner and threshold
# Below 100 examples in all, what is fitted on out-of-fold scores of the examples (a stacked
# combiner and threshold per theme, the TF-IDF part, the decision rule) and the refitted prior
# cost the development consultations 0.01-0.06 samples-F1 against the codebook alone at 40, 60
# and 80 examples (evaluation/RESULTS.md): with fewer, the prior and the regressions are
# blended by count.
MIN_STACK = 100  # ... and examples in all
MIN_LEXICAL = 100  # examples from which the TF-IDF part is fitted and stacked
MIN_PRIOR_REFIT = 100  # examples (with >= 3 themes of >= 5 positives) to refit the prior
PRIOR_C = 100.0  # three parameters on (answers x themes) pairs: barely regularised
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
LEXICAL_C = 1.0  # TF-IDF regressions (1 / 10 / 100 tried by leave-one-report-out)
# Default inverse regularisation of the per-theme regressions (`eval_classify.py --select-C`).
DEFAULT_C = 3.0


def _words(**kw: Any) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english", **kw)


def fit_stack(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[a, b, d, c] of p = sigmoid(a * prior_logit + b * lr_logit + d * lexical_logit + c),
    fitted on out-of-fold scores (the columns of X); a score that gets a negative weight, or
    carries nothing, is dropped."""
    X = np.clip(X, -30, 30)
    keep = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) > 0]
    while True:
        w, b = logreg(X[:, keep], y, C=1.0)
        if (w >= 0).all() or len(keep) == 1:
            break
        keep = [j for j, wj in zip(keep, w) if wj > 0] or [keep[int(np.argmax(w))]]
    out = np.zeros(4)
    out[keep] = np.maximum(w, 0)
    out[3] = b
    return out


def stacked(stack: np.ndarray, prior_logit: np.ndarray, lr_logit: np.ndarray,
            lex_logit: np.ndarray) -> np.ndarray:
    """One theme's probability from its stacked combiner `stack` ([a, b, d, c])."""
    a, b, d, c = stack
    return sigmoid(a * prior_logit + b * np.clip(lr_logit, -30, 30)
                   + d * np.clip(lex_logit, -30, 30) + c)


class Learning(BaseEstimator):
    """How a `ThemeClassifier` learns from examples (a part of it); the regressions' own
    strength (`C`, `prior_strength`, `cv`, `random_state`) stays on the classifier.

    Args:
        prevalence: the examples' theme shares correct the prior (False: an ablation).
        prevalence_pseudo: pseudo-count of that correction.
        min_learned: positive examples from which a theme's regression has a say.
        min_calibration: positives and negatives a theme needs for its own combiner.
        min_stack: examples in all from which themes are stacked.
        min_lexical: examples from which the TF-IDF part is fitted.
        min_prior_refit: examples from which the prior is refitted on them.
        min_reference: examples from which they set the prior's statistics.
        prior_c: inverse regularisation of the refitted prior.
        lexical_c: inverse regularisation of the TF-IDF regressions.
        propagate_max: answers (with the examples) over which residuals are spread, at most.
    """

    def __init__(self, *, prevalence: bool = True, prevalence_pseudo: float = PREVALENCE_PSEUDO,
                 min_learned: int = MIN_LEARNED, min_calibration: int = MIN_CALIBRATION,
                 min_stack: int = MIN_STACK, min_lexical: int = MIN_LEXICAL,
                 min_prior_refit: int = MIN_PRIOR_REFIT, min_reference: int = MIN_REFERENCE,
                 prior_c: float = PRIOR_C, lexical_c: float = LEXICAL_C,
                 propagate_max: int = PROPAGATE_MAX) -> None:
        self.prevalence = prevalence
        self.prevalence_pseudo = prevalence_pseudo
        self.min_learned = min_learned
        self.min_calibration = min_calibration
        self.min_stack = min_stack
        self.min_lexical = min_lexical
        self.min_prior_refit = min_prior_refit
        self.min_reference = min_reference
        self.prior_c = prior_c
        self.lexical_c = lexical_c
        self.propagate_max = propagate_max

    # -- the per-theme regressions on embeddings ---------------------------------------------
    def theme_regressions(self, Z: np.ndarray, Yb: np.ndarray, splits: list, *, C: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per theme a class-balanced logistic regression on Z: (k, d) coefficients, (k,)
        intercepts (+-30 for a theme all or none of the examples raise) and (n, k)
        out-of-fold logits over `splits`."""
        n, k = Yb.shape
        coef = np.zeros((k, Z.shape[1]), dtype=np.float32)
        intercept = np.full(k, -30.0)
        oof = np.zeros((n, k))
        for t in range(k):
            y = Yb[:, t]
            if 0 < y.sum() < n:
                lr = _regression(C).fit(Z, y)
                coef[t], intercept[t] = lr.coef_[0], lr.intercept_[0]
            else:
                intercept[t] = 30.0 if y.sum() else -30.0
            oof[:, t] = Z @ coef[t] + intercept[t]
            for tr, te in splits:
                yt = y[tr]
                if 0 < yt.sum() < len(yt):
                    oof[te, t] = _regression(C).fit(Z[tr], yt).decision_function(Z[te])
                else:
                    oof[te, t] = 30.0 if yt.sum() else -30.0
        return coef, intercept, oof

    def blend(self, prior_logit: np.ndarray, lr_logit: np.ndarray, *, n_pos: float,
              n_examples: float, prior_strength: float) -> np.ndarray:
        """Learned and prior probabilities of one theme mixed by how many positive examples
        it has. The class-balanced regression's odds are moved back to the examples' own
        (+ log(n_pos / n_neg)), so both parts are probabilities on the same scale."""
        n_pos = float(n_pos)
        if n_pos < self.min_learned:
            return sigmoid(prior_logit)
        n_neg = max(float(n_examples) - n_pos, 1.0)
        w = n_pos / (n_pos + prior_strength)
        return w * sigmoid(lr_logit + np.log(n_pos / n_neg)) + (1 - w) * sigmoid(prior_logit)

    def stacks(self, y: np.ndarray, *, n: int, folds: bool) -> bool:
        """Whether a theme with these examples' decisions `y` gets its own combiner."""
        return bool(folds and n >= self.min_stack
                    and min(y.sum(), n - y.sum()) >= self.min_calibration)

    # -- the TF-IDF part -----------------------------------------------------------------------
    def fit_words(self, texts: list[str], Yb: np.ndarray, splits: list
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
        """Fit the TF-IDF part (words and word pairs of the examples, one class-balanced
        logistic regression per theme): (n, k) out-of-fold logits, (k, v) coefficients, (k,)
        intercepts, the vocabulary and its IDF weights."""
        def fit_logits(Xtr, Ytr, Xte):
            out = np.zeros((Xte.shape[0], Ytr.shape[1]))
            coef = np.zeros((Ytr.shape[1], Xtr.shape[1]), dtype=np.float32)
            bias = np.zeros(Ytr.shape[1])
            for t in range(Ytr.shape[1]):
                y = Ytr[:, t]
                if 0 < y.sum() < len(y):
                    lr = LogisticRegression(C=self.lexical_c, class_weight="balanced",
                                            solver="liblinear", max_iter=300).fit(Xtr, y)
                    coef[t], bias[t] = lr.coef_[0], lr.intercept_[0]
                else:
                    bias[t] = 30.0 if y.sum() else -30.0
                out[:, t] = Xte @ coef[t] + bias[t]
            return out, coef, bias

        n, k = Yb.shape
        oof = np.zeros((n, k))
        for tr, te in splits:
            vec = _words(min_df=1).fit([texts[i] for i in tr])
            oof[te] = fit_logits(vec.transform([texts[i] for i in tr]), Yb[tr],
                                 vec.transform([texts[i] for i in te]))[0]
        vec = _words(min_df=2).fit(texts)
        _, coef, bias = fit_logits(vec.transform(texts), Yb, vec.transform(texts[:1]))
        return (np.clip(oof, -30, 30), coef, bias, vec.get_feature_names_out().tolist(),
                vec.idf_.astype(np.float32))

    # -- the examples' theme shares ------------------------------------------------------------
    def prevalence_offset(self, expected_logit: np.ndarray, n_pos: np.ndarray,
                          n_examples: int) -> np.ndarray:
        """Per-theme logit offset from the examples' theme shares.

        The prior expects sum_i p_it answers of theme t among the examples (`expected_logit`:
        the prior's (rows, k) log-odds of the examples kept, under the statistics in force:
        after `calibrate`, the consultation being coded); the examples hold n_pos_t. Each
        theme moves by log((observed + 1) / (expected + 1)), shrunk towards 0 by how much the
        themes' deviations exceed chance (a James-Stein factor 1 - 1 / mean Pearson
        chi-square): where the examples' shares are what the prior expects up to sampling
        noise, nothing moves; where one theme is far more common than the definitions
        suggest, the prior follows the examples.
        """
        k = expected_logit.shape[1]
        rows = len(expected_logit)
        if not self.prevalence or not rows or not n_pos.sum():
            return np.zeros(k)
        # (a saved model keeps a sample of its examples at most: scaled to all of them)
        expected = sigmoid(expected_logit).sum(0) * (max(n_examples, rows) / rows)
        observed = n_pos.astype(float)
        dispersion = float(np.mean((observed - expected) ** 2 / np.maximum(expected, 0.5)))
        shrink = max(0.0, 1.0 - 1.0 / dispersion) if dispersion > 0 else 0.0
        pseudo = self.prevalence_pseudo
        return shrink * np.log((observed + pseudo) / (expected + pseudo))

    # -- the examples' residuals over the consultation -----------------------------------------
    def can_spread(self, n_answers: int, n_examples: int) -> bool:
        return n_answers + n_examples <= self.propagate_max

    @staticmethod
    def spread(whole: np.ndarray, examples_whole: np.ndarray, residuals: np.ndarray,
               weight: float) -> tuple[dict[bytes, int], np.ndarray]:
        """The examples' residuals (decision minus probability, (m, k)) spread over a
        k-nearest-neighbour graph of the consultation's answers (`whole`, (n, d)) and the
        examples (`nlp.classify.propagate`): (each answer's vector bytes: its row, (n, k)
        log-odds moves, `weight` per unit)."""
        keys = {row.tobytes(): i for i, row in enumerate(whole)}
        node, extra = [], []
        for row in examples_whole:
            i = keys.get(row.tobytes())
            if i is None:
                extra.append(row)
                i = len(whole) + len(extra) - 1
            node.append(i)
        W = np.vstack([whole, *extra]) if extra else whole
        E0 = np.zeros((len(W), residuals.shape[1]))
        E0[node] = residuals
        return keys, weight * propagate(knn_graph(W), E0, np.unique(node))[:len(whole)]


def _regression(C: float) -> LogisticRegression:
    # liblinear: ~5 ms a fit at this size, several times faster than lbfgs, so a retrain
    # (k themes x (cv + 1) fits) stays well under a second.
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=300)


class WordScorer:
    """Scores answers with a fitted TF-IDF part; each answer batch's word matrix is kept on
    its `Encoded` (by a digest of the vocabulary), so a refit that keeps its vocabulary (a
    relabel) re-scores without reading every answer again."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray) -> None:
        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                   stop_words="english", vocabulary=list(vocabulary))
        self.vec.idf_ = idf
        self.key = ("words", hashlib.sha256("\x00".join(vocabulary).encode(
            "utf-8", "replace") + idf.tobytes()).hexdigest())

    def matrix(self, enc: Encoded) -> Any:
        X = enc.memo.get(self.key)
        if X is None:
            for old in [k for k in enc.memo if isinstance(k, tuple) and k[0] == "words"]:
                del enc.memo[old]  # one vocabulary's matrix at a time
            X = enc.memo[self.key] = self.vec.transform(enc.texts)
        return X
