"""Review stage: inter-coder agreement (Cohen's kappa per theme and coder pair, Krippendorff's
alpha per theme) between researchers and the model, and the disagreements to adjudicate."""
from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import krippendorff
from ..store.review_themes import coder_units

log = logging.getLogger(__name__)

# {coder: {response_id: themes that coder applied}}; a response absent from a coder's map
# was not coded by them (missing), one present with an empty set was coded "no theme".
CoderUnits = Mapping[str, Mapping[str, frozenset[str]]]


@dataclass(frozen=True)
class ThemeAgreement:
    """Agreement on one theme over the responses two or more coders coded."""
    theme_id: str
    units: int
    percent: float | None
    alpha: float | None
    kappa: Mapping[tuple[str, str], float | None] = field(default_factory=dict)

    @property
    def mean_kappa(self) -> float | None:
        vals = [k for k in self.kappa.values() if k is not None]
        return float(np.mean(vals)) if vals else None


@dataclass(frozen=True)
class Disagreement:
    """A response and theme the coders split on: who applied it and who did not."""
    response_id: str
    theme_id: str
    applied_by: tuple[str, ...]
    not_applied_by: tuple[str, ...]


@dataclass(frozen=True)
class AgreementReport:
    """Per-theme agreement, the coders compared and the disagreements."""
    coders: tuple[str, ...]
    units: int
    themes: tuple[ThemeAgreement, ...]
    disagreements: tuple[Disagreement, ...]


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two coders' binary labels on the same units; None when undefined
    (no units, or both coders used a single identical label throughout: chance agreement 1)."""
    x, y = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    if len(x) == 0 or len(x) != len(y):
        return None
    po = float(np.mean(x == y))
    pe = float(np.mean(x) * np.mean(y) + (1 - np.mean(x)) * (1 - np.mean(y)))
    if math.isclose(pe, 1.0):
        return None
    return (po - pe) / (1 - pe)


def krippendorff_alpha(matrix: np.ndarray) -> float | None:
    """Krippendorff's alpha (nominal) of a coders x units matrix with NaN for missing; None
    when undefined (fewer than two pairable values, or a single value used throughout)."""
    m = np.asarray(matrix, dtype=float)
    pairable = (~np.isnan(m)).sum(0) >= 2
    if pairable.sum() == 0:
        return None
    vals = m[:, pairable]
    if len(np.unique(vals[~np.isnan(vals)])) < 2:
        return None
    try:
        a = float(krippendorff.alpha(reliability_data=m[:, pairable],
                                     level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None
    return None if math.isnan(a) else a


def agreement(units: CoderUnits, theme_ids: Sequence[str]) -> AgreementReport:
    """Agreement per theme between every coder in `units` (see CoderUnits), over the
    responses at least two of them coded.

    Returns:
        AgreementReport with one ThemeAgreement per theme (in `theme_ids` order) and every
        (response, theme) where the coders who coded the response split.
    """
    coders = tuple(sorted(c for c in units if units[c]))
    seen: dict[str, int] = {}
    for c in coders:
        for rid in units[c]:
            seen[rid] = seen.get(rid, 0) + 1
    shared = sorted(r for r, n in seen.items() if n >= 2)
    col = {r: j for j, r in enumerate(shared)}
    out, dis = [], []
    for tid in theme_ids:
        m = np.full((len(coders), len(shared)), np.nan)
        for i, c in enumerate(coders):
            for rid, applied in units[c].items():
                if rid in col:
                    m[i, col[rid]] = 1.0 if tid in applied else 0.0
        kappa: dict[tuple[str, str], float | None] = {}
        for (i, a), (j, b) in itertools.combinations(enumerate(coders), 2):
            both = ~np.isnan(m[i]) & ~np.isnan(m[j])
            if both.any():
                kappa[(a, b)] = cohen_kappa(m[i, both].astype(int), m[j, both].astype(int))
        agree = [len(set(v[~np.isnan(v)])) == 1 for v in m.T]
        out.append(ThemeAgreement(theme_id=tid, units=len(shared),
                                  percent=float(np.mean(agree)) if agree else None,
                                  alpha=krippendorff_alpha(m) if len(coders) >= 2 else None,
                                  kappa=kappa))
        for rid, j in col.items():
            if agree[j]:
                continue
            yes = tuple(c for i, c in enumerate(coders) if m[i, j] == 1.0)
            no = tuple(c for i, c in enumerate(coders) if m[i, j] == 0.0)
            dis.append(Disagreement(rid, tid, yes, no))
    dis.sort(key=lambda d: (d.response_id, theme_ids.index(d.theme_id)))
    log.info("agreement: %d coders, %d shared responses, %d disagreements",
             len(coders), len(shared), len(dis))
    return AgreementReport(coders=coders, units=len(shared), themes=tuple(out),
                           disagreements=tuple(dis))


def project_agreement(store, *, include_model: bool = True) -> AgreementReport:
    """Agreement between the project's coders (the model counting as one) on the active
    codebook's themes."""
    return agreement(coder_units(store, include_model=include_model),
                     store.active_codebook().theme_ids)
