"""Report stage: how many answers raise a theme when not every answer has been reviewed.

An answer a researcher reviewed counts as it was decided (1 when the theme was confirmed, 0
when not). For every other answer the model's calibrated probability stands in: the estimated
count is the confirmed count plus the sum of those probabilities, and the share is that count
over all answers.

The 95% interval draws, many times over, the answers not yet reviewed with replacement (a
bootstrap over answers: which answers happened to be received) and then whether each drawn
answer raises the theme from its probability (a Poisson-binomial draw: the model's uncertainty
about each answer). A draw of a resampled answer raises the theme with probability p̄, the mean
probability over the unreviewed answers, so the number raising it among the n unreviewed
answers is exactly Binomial(n, p̄); the interval takes that distribution's 2.5% and 97.5%
points (no random numbers, the same report every time). Its spread, n p̄ (1 - p̄), is the
Poisson-binomial spread, sum p (1 - p), plus the bootstrap's n var(p), so it covers the share
the unreviewed answers really hold at least as often as 95% when the probabilities are
calibrated (tests/unit/test_report_estimate.py checks it by simulation). It does not allow
for probabilities that are wrong as a whole (a miscalibrated model): a researcher's review of
a random sample of answers is the check for that.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy.stats import binom

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """One theme's (or one group's) count of answers raising it.

    n: answers in all; confirmed: reviewed answers a researcher confirmed it for;
    reviewed: answers whose status is known from a review; expected: the sum of the model's
    probabilities over the other n - reviewed answers; low, high: the 95% interval of the
    total count (confirmed + the unreviewed answers raising it).
    """

    n: int
    confirmed: int
    reviewed: int
    expected: float
    low: float
    high: float

    @property
    def unreviewed(self) -> int:
        return self.n - self.reviewed

    @property
    def estimated(self) -> bool:
        """Whether any part of the figure rests on the model (some answers not reviewed)."""
        return self.unreviewed > 0

    @property
    def total(self) -> float:
        return self.confirmed + self.expected

    @property
    def share(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def share_low(self) -> float:
        return self.low / self.n if self.n else 0.0

    @property
    def share_high(self) -> float:
        return self.high / self.n if self.n else 0.0


def _binom_ppf(q: float, n: int, p: float) -> int:
    """The q-quantile of Binomial(n, p): the least k with P(X <= k) >= q."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    return int(binom.ppf(q, n, p))


def estimate(confirmed: int, reviewed: int, probabilities: Iterable[float], *,
             level: float = LEVEL) -> Estimate:
    """The estimated count of answers raising a theme, and its interval.

    Args:
        confirmed: reviewed answers a researcher confirmed the theme for.
        reviewed: answers whose status for the theme a review settled.
        probabilities: the model's probability of the theme for each other answer (one
            value per unreviewed answer; NaN for an answer the model has not scored, which
            then counts at the mean of the others).
        level: the interval's coverage.

    Returns:
        The Estimate (an interval of width 0 when every answer was reviewed).
    """
    p = np.asarray(list(probabilities), dtype=float)
    p = np.clip(p, 0.0, 1.0)
    n_u = len(p)
    known = p[~np.isnan(p)]
    mean = float(known.mean()) if len(known) else 0.0
    expected = mean * n_u
    if n_u == 0 or mean <= 0:
        lo = hi = 0
    else:
        tail = (1 - level) / 2
        lo, hi = _binom_ppf(tail, n_u, mean), _binom_ppf(1 - tail, n_u, mean)
    return Estimate(n=reviewed + n_u, confirmed=int(confirmed), reviewed=int(reviewed),
                    expected=expected, low=float(confirmed + lo), high=float(confirmed + hi))
