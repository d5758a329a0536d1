"""Classify stage: confirmations spread over the consultation's own answers.

A confirmed answer tells the model where it was wrong: its residual (the researcher's 0/1
decision minus the model's probability, per theme) is spread to the answers most like it by
label propagation over a k-nearest-neighbour graph of the consultation's answers (Zhou et
al. 2004, the "correct" step of Huang et al. 2021, "Combining label propagation and simple
models"): E <- ALPHA * A E + (1 - ALPHA) E0, with E0 the residuals at the confirmed answers
and 0 elsewhere, A the symmetrically normalised graph. The confirmations' own weight M is
spread the same way (1 at each confirmed answer), and each answer's log-odds move by
WEIGHT * E / (M + MASS): a weighted mean of the residuals near it, shrunk towards 0 where
little confirmed weight reaches it. An answer far from every confirmation does not move; a
confirmation the model already agreed with moves little; the move never exceeds WEIGHT,
however many confirmations sit nearby (summed instead of averaged, they pushed the
small consultations below the cold start at 30 examples).

Measured against the cold start and the examples-only learner on seven development
consultations with 10, 20 and 30 random examples (evaluation/RESULTS.md); nothing here knows
a codebook or a domain. The graph is built on the consultation when it holds at most
MAX_ANSWERS answers (its cost grows with the square of their number); above that the
confirmations teach through the per-theme regressions alone.
"""
from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sps

ALPHA = 0.9  # how far residuals travel along the graph (0.5 / 0.8 / 0.9 tried)
NEIGHBOURS = 10  # k of the k-nearest-neighbour graph (5 / 10 / 20 tried)
WEIGHT = 4.0  # log-odds per unit of mean residual (2 / 3 / 4 / 6 tried)
MASS = 1.0  # confirmed weight at which the move is half the mean residual (0.3 / 0.5 / 1)
ITERATIONS = 20
MAX_ANSWERS = 5_000  # consultations larger than this are not propagated over
_BLOCK = 2_000
# Graphs by a digest of their vectors: a relabel re-spreads over the graph it already has.
_GRAPHS: dict[tuple[str, int], sps.csr_matrix] = {}


def knn_graph(W: np.ndarray, k: int = NEIGHBOURS) -> sps.csr_matrix:
    """Symmetrically normalised k-nearest-neighbour graph of the rows of W, by cosine after
    centring on their mean (what every answer shares stops counting); edge weights are the
    (positive) cosines, the graph made symmetric by the larger of the two directions."""
    X = np.ascontiguousarray(W, dtype=np.float32)
    key = (hashlib.sha256(X.tobytes()).hexdigest(), k)
    if key in _GRAPHS:
        return _GRAPHS[key]
    while len(_GRAPHS) >= 2:
        _GRAPHS.pop(next(iter(_GRAPHS)))
    _GRAPHS[key] = _knn_graph(X, k)
    return _GRAPHS[key]


def _knn_graph(X: np.ndarray, k: int) -> sps.csr_matrix:
    X = X - X.mean(0)
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    n = len(X)
    k = min(k, n - 1)
    if k < 1:
        return sps.csr_matrix((n, n), dtype=np.float32)
    rows, cols, vals = [], [], []
    for lo in range(0, n, _BLOCK):
        S = X[lo:lo + _BLOCK] @ X.T
        S[np.arange(len(S)), np.arange(lo, lo + len(S))] = -np.inf
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(np.arange(lo, lo + len(S)), k))
        cols.append(idx.ravel())
        vals.append(np.maximum(np.take_along_axis(S, idx, axis=1).ravel(), 0))
    A = sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n, n))
    A = A.maximum(A.T).tocsr()
    d = np.asarray(A.sum(1)).ravel() + 1e-9
    inv = sps.diags(1.0 / np.sqrt(d))
    return (inv @ A @ inv).tocsr()


def propagate(A: sps.csr_matrix, E0: np.ndarray, confirmed: np.ndarray,
              alpha: float = ALPHA, mass: float = MASS, iterations: int = ITERATIONS
              ) -> np.ndarray:
    """(n, k) residuals E0 (0 except at the `confirmed` rows) spread over the graph A, each
    row divided by the confirmed weight that reaches it plus `mass`."""
    E0 = np.column_stack([E0, np.zeros(len(E0))])
    E0[confirmed, -1] = 1.0
    E = E0.copy()
    for _ in range(iterations):
        E = alpha * (A @ E) + (1 - alpha) * E0
    E /= 1 - alpha
    return E[:, :-1] / (E[:, -1:] + mass)
