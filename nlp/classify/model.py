"""Classify stage: a multi-label theme classifier on sentence embeddings, from its parts.

Two parts, stacked: a *definition prior* that works from the codebook alone and decides
relative to the consultation at hand, and per-theme logistic regressions trained on
researcher-confirmed examples, whose say grows with the number of examples. The prior is
computed by `nlp.classify.prior.DefinitionPrior` from two parts; each part lives in its own
module and is a parameter of `ThemeClassifier` (an ablation is
`clone(model).set_params(part=Part(...))`):

- `prototypes` (`nlp.classify.prototypes.Prototypes`): each answer (whole, and its best
  sentence) against each theme's prototype after centring, z-scored per theme over this
  consultation's own answers;
- `lexical` (`nlp.classify.lexical.LexicalPrior`): the answers' character n-grams against the
  themes' words, z-scored the same way; the two z-scores are summed and standardised again.
  Z-scores give every theme about the same share of the consultation, so each theme's log-odds
  then move towards the share estimated from the consultation itself (`nlp.classify.shares`:
  how often the theme is an answer's most similar under plain cosine; `share_weight`);
- `learning` (`nlp.classify.learning.Learning`): the regressions, the TF-IDF part, stacking,
  the examples' theme shares and their residuals spread over the consultation
  (`propagate_weight`);
- `rule` (`nlp.classify.rule.DecisionRule`): the themes close to the answer's best one, over
  a floor, at most three, and always the best one.

Every constant is theme-agnostic and was chosen on development consultations (see
evaluation/RESULTS.md), never on the consultation being coded.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from ..types import Codebook
from ._maths import logit as _logit
from ._maths import logreg as _logreg
from ._maths import sigmoid as _sigmoid
from ._maths import unit as _unit
from .encoded import WHOLE, Encoded, Scored, as_encoded, assemble, encode, segment_answers, subset
from .learning import (C_GRID, DEFAULT_C, LEXICAL_C, MIN_CALIBRATION, MIN_LEARNED, MIN_LEXICAL,
                       MIN_PRIOR_REFIT, MIN_REFERENCE, MIN_STACK, PREVALENCE_PSEUDO, PRIOR_C,
                       Learning, WordScorer, stacked)
from .learning import fit_stack as _fit_stack
from .lexical import LEXICAL_NGRAMS, LEXICAL_SAMPLE, LEXICAL_WEIGHT, LexicalFit, LexicalPrior
from .prior import OWN_STATISTICS, PRIOR_MID, PRIOR_SLOPE, DefinitionPrior
from .intercepts import theme_intercepts
from .propagate import WEIGHT as PROPAGATE_WEIGHT
from .prototypes import (EXCLUDE_WEIGHT, INCLUDE_WEIGHT, SENTENCE_WEIGHT, Prototypes,
                         ThemeVectors, theme_prototypes, theme_texts)
from .rule import (MARGIN_GRID, MARGIN_Z, MAX_THEMES, MIN_RULE_EXAMPLES, MIN_Z, DecisionRule,
                   best_threshold, relative_rule, stacked_threshold)
from .shares import SHARE_WEIGHT

log = logging.getLogger(__name__)

__all__ = [
    "C_GRID", "DEFAULT_C", "EXCLUDE_WEIGHT", "INCLUDE_WEIGHT", "LEXICAL_C", "LEXICAL_NGRAMS",
    "LEXICAL_SAMPLE", "LEXICAL_WEIGHT", "MARGIN_GRID", "MARGIN_Z", "MAX_THEMES",
    "MIN_CALIBRATION", "MIN_LEARNED", "MIN_LEXICAL", "MIN_PRIOR_REFIT", "MIN_REFERENCE",
    "MIN_RULE_EXAMPLES", "MIN_STACK", "MIN_Z", "OWN_STATISTICS", "PREVALENCE_PSEUDO", "PRIOR_C",
    "PRIOR_MID", "PRIOR_SLOPE", "SENTENCE_WEIGHT", "WHOLE", "DecisionRule", "Encoded",
    "Learning", "LexicalPrior", "Prototypes", "Scored", "ThemeClassifier", "assemble",
    "best_threshold", "encode", "relative_rule", "segment_answers", "select_C", "subset",
    "theme_prototypes", "theme_texts"]


def _vectors_of(X: Any) -> np.ndarray | None:
    """X's rows when X is bare embeddings (a 2-d float array), else None."""
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f":
        return X
    return None


