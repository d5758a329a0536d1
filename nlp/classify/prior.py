"""Classify stage: the definition prior, a theme classifier's score from the codebook alone.

Two parts, summed: the embedding prior (`nlp.classify.prototypes`: each answer against each
theme's prototype after centring, z-scored per theme over the consultation) and the lexical
prior (`nlp.classify.lexical`: the answers' character n-grams against the themes' words,
z-scored the same way); the sum is standardised again and turned into a probability by
sigmoid(PRIOR_SLOPE * (z - PRIOR_MID)). Z-scores give every theme about the same share of the
consultation, so each theme's log-odds then move towards the share estimated from the
consultation itself (`nlp.classify.shares`). The statistics (centre, per-theme mean and
spread) are the batch's own when it holds OWN_STATISTICS answers or more, else a reference's:
the examples, the codebook's own texts, or the consultation the model was calibrated on.

`DefinitionPrior` is the part of `ThemeClassifier` that computes it, over the fitted
attributes the classifier sets (typed below).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..embed import embed_texts
from ..types import Codebook
from ._maths import sigmoid as _sigmoid
from ._maths import unit as _unit
from .encoded import Encoded
from .lexical import LexicalFit, LexicalPrior, theme_documents
from .prototypes import Prototypes, raw_similarities
from .shares import estimated_counts, share_offset

# The cold prior: probability = sigmoid(SLOPE * (z - MID)), a pooled logistic fit of gold
# codes on z over the development consultations.
PRIOR_SLOPE = 1.45
PRIOR_MID = 1.69
OWN_STATISTICS = 10  # answers from which a batch's own statistics are used alone


class DefinitionPrior:
    """The definition prior's features and log-odds (a mixin of `ThemeClassifier`)."""

    codebook: Codebook | None
    embedder: Any
    cache: Any
    prototypes: Prototypes | None
    lexical: LexicalPrior | None
    share_weight: float
    theme_ids_: list[str]
    theme_vec_: np.ndarray
    excl_vec_: np.ndarray
    excl_theme_: np.ndarray
    head_vec_: Any  # None on a loaded model until first used
    ref_center_: np.ndarray
    ref_mu_: np.ndarray
    ref_sd_: np.ndarray
    ref_n_: int
    calibrated_: bool
    lex_key_: str
    lex_mu_: np.ndarray
    lex_sd_: np.ndarray
    comb_mu_: Any
    comb_sd_: Any
    prior_coef_: np.ndarray
    prior_intercept_: float
    offset_: np.ndarray
    _lex_fit: LexicalFit | None

    # -- its parts (their defaults when not given) --------------------------------------------
    @property
    def _protos(self) -> Prototypes:
        return self.prototypes if self.prototypes is not None else Prototypes()

    @property
    def _lex(self) -> LexicalPrior:
        return self.lexical if self.lexical is not None else LexicalPrior(
            min_answers=OWN_STATISTICS)


    # -- the definition prior ----------------------------------------------------------------
    def _similarity(self, enc: Encoded, centre: Any) -> tuple[np.ndarray, np.ndarray]:
        """(n, k) blended similarity of answers to themes after centring, and (n, k) the
        segment row that carries each theme best."""
        return self._protos.similarity(self.theme_vec_, self.excl_vec_, self.excl_theme_, enc,
                                       centre)

    def _set_reference(self, enc: Encoded) -> np.ndarray:
        """Take the prior's statistics from `enc`; returns its similarities."""
        self.ref_center_ = enc.whole.mean(0).astype(np.float32)
        sim, _ = self._similarity(enc, self.ref_center_)
        self.ref_mu_ = sim.mean(0)
        self.ref_sd_ = sim.std(0) + 1e-6
        self.ref_n_ = int(len(enc))
        return sim

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
            assert self.codebook is not None  # (without one, fit sets them)
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

    # -- the lexical prior (nlp.classify.lexical) -----------------------------------------------
    def _lexical_reference(self, enc: Encoded) -> LexicalFit | None:
        if self.codebook is None:
            return None
        return self._lex.reference(theme_documents(self.codebook), enc)

    def _lexical_z(self, enc: Encoded) -> np.ndarray | None:
        """(n, k) z-scores of the answers' lexical similarity to each theme over the
        consultation (the calibrated one, else this batch when it is big enough)."""
        if not self._lex.weight or enc.texts is None or not len(enc):
            return None
        if self.calibrated_:
            fit = getattr(self, "_lex_fit", None)
            if not self.lex_key_ or fit is None:
                return None
            S = enc.lexical if enc.lexical_key == self.lex_key_ and enc.lexical is not None \
                else fit.similarity(enc.texts)
            return (S - self.lex_mu_) / self.lex_sd_
        ref = self._lexical_reference(enc)
        if ref is None:
            return None
        return (ref.similarity(enc.texts) - ref.mu) / ref.sd

    def _prior(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """(n, k, 6) prior features (combined z-score over the consultation, centred
        similarity, three uncentred similarities, lexical z-score) and (n, k) evidence
        segment rows."""
        z, zl, sim, arg, raw = self._z_parts(enc)
        if zl is None:
            zc, zl = z, np.zeros_like(z)
        else:
            zsum = z + self._lex.weight * zl
            if self.calibrated_ and self.comb_sd_ is not None:
                zc = (zsum - self.comb_mu_) / self.comb_sd_
            else:
                zc = (zsum - zsum.mean(0)) / (zsum.std(0) + 1e-6)
        return np.stack([zc, sim, *raw, zl], axis=2), arg

    def _z_parts(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray | None, np.ndarray,
                                              np.ndarray, tuple[np.ndarray, ...]]:
        """The embedding z-scores, the lexical ones (None when unavailable), the centred
        similarity, the evidence rows and the uncentred similarities."""
        n = len(enc)
        w = 0.0 if self.calibrated_ else min(1.0, n / OWN_STATISTICS)
        centre = self.ref_center_ if w == 0 else \
            w * enc.whole.mean(0) + (1 - w) * self.ref_center_
        sim, arg = self._similarity(enc, centre)
        mu, sd = self._protos.statistics(sim, weight=w, n=n, ref_mu=self.ref_mu_,
                                         ref_sd=self.ref_sd_)
        raw = raw_similarities(self.theme_vec_, enc)
        return (sim - mu) / sd, self._lexical_z(enc), sim, arg, raw

    def _prior_logit(self, F: np.ndarray) -> np.ndarray:
        return F @ self.prior_coef_ + self.prior_intercept_ + self.offset_
