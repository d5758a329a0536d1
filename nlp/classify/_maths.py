"""Classify stage: the small numeric pieces every part of the theme classifier uses."""
from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-9)


def centred_cosine(X: np.ndarray, centre, P: np.ndarray) -> np.ndarray:
    """cos(x - centre, p) for every row x of X and (unit) row p of P, without building the
    centred copy of X: (x.p - c.p) / |x - c|, |x - c|^2 = |x|^2 - 2 x.c + |c|^2."""
    X = np.asarray(X, dtype=np.float32)
    P = np.asarray(P, dtype=np.float32)
    if len(X) == 0:
        return np.zeros((0, len(P)), dtype=np.float32)
    if np.isscalar(centre):  # no centring
        return unit(X) @ P.T
    c = np.asarray(centre, dtype=np.float32)
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64) - 2.0 * (X @ c).astype(np.float64) \
        + float(c.astype(np.float64) @ c)
    norm = np.sqrt(np.maximum(sq, 1e-18)).astype(np.float32)
    return ((X @ P.T) - (c @ P.T)) / np.maximum(norm, 1e-9)[:, None]


def f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((y.astype(bool) & pred.astype(bool)).sum())
    return 2 * tp / max(1.0, float(y.sum() + pred.sum()))


def logreg(X: np.ndarray, y: np.ndarray, C: float = 1.0, iters: int = 50
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
        p = sigmoid(X @ w)
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


def group_max(values: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per answer, the maximum over its rows of `values` (rows grouped contiguously by
    `owner`) and the row holding it: ((n, k) maxima, -1 where none; (n, k) rows, -1)."""
    k = values.shape[1]
    best = np.full((n, k), -1.0, dtype=np.float32)
    arg = np.full((n, k), -1, dtype=np.int64)
    if len(values) == 0:
        return best, arg
    change = np.r_[True, owner[1:] != owner[:-1]]
    starts = np.flatnonzero(change)
    mx = np.maximum.reduceat(values, starts, axis=0)
    grp = np.cumsum(change) - 1
    rows = np.where(values >= mx[grp] - 1e-7, np.arange(len(values))[:, None], len(values))
    best[owner[starts]] = mx
    arg[owner[starts]] = np.minimum.reduceat(rows, starts, axis=0)
    return best, arg