class ThemeClassifier(DefinitionPrior, ClassifierMixin, BaseEstimator):
    """Multi-label codebook classifier (scikit-learn estimator).

    From the codebook alone it scores by the definition prior (module docstring) and decides
    by the relative rule. With confirmed examples each theme also gets a class-balanced
    logistic regression on the answer's embedding and its prior z-scores; a theme with at least
    MIN_CALIBRATION positive and negative examples (out of MIN_STACK or more in all) combines
    the two with a small logistic regression fitted on out-of-fold scores (stacking) and gets
    its own threshold, half the best F1 its out-of-fold probabilities reach; a theme with fewer
    examples mixes the two probabilities with weight n_pos / (n_pos + prior_strength) on the
    learned one. With MIN_RULE_EXAMPLES examples or more, the rule's margin is chosen on
    out-of-fold predictions. Once calibrated on a consultation, each theme's prior also moves
    by how far the examples' theme shares stand from what the prior expects of them there
    (`Learning.prevalence_offset`).

    The prior's statistics (centre and per-theme mean and spread) come from the batch being
    coded when it holds OWN_STATISTICS answers or more; smaller batches lean on a reference:
    the examples the model was fitted on, the codebook's own texts, or the whole consultation
    after `calibrate`.

    Without a codebook (`codebook=None`) the themes are the columns of Y (or the classes of a
    1-d y) and each theme's prototype is the mean vector of its examples: X must then be
    embeddings, and no embedder is needed.

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
            shifts stand out from chance (`nlp.classify.intercepts`; False: none). Below
            `Learning.min_stack` examples only.
        prototypes: the embedding prior (`Prototypes`; None: its defaults).
        lexical: the lexical prior (`LexicalPrior`; None: its defaults).
        learning: learning from examples (`Learning`; None: its defaults).
        rule: the decision rule (`DecisionRule`; None: its defaults).
    """
    # State kept beside the fitted attributes (typed here, set by fit and calibrate): the
    # examples and their themes (to re-estimate the share correction and spread them on each
    # consultation), the calibrated answers' rows (vector bytes: row) and propagated log-odds
    # moves, the TF-IDF part's scorer and the consultation's lexical fit.
    _examples: Encoded | None
    _examples_Y: np.ndarray | None
    _prop_keys: dict[bytes, int] | None
    _prop_E: np.ndarray | None
    _words: WordScorer | None
    _lex_fit: LexicalFit | None

    def __init__(self, codebook: Codebook | None = None, embedder: Any = None, *,
                 cache: Any = None, C: float = DEFAULT_C, prior_strength: float = 30.0,
                 cv: int = 5, random_state: int = 0, share_weight: float = SHARE_WEIGHT,
                 propagate_weight: float = PROPAGATE_WEIGHT, intercepts: bool = True,
                 prototypes: Prototypes | None = None, lexical: LexicalPrior | None = None,
                 learning: Learning | None = None, rule: DecisionRule | None = None) -> None:
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
        self.prototypes = prototypes
        self.lexical = lexical
        self.learning = learning
        self.rule = rule

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # an answer raises any number of themes
        tags.target_tags.multi_output = True
        return tags

    # -- its parts (their defaults when not given; the prior's: `DefinitionPrior`) -------------
    @property
    def _learn(self) -> Learning:
        return self.learning if self.learning is not None else Learning()

    @property
    def _rule(self) -> DecisionRule:
        return self.rule if self.rule is not None else DecisionRule()

    def _encoded(self, X: Any) -> Encoded:
        if self.codebook is None and not isinstance(X, Encoded):  # embeddings, checked
            X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        return as_encoded(X, self.embedder, self.cache)

    def _check_examples(self, X: Any, Y: Any) -> tuple[Any, Any]:
        """Without a codebook: X must be embeddings and Y their themes (a 0/1 matrix or one
        class label each), checked as any scikit-learn estimator checks them."""
        if isinstance(X, Encoded):
            return X, Y
        if Y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None (without a codebook the themes come from y)")
        X, Y = validate_data(self, X, Y, multi_output=True, dtype=FLOAT_DTYPES)
        check_classification_targets(Y)
        return X, Y

    def calibrate(self, X: Any) -> "ThemeClassifier":
        """Take the prior's statistics from a whole consultation (say, every answer of a
        project) and use them for every later batch, however small."""
        check_is_fitted(self, "thresholds_")
        enc = self._encoded(X)
        if len(enc):
            sim = self._set_reference(enc)
            self.lex_key_, self.comb_mu_, self.comb_sd_ = "", None, None
            self.calibrated_ = True
            z = (sim - self.ref_mu_) / self.ref_sd_
            fit = self._lexical_reference(enc)
            if fit is not None and enc.texts is not None:  # (no texts: no fit)
                self.lex_key_, self.lex_mu_, self.lex_sd_ = fit.key, fit.mu, fit.sd
                self._lex_fit = fit  # the model keeps its own
                if enc.lexical_key != self.lex_key_:  # keep them for every later batch of it
                    enc.lexical, enc.lexical_key = fit.similarity(enc.texts), self.lex_key_
                zl = self._lexical_z(enc)
                assert zl is not None  # the fit just made gives them
                zsum = z + self._lex.weight * zl
                self.comb_mu_, self.comb_sd_ = zsum.mean(0), zsum.std(0) + 1e-6
                z = (zsum - self.comb_mu_) / self.comb_sd_
            self.share_offset_ = self._share_offset(enc, z)
            examples = getattr(self, "_examples", None)
            self._prop_keys, self._prop_E = None, None
            if examples is not None and len(examples):
                self.offset_ = self._prevalence_offset(examples)
                self.offset_ = self.offset_ + self._theme_shifts(examples)
                self._spread(enc, examples)
        return self

    def _spread(self, enc: Encoded, examples: Encoded) -> None:
        """Spread the examples' residuals (decision minus probability) over a
        k-nearest-neighbour graph of the consultation's answers and the examples
        (`Learning.spread`); `_score` adds them to the answers of `enc` it meets again."""
        Y = getattr(self, "_examples_Y", None)
        if (not self.propagate_weight or Y is None or len(Y) != len(examples)
                or not self._learn.can_spread(len(enc), len(examples))):
            return
        residuals = Y - self._score(examples)[0]
        self._prop_keys, self._prop_E = self._learn.spread(enc.whole, examples.whole,
                                                           residuals, self.propagate_weight)

    def _theme_shifts(self, examples: Encoded) -> np.ndarray | float:
        """Per-theme log-odds shifts fitted on the examples and shrunk by empirical Bayes
        (`nlp.classify.intercepts`); below `min_stack` examples only (from 100 they cost the
        bundled corpus 0.02: evaluation/RESULTS.md)."""
        Y = getattr(self, "_examples_Y", None)
        if (not self.intercepts or self.n_examples_ >= self._learn.min_stack or Y is None
                or len(Y) != len(examples)):
            return 0.0
        return theme_intercepts(_logit(self._score(examples)[0]), Y)[0]

    def _prevalence_offset(self, examples: Encoded) -> np.ndarray:
        """Per-theme logit offset from the examples' theme shares (`Learning`)."""
        k = len(self.theme_ids_)
        if not self._learn.prevalence or not len(examples) or not self.n_pos_.sum():
            return np.zeros(k)
        F, _ = self._prior(examples)
        expected = F @ self.prior_coef_ + self.prior_intercept_ + self.share_offset_
        return self._learn.prevalence_offset(expected, self.n_pos_, self.n_examples_)

    # -- fitting ---------------------------------------------------------------------------
    def _theme_vectors(self, X: Any, Y: Any) -> ThemeVectors:
        """The codebook's vectors, or without a codebook the themes' example means."""
        if self.codebook is not None:
            if self.embedder is None:
                raise ValueError("ThemeClassifier needs an embedder to embed the theme "
                                 "definitions")
            self.theme_ids_ = list(self.codebook.theme_ids)
            return self._protos.embed(self.codebook, self.embedder, self.cache)
        V = _vectors_of(X)
        if V is None or Y is None:
            raise ValueError("ThemeClassifier needs a codebook (or embeddings X with their "
                             "themes Y)")
        Yb = np.asarray(Y)
        if Yb.ndim == 1:
            self.theme_ids_ = [str(c) for c in np.unique(Yb)]
            Yb = (Yb[:, None] == np.unique(Yb)[None, :]).astype(float)
        else:
            self.theme_ids_ = [str(t) for t in range(Yb.shape[1])]
        means = (Yb.T @ V) / np.maximum(Yb.sum(0), 1)[:, None]
        theme = means.astype(np.float32)
        return ThemeVectors(theme=theme, exclude=np.zeros((0, V.shape[1]), np.float32),
                            exclude_theme=np.zeros(0, np.int64),
                            heads=_unit(theme).astype(np.float32), texts=theme)

    def _init_from_codebook(self, X: Any = None, Y: Any = None) -> None:
        if self.codebook is None and _vectors_of(X) is None:
            raise ValueError("ThemeClassifier needs a codebook")
        tv = self._theme_vectors(X, Y)
        k = len(self.theme_ids_)
        self.head_vec_ = tv.heads
        self.theme_vec_ = tv.theme
        self.excl_vec_ = tv.exclude
        self.excl_theme_ = tv.exclude_theme
        self.calibrated_ = False
        # Until examples or a consultation say otherwise, the codebook's own texts set the
        # prior's statistics (so even a single answer can be scored).
        V = tv.texts
        self._set_reference(Encoded(whole=V, seg=V, seg_owner=np.arange(len(V))))
        self.prior_coef_ = np.array([PRIOR_SLOPE, 0.0, 0.0, 0.0, 0.0, 0.0])
        self.lex_key_, self.comb_mu_, self.comb_sd_ = "", None, None
        self.lex_mu_ = self.lex_sd_ = np.zeros(k)
        self.prior_intercept_ = -PRIOR_SLOPE * PRIOR_MID
        self.prior_threshold_ = self._rule.threshold(PRIOR_SLOPE, PRIOR_MID)
        self.margin_ = self._rule.margin(PRIOR_SLOPE)
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
        self._examples = None  # kept to re-estimate it on each consultation
        self._examples_Y = None  # ... and their themes, to spread them
        self._prop_keys = None  # calibrated answers (vector bytes: row) ...
        self._prop_E = None  # ... and their propagated log-odds moves
        self._words = None  # the TF-IDF part's scorer, made on first use
        self._lex_fit = None
        self.embedder_id_ = getattr(self.embedder, "model_id", "unknown")

    def _binarize(self, Y: Any, n: int) -> np.ndarray:
        if Y is None:
            return np.zeros((0, len(self.theme_ids_)), dtype=int)
        if isinstance(Y, np.ndarray) and Y.ndim == 2:
            if Y.shape != (n, len(self.theme_ids_)):
                raise ValueError(f"Y has shape {Y.shape}; expected ({n}, {len(self.theme_ids_)})")
            return (Y > 0).astype(int)
        if self.codebook is None:  # class labels: one theme each
            y = np.asarray(Y)
            return (y.astype(str)[:, None] == np.asarray(self.theme_ids_)[None, :]).astype(int)
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
            Y: (n, k) 0/1 matrix in codebook order, or a list of theme-id lists (without a
                codebook: a 0/1 matrix, or one class label per answer).

        Returns:
            self
        """
        if self.codebook is None:  # the themes come from Y: check both as scikit-learn does
            X, Y = self._check_examples(X, Y)
        V = _vectors_of(X)
        self._init_from_codebook(X, Y)
        if V is None and self.codebook is not None and hasattr(self, "n_features_in_"):
            del self.n_features_in_  # set by `_check_examples` only
        if X is None or (hasattr(X, "__len__") and len(X) == 0):
            return self
        enc = as_encoded(X, self.embedder, self.cache)
        Yb = self._binarize(Y, len(enc))
        learn = self._learn
        if len(enc) >= learn.min_reference:
            self._set_reference(enc)
        F, _ = self._prior(enc)
        Z = enc.whole
        n, k = len(enc), len(self.theme_ids_)
        self.n_examples_ = n
        self.n_pos_ = Yb.sum(0)
        if n >= learn.min_prior_refit and (self.n_pos_ >= 5).sum() >= 3:
            # Enough examples to recalibrate the prior on this codebook's own decisions:
            # one logistic regression over every (answer, theme) pair.
            self.prior_coef_, self.prior_intercept_ = _logreg(
                F.reshape(-1, F.shape[2]), Yb.ravel(), C=learn.prior_c)
        prior_logit = self._prior_logit(F)
        folds = min(self.cv, n)
        splits = list(KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
                      .split(Z)) if folds >= 2 else []
        self.lr_coef_, self.lr_intercept_, oof_lr = learn.theme_regressions(Z, Yb, splits,
                                                                            C=self.C)
        if enc.texts is not None and n >= learn.min_lexical and splits:
            oof_lex, self.lex_coef_, self.lex_intercept_, self.lex_vocabulary_, \
                self.lex_idf_ = learn.fit_words(enc.texts, Yb, splits)
            self._words = None
        else:
            oof_lex = np.zeros((n, k))
        oof = np.zeros((n, k))
        self.thresholds_ = np.full(k, self.prior_threshold_)
        for t in range(k):
            y = Yb[:, t]
            if learn.stacks(y, n=n, folds=bool(splits)):
                self.stack_[t] = _fit_stack(
                    np.column_stack([prior_logit[:, t], oof_lr[:, t], oof_lex[:, t]]), y)
                self.stacked_[t] = True
                oof[:, t] = stacked(self.stack_[t], prior_logit[:, t], oof_lr[:, t],
                                    oof_lex[:, t])
                self.thresholds_[t] = stacked_threshold(y, oof[:, t])
            else:
                oof[:, t] = self._blend(t, prior_logit[:, t], oof_lr[:, t])
        if n >= self._rule.min_examples:
            # Enough examples to choose how relative the decision is (ties: the cold rule).
            self.margin_ = self._rule.choose_margin(Yb, oof, self.thresholds_, PRIOR_SLOPE,
                                                    at_least_one=self._cold_prior())
        self.oof_proba_ = oof
        # The examples' theme shares are compared with what the prior expects of them under
        # the statistics of the consultation being coded, so only `calibrate` sets offset_
        # (estimated under the examples' own statistics it gained little: RESULTS.md).
        self._examples = enc
        self._examples_Y = Yb
        return self

    def _lexical_logit(self, enc: Encoded) -> np.ndarray:
        k = len(self.theme_ids_)
        if not len(getattr(self, "lex_vocabulary_", [])) or enc.texts is None:
            return np.zeros((len(enc), k))  # no lexical part (or bare vectors): no say
        if getattr(self, "_words", None) is None:
            self._words = WordScorer(self.lex_vocabulary_, self.lex_idf_)
        assert self._words is not None
        X = self._words.matrix(enc)
        return np.clip(np.asarray(X @ self.lex_coef_.T) + self.lex_intercept_, -30, 30)

    def _blend(self, t: int, prior_logit: np.ndarray, lr_logit: np.ndarray) -> np.ndarray:
        return self._learn.blend(prior_logit, lr_logit, n_pos=self.n_pos_[t],
                                 n_examples=self.n_examples_,
                                 prior_strength=self.prior_strength)

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
            stacked(self.stack_[t], prior_logit[:, t], lr_logit[:, t], lex_logit[:, t])
            if self.stacked_[t]
            else self._blend(t, prior_logit[:, t], lr_logit[:, t]) for t in range(k)])
        if getattr(self, "_prop_E", None) is not None:  # the consultation's own answers
            assert self._prop_keys is not None and self._prop_E is not None
            rows = np.array([self._prop_keys.get(r.tobytes(), -1) for r in enc.whole])
            hit = rows >= 0
            if hit.any():
                proba[hit] = _sigmoid(_logit(proba[hit]) + self._prop_E[rows[hit]])
        return proba, arg

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) probability of each theme for each answer, in codebook order."""
        check_is_fitted(self, "thresholds_")
        return self._score(self._encoded(X))[0]

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """(n, k) bool: the themes the model suggests, given its probabilities."""
        check_is_fitted(self, "thresholds_")
        # Every answer gets its best theme while the prior is the codebook's; a prior refitted
        # on examples has learned when none applies (always one cost the bundled corpus 0.02
        # with all training reports: RESULTS.md).
        return self._rule.decide(proba, self.thresholds_, self.margin_,
                                 at_least_one=self._cold_prior())

    def score_batch(self, X: Any) -> Scored:
        """Probabilities, decisions and evidence sentences of a batch in one pass."""
        check_is_fitted(self, "thresholds_")
        enc = self._encoded(X)
        proba, arg = self._score(enc)
        spans = enc.seg_span[np.maximum(arg, 0)] if enc.seg_span is not None and \
            len(enc.seg_span) else np.full(arg.shape + (2,), -1, dtype=np.int64)
        spans = np.where((arg >= 0)[..., None], spans, -1)
        return Scored(proba=proba, chosen=self.decide(proba), evidence=spans)

    def predict(self, X: Any) -> np.ndarray:
        """(n, k) 0/1 matrix of the suggested themes."""
        return self.decide(self.predict_proba(X)).astype(int)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Micro-averaged F1 (the usual multi-label score)."""
        return float(f1_score(self._binarize(y, len(y)), self.predict(X), average="micro",
                              zero_division=0))

    def themes_of(self, proba: np.ndarray) -> list[list[str]]:
        """Suggested theme ids per row of `proba`, most probable first."""
        chosen = self.decide(proba)
        return [[self.theme_ids_[t] for t in np.argsort(-row, kind="stable") if keep[t]]
                for row, keep in zip(proba, chosen)]


def select_C(X: Any, Y: Any, groups: Sequence, *, codebook: Codebook, embedder: Any,
             cache: Any = None, grid: Sequence[float] = C_GRID, **params: Any
             ) -> tuple[float, dict[str, dict[str, float]]]:
    """Choose C by leave-one-group-out (e.g. one report out) on these examples only: the
    lowest log loss of the held-out probabilities (a proper score, far steadier than F1
    after thresholding on a few hundred answers); ties go to the smaller C.

    Returns:
        (best C, {str(C): {"log_loss", "micro_f1"}} of the held-out predictions).
    """
    groups_ = np.asarray(groups)
    probe = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
    probe._init_from_codebook()
    enc = as_encoded(X, embedder, cache)
    Yb = probe._binarize(Y, len(enc))
    # each fold's answers once, so every C meets the same `Encoded` (and its kept fits)
    folds = []
    for g in np.unique(groups_):
        tr, te = np.flatnonzero(groups_ != g), np.flatnonzero(groups_ == g)
        folds.append((subset(enc, tr), Yb[tr], subset(enc, te), Yb[te]))
    scores: dict[str, dict[str, float]] = {}
    for c in sorted(grid):
        gold, proba, pred = [], [], []
        for enc_tr, y_tr, enc_te, y_te in folds:
            clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache, C=c,
                                  **params).fit(enc_tr, y_tr)
            p = clf.predict_proba(enc_te)
            proba.append(p)
            pred.append(clf.decide(p).astype(int))
            gold.append(y_te)
        G, P = np.vstack(gold), np.clip(np.vstack(proba), 1e-6, 1 - 1e-6)
        scores[str(c)] = {
            "log_loss": float(-np.mean(G * np.log(P) + (1 - G) * np.log(1 - P))),
            "micro_f1": float(f1_score(G, np.vstack(pred), average="micro", zero_division=0))}
    best = min(sorted(grid), key=lambda c: (round(scores[str(c)]["log_loss"], 6), c))
    return float(best), scores
