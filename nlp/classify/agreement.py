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

log = logging.getLogger(__name__)

# {coder: {response_id: themes that coder applied}}; a response absent from a coder's map
# was not coded by them (missing), one present with an empty set was coded "no theme".
CoderUnits = Mapping[str, Mapping[str, frozenset[str]]]


Interval = tuple[float, float]


@dataclass(frozen=True)
class ThemeAgreement:
    """Agreement on one theme over the responses two or more coders coded, with bootstrap
    percentile intervals (responses resampled) for alpha and each pair's kappa."""
    theme_id: str
    units: int
    percent: float | None
    alpha: float | None
    kappa: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    applied: int = 0  # shared responses on which at least one coder applied the theme
    alpha_ci: Interval | None = None
    kappa_ci: Mapping[tuple[str, str], Interval | None] = field(default_factory=dict)

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
    """Per-theme agreement (themes some coder applied on the shared responses), the themes
    nobody applied there (`unused`: agreement on them is trivially perfect and says nothing),
    the coders compared and the disagreements."""
    coders: tuple[str, ...]
    units: int
    themes: tuple[ThemeAgreement, ...]
    disagreements: tuple[Disagreement, ...]
    unused: tuple[str, ...] = ()
    bootstrap: int = 0
    level: float = 0.95


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


