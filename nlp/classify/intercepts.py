"""Classify stage: per-theme log-odds corrections from the confirmed examples, shrunk by how
far they stand out from chance.

A confirmed answer says whether the model's probability for each theme was too high or too
low. Per theme, the intercept that best fits the examples (the maximum-likelihood shift of
the theme's log-odds over them) estimates how far the theme is off everywhere. With a few
examples most of that shift is sampling noise, so every theme's shift is shrunk towards 0 by
an empirical-Bayes factor tau^2 / (tau^2 + v_t): v_t is the shift's own sampling variance
(the inverse Fisher information, 1 / sum p (1 - p)) and tau^2 the variance of the true
shifts, estimated by the method of moments across the themes (mean shift^2 minus mean v,
floored at 0). Where the shifts are no larger than chance makes them, nothing moves; where
one theme is clearly off, it moves nearly all the way. Nothing is tuned: the shrinkage is
estimated on each consultation's own examples.

Measured on seven development consultations with 10, 20 and 30 nested random examples
(evaluation/RESULTS.md): never below the model without it, +0.02 micro-F1 on the bundled
corpus at 10 and 20 examples; on the two synthetic consultations tau^2 is 0 in every draw
(their examples' deviations are chance), so nothing changes there.
"""
from __future__ import annotations

import numpy as np

MAX_SHIFT = 4.0  # log-odds; a theme all examples have (or none) has no finite estimate
ITERATIONS = 30


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def theme_intercepts(logits: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, float]:
    """Shrunk per-theme log-odds shifts from examples.

    Args:
        logits: (n, k) the model's log-odds for the n examples.
        Y: (n, k) the researcher's 0/1 decisions.

    Returns:
        ((k,) shifts to add to each theme's log-odds, the estimated tau^2).
    """
    L = np.asarray(logits, dtype=float)
    Y = np.asarray(Y, dtype=float)
    k = L.shape[1] if L.ndim == 2 else 0
    if not len(L) or not k:
        return np.zeros(k), 0.0
    shift, var = np.zeros(k), np.zeros(k)
    for t in range(k):
        x = 0.0
        for _ in range(ITERATIONS):  # Newton on the one intercept
            p = _sigmoid(L[:, t] + x)
            step = (Y[:, t] - p).sum() / ((p * (1 - p)).sum() + 1e-3)
            x = float(np.clip(x + step, -MAX_SHIFT, MAX_SHIFT))
            if abs(step) < 1e-6:
                break
        p = _sigmoid(L[:, t] + x)
        shift[t], var[t] = x, 1.0 / ((p * (1 - p)).sum() + 1e-3)
    tau2 = max(0.0, float(np.mean(shift ** 2) - np.mean(var)))
    return shift * tau2 / (tau2 + var), tau2
