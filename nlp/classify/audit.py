"""Classify stage: how far to trust the model's unreviewed suggestions, from random checks.

Every AUDIT_EVERY-th answer of the review order is drawn at random among the answers not yet
reviewed (`nlp.classify.active.review_order`). Once a researcher has decided on such a check,
the model's suggestions on it (as they were when it was drawn) are compared with the
researcher's themes (accepted = present, every other theme absent). Agreement is micro-F1
over the checks' answer-theme pairs, 2|M and R| / (|M| + |R|) summed over the checks (M the
model's themes, R the researcher's): the share of themes the two give in common. Its 95%
interval is a Wilson interval on the effective number of checks (the ratio's variance by
the delta method, clustered by answer: an answer's themes are judged together), with
Student's t quantile for small numbers of checks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy.stats import t as student_t

from .active import AUDIT_EVERY

LEVEL = 0.95
TARGET_HALF_WIDTH = 0.05  # "how many more checks would narrow it to +/- 5 points"


@dataclass(frozen=True)
class AuditEstimate:
    """Agreement of the model's suggestions with the researcher on random checks."""

    checks: int  # random checks a researcher has decided on
    agreement: float | None  # micro-F1 over them (None: no theme in any of them)
    low: float | None
    high: float | None
    more_checks: int | None  # further checks for a half-width of TARGET_HALF_WIDTH

    def sentence(self) -> str:
        """The estimate in one sentence, for the app and the report."""
        if self.agreement is None or self.low is None or self.high is None:
            return (f"Not enough random checks reviewed yet to estimate how far to trust the "
                    f"unreviewed suggestions ({self.checks} so far; every {AUDIT_EVERY}th answer "
                    f"of the review queue is one).")
        s = (f"Model suggestions agree with your coding on an estimated "
             f"{self.agreement:.0%} of themes ({self.low * 100:.0f}-{self.high:.0%}, 95% "
             f"interval), "
             f"from {self.checks} random check{'' if self.checks == 1 else 's'}.")
        if self.more_checks:
            s += (f" About {self.more_checks} more would narrow it to "
                  f"±{round(TARGET_HALF_WIDTH * 100)} points.")
        return s


def _quantile(n: int) -> float:
    """Two-sided 95% quantile: Student's t with n - 1 degrees of freedom (normal from 200)."""
    if n >= 200:
        return 1.959964
    return float(student_t.ppf(0.5 + LEVEL / 2, max(n - 1, 1)))


def wilson(p: float, n_eff: float, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion `p` from `n_eff` (possibly fractional) trials."""
    z2 = z * z
    centre = (p + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = z * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff ** 2)) / (1 + z2 / n_eff)
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(model_themes: Sequence[Iterable[str]], researcher_themes: Sequence[Iterable[str]]
             ) -> AuditEstimate:
    """Agreement on random checks, one entry per checked answer (aligned lists of theme
    ids), with its 95% interval and the checks still needed for a ±5-point interval."""
    a, b = [], []  # per answer: 2|M and R|, |M| + |R|
    for m, r in zip(model_themes, researcher_themes):
        m, r = set(m), set(r)
        a.append(2 * len(m & r))
        b.append(len(m) + len(r))
    n = len(a)
    A, B = np.asarray(a, float), np.asarray(b, float)
    if n == 0 or B.sum() == 0:
        return AuditEstimate(n, None, None, None, None)
    p = float(A.sum() / B.sum())
    if n < 2:
        return AuditEstimate(n, p, None, None, None)
    z = _quantile(n)
    # Delta method for the ratio of means, clustered by answer.
    resid = A - p * B
    var = float(resid.var(ddof=1)) / n / float(B.mean()) ** 2
    # The effective number of checks: a binomial proportion with this variance. Where every
    # answer agrees alike (variance 0), each answer counts as one trial.
    n_eff = p * (1 - p) / var if var > 0 and 0 < p < 1 else float(n)
    n_eff = max(1.0, n_eff)
    low, high = wilson(p, n_eff, z)
    per_check = n_eff / n  # trials' worth of one check
    want = (z / TARGET_HALF_WIDTH) ** 2 * max(p * (1 - p), 0.01)  # trials for +/- target
    more = max(0, math.ceil(want / per_check - n))
    return AuditEstimate(n, p, low, high, more)