def _alpha_parts(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit (column) of a binary coders x units matrix: pairable values m_u, ones n1_u,
    and the unit's disagreeing pairs n0_u * n1_u / (m_u - 1) (0 where m_u < 2)."""
    ok = ~np.isnan(m)
    mu = ok.sum(0).astype(float)
    n1 = np.where(ok, m, 0).sum(0)
    pair = mu >= 2
    mu, n1 = np.where(pair, mu, 0), np.where(pair, n1, 0)
    w = np.where(pair, (mu - n1) * n1 / np.where(pair, mu - 1, 1), 0)
    return mu, n1, w


def _alpha_from_sums(mu: np.ndarray, n1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Krippendorff's nominal alpha of binary data from summed unit parts (any shape):
    1 - (n - 1) * o_01 / (n_0 * n_1); NaN where undefined."""
    n0 = mu - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n0 > 0) & (n1 > 0), 1 - (mu - 1) * w / (n0 * n1), np.nan)


def _interval(draws: np.ndarray, level: float) -> Interval | None:
    """Percentile interval of bootstrap draws; None when under half of them are defined."""
    ok = draws[~np.isnan(draws)]
    if len(draws) == 0 or len(ok) < len(draws) / 2:
        return None
    lo, hi = np.quantile(ok, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def agreement(units: CoderUnits, theme_ids: Sequence[str], *, bootstrap: int = 1000,
              level: float = 0.95, seed: int = 0) -> AgreementReport:
    """Agreement per theme between every coder in `units` (see CoderUnits), over the
    responses at least two of them coded.

    Args:
        bootstrap: resamples of the shared responses for the intervals (0: none).
        level: the intervals' coverage.
        seed: the resampling's seed (the same data give the same intervals).

    Returns:
        AgreementReport with one ThemeAgreement per theme some coder applied on the shared
        responses (in `theme_ids` order), the others in `unused`, and every
        (response, theme) where the coders who coded the response split.
    """
    coders = tuple(sorted(c for c in units if units[c]))
    seen: dict[str, int] = {}
    for c in coders:
        for rid in units[c]:
            seen[rid] = seen.get(rid, 0) + 1
    shared = sorted(r for r, n in seen.items() if n >= 2)
    col = {r: j for j, r in enumerate(shared)}
    n, tix = len(shared), {t: k for k, t in enumerate(theme_ids)}
    # present[i, u]: coder i coded response u; applied[i, u, k]: and applied theme k there.
    present = np.zeros((len(coders), n), dtype=bool)
    applied = np.zeros((len(coders), n, len(theme_ids)), dtype=bool)
    for i, c in enumerate(coders):
        for rid, themes in units[c].items():
            u = col.get(rid)
            if u is None:
                continue
            present[i, u] = True
            for t in themes:
                if t in tix:
                    applied[i, u, tix[t]] = True
    pairs = list(itertools.combinations(range(len(coders)), 2))
    both = {(i, j): present[i] & present[j] for i, j in pairs}
    # Every quantity the intervals need is a sum over responses: a bootstrap draw is a
    # vector of counts (how often each response was drawn), so all draws of all themes are
    # one matrix product.
    counts = None
    if n and bootstrap > 0:
        draws = np.random.default_rng(seed).integers(0, n, size=(bootstrap, n))
        draws += np.arange(bootstrap)[:, None] * n  # one bincount for every draw at once
        counts = np.bincount(draws.ravel(), minlength=bootstrap * n).reshape(
            bootstrap, n).astype(float)
    out, dis, unused = [], [], []
    for tid in theme_ids:
        k = tix[tid]
        m = np.where(present, applied[:, :, k], np.nan)
        applied_on = int(applied[:, :, k].any(0).sum())
        if applied_on == 0:
            unused.append(tid)
            continue
        mu, n1, w = _alpha_parts(m)
        ones = np.where(present, applied[:, :, k], False).sum(0)
        agree = (ones == 0) | (ones == present.sum(0))
        kappa: dict[tuple[str, str], float | None] = {}
        kappa_ci: dict[tuple[str, str], Interval | None] = {}
        cols = [mu, n1, w]
        live = [(i, j) for i, j in pairs if both[(i, j)].any()]
        for i, j in live:
            bo = both[(i, j)]
            x, y = applied[i, :, k] & bo, applied[j, :, k] & bo
            kappa[(coders[i], coders[j])] = cohen_kappa(x[bo].astype(int), y[bo].astype(int))
            cols += [bo, x, y, (x == y) & bo]
        alpha_ci = None
        if counts is not None:
            sums = counts @ np.column_stack(cols).astype(float)
            if len(coders) >= 2:
                alpha_ci = _interval(_alpha_from_sums(sums[:, 0], sums[:, 1], sums[:, 2]),
                                     level)
            for p, (i, j) in enumerate(live):
                nb, sx, sy, eq = (sums[:, 3 + 4 * p + q] for q in range(4))
                with np.errstate(divide="ignore", invalid="ignore"):
                    po, px, py = eq / nb, sx / nb, sy / nb
                    pe = px * py + (1 - px) * (1 - py)
                    kap = np.where((nb > 0) & ~np.isclose(pe, 1.0), (po - pe) / (1 - pe),
                                   np.nan)
                kappa_ci[(coders[i], coders[j])] = _interval(kap, level)
        alpha = float(_alpha_from_sums(mu.sum(), n1.sum(), w.sum())) if len(coders) >= 2 \
            else math.nan
        out.append(ThemeAgreement(theme_id=tid, units=n,
                                  percent=float(np.mean(agree)) if n else None,
                                  alpha=None if math.isnan(alpha) else alpha,
                                  kappa=kappa, applied=applied_on, alpha_ci=alpha_ci,
                                  kappa_ci=kappa_ci))
        for unit in np.flatnonzero(~agree):
            yes = tuple(c for i, c in enumerate(coders) if m[i, unit] == 1.0)
            no = tuple(c for i, c in enumerate(coders) if m[i, unit] == 0.0)
            dis.append(Disagreement(shared[int(unit)], tid, yes, no))
    dis.sort(key=lambda d: (d.response_id, theme_ids.index(d.theme_id)))
    log.info("agreement: %d coders, %d shared responses, %d disagreements",
             len(coders), len(shared), len(dis))
    return AgreementReport(coders=coders, units=len(shared), themes=tuple(out),
                           disagreements=tuple(dis), unused=tuple(unused),
                           bootstrap=bootstrap if counts is not None else 0, level=level)
