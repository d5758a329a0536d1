"""Topics stage (clustering): size rules, codebook-seeded consensus k-means, UMAP + HDBSCAN.

Two regimes, chosen by the number of answers `n` alone:

- ``n <= SMALL_MAX`` (the usual consultation, 100-2,000 answers): *consensus k-means*. A hundred
  k-means runs on the unit-length embeddings, each seeded with the codebook themes' vectors
  (plus k-means++ centroids for the topics the codebook may miss), vote in a co-association
  matrix; average-linkage clustering of that matrix gives the topics (evidence accumulation,
  Fred & Jain 2005). Every answer gets a topic, and the vote smooths away the run-to-run
  jitter of k-means. HDBSCAN on UMAP projections of a few hundred answers is what makes
  BERTopic's defaults return one topic or mostly outliers (BERTopic issues #1018, #1872).
- ``n > SMALL_MAX``: BERTopic's own recipe, UMAP (5-d, cosine) + HDBSCAN, with a minimum cluster
  size that grows with `n`; answers are nudged towards their nearest theme first (BERTopic's
  guided topic modelling) and outliers are reassigned to the nearest topic centroid (BERTopic's
  ``reduce_outliers(strategy="embeddings")``).

Both regimes are deterministic for a given seed and input order.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.cluster import KMeans, kmeans_plusplus

log = logging.getLogger("nlp.topics")

SMALL_MAX = 2000  # above this, co-association matrices (n x n) cost too much: use HDBSCAN
MIN_ANSWERS = 20  # fewer answers than this give no topics worth the name
CONSENSUS_RUNS = 100
NUDGE = 0.25  # BERTopic's guided topic modelling moves answers 25% towards their seed topic


@dataclass(frozen=True)
class ClusterParams:
    """The clustering settings the size rules chose (saved with every result)."""
    method: str  # "consensus-kmeans" or "umap-hdbscan"
    n: int
    k: int | None  # topics asked of k-means (None for HDBSCAN)
    seeded_themes: tuple[str, ...]
    min_topic_size: int
    consensus_runs: int | None
    umap_neighbors: int | None
    umap_components: int | None
    hdbscan_min_cluster_size: int | None
    hdbscan_min_samples: int | None
    outlier_threshold: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeded_themes"] = list(self.seeded_themes)
        return d


def normalise_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    a = np.asarray(a, dtype=np.float32)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms == 0, 1.0, norms)


def rule_of_thumb_k(n: int) -> int:
    """k = sqrt(n / 2) (Mardia, Kent & Bibby 1979), clipped to [2, 50]."""
    return int(np.clip(round(math.sqrt(n / 2)), 2, 50))


def min_topic_size(n: int) -> int:
    """Smallest topic worth reporting: 1% of the answers, at least 3."""
    return max(3, round(0.01 * n))


METHODS = ("auto", "consensus-kmeans", "umap-hdbscan")


def choose_params(n: int, *, theme_ids: tuple[str, ...] = (), outlier_threshold: float = 0.0,
                  method: str = "auto") -> ClusterParams:
    """Clustering settings for `n` answers and the themes that will seed it.

    Args:
        n: answers to model.
        theme_ids: the themes that seed topics (already filtered by `seed_themes`).
        outlier_threshold: cosine an HDBSCAN outlier needs to its nearest topic to join it.
        method: "auto" (by size: consensus k-means up to SMALL_MAX answers, else UMAP +
            HDBSCAN), or one of them by name.

    Raises:
        ValueError: unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    size = min_topic_size(n)
    if method == "consensus-kmeans" or (method == "auto" and n <= SMALL_MAX):
        k_rule = rule_of_thumb_k(n)
        # Room for the seeded themes plus a third as many free topics for what they miss.
        k = max(k_rule, len(theme_ids) + max(2, k_rule // 3)) if theme_ids else k_rule
        k = int(min(k, max(2, n // size)))
        return ClusterParams("consensus-kmeans", n, k, tuple(theme_ids[:k]), size,
                             CONSENSUS_RUNS, None, None, None, None, outlier_threshold)
    mcs = max(10, round(n / 200))  # at most ~200 topics however large the consultation
    return ClusterParams("umap-hdbscan", n, None, tuple(theme_ids), mcs, None, 15, 5, mcs,
                         max(5, mcs // 4), outlier_threshold)


def seed_themes(X: np.ndarray, theme_vectors: np.ndarray, theme_ids: list[str], *,
                min_size: int) -> list[int]:
    """Indices of the themes that are the nearest theme of at least `min_size` answers, most
    popular first: a theme nobody writes about should not reserve a topic."""
    if len(theme_vectors) == 0:
        return []
    counts = np.bincount(np.argmax(X @ theme_vectors.T, axis=1), minlength=len(theme_ids))
    order = sorted(range(len(theme_ids)), key=lambda j: (-counts[j], j))
    return [j for j in order if counts[j] >= min_size]


def centroids(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(topic ids >= 0 in ascending order, unit-length mean embedding of each)."""
    ids = np.unique(labels[labels >= 0])
    if len(ids) == 0:
        return ids, np.zeros((0, X.shape[1]), dtype=np.float32)
    return ids, normalise_rows(np.stack([X[labels == t].mean(axis=0) for t in ids]))


def reassign_outliers(X: np.ndarray, labels: np.ndarray, *, threshold: float = 0.0
                      ) -> np.ndarray:
    """Give each outlier (-1) the topic whose centroid is most cosine-similar, when that
    similarity reaches `threshold` (BERTopic's reduce_outliers, strategy "embeddings")."""
    labels = labels.copy()
    out = np.flatnonzero(labels < 0)
    ids, cents = centroids(X, labels)
    if len(out) == 0 or len(ids) == 0:
        return labels
    sims = X[out] @ cents.T
    best = np.argmax(sims, axis=1)
    ok = sims[np.arange(len(out)), best] >= threshold
    labels[out[ok]] = ids[best[ok]]
    return labels


def merge_small(X: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Dissolve topics smaller than `min_size` into their answers' nearest remaining topics,
    smallest first; then renumber topics 0..k-1 by size (largest first)."""
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels[labels >= 0], return_counts=True)
        small = [t for t, c in sorted(zip(ids, counts), key=lambda x: (x[1], x[0]))
                 if c < min_size]
        if not small or len(ids) <= 2:
            break
        labels[labels == small[0]] = -2
        keep = labels >= 0
        kid, kcent = centroids(X, np.where(keep, labels, -1))
        moved = np.flatnonzero(labels == -2)
        labels[moved] = kid[np.argmax(X[moved] @ kcent.T, axis=1)]
    return renumber(labels)


def renumber(labels: np.ndarray) -> np.ndarray:
    """Topic ids 0..k-1 by decreasing size (ties: first appearance); -1 kept."""
    labels = np.asarray(labels)
    ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    mapping = {int(ids[i]): new for new, i in enumerate(order)}
    return np.array([mapping.get(int(x), -1) for x in labels], dtype=int)


def consensus_kmeans(X: np.ndarray, k: int, *, seeds: np.ndarray | None = None,
                     runs: int = CONSENSUS_RUNS, seed: int = 0) -> np.ndarray:
    """Evidence-accumulation clustering: `runs` k-means partitions (seeded with `seeds` rows
    as the first centroids, the rest k-means++) vote on which answers belong together."""
    n = len(X)
    k = int(min(k, n))
    seeds = np.zeros((0, X.shape[1]), np.float32) if seeds is None else seeds[:k]
    rng = np.random.default_rng(seed)
    co = np.zeros((n, n), dtype=np.float32)
    for _ in range(runs):
        rs = int(rng.integers(2**31 - 1))
        if len(seeds) < k:
            extra, _ = kmeans_plusplus(X, k - len(seeds), random_state=rs)
            init = np.vstack([seeds, extra])
        else:
            init = seeds
        lab = KMeans(k, init=init, n_init=1, random_state=rs).fit_predict(X)
        co += lab[:, None] == lab[None, :]
    dist = 1.0 - co / runs
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=k, criterion="maxclust") - 1


def umap_hdbscan(X: np.ndarray, params: ClusterParams, *, seed: int = 0) -> np.ndarray:
    """UMAP to a few dimensions, then HDBSCAN; -1 marks outliers."""
    import hdbscan
    from umap import UMAP

    reducer = UMAP(n_neighbors=params.umap_neighbors or 15,
                   n_components=params.umap_components or 5, min_dist=0.0, metric="cosine",
                   random_state=seed, n_jobs=1)
    low = reducer.fit_transform(X)
    model = hdbscan.HDBSCAN(min_cluster_size=params.hdbscan_min_cluster_size or 10,
                            min_samples=params.hdbscan_min_samples, metric="euclidean",
                            cluster_selection_method="eom")
    return model.fit_predict(low)


def nudge_towards_themes(X: np.ndarray, theme_vectors: np.ndarray) -> np.ndarray:
    """BERTopic's guided topic modelling with theme vectors for seed topics: answers closer to
    a theme than to the corpus mean move a quarter of the way towards it."""
    if len(theme_vectors) == 0:
        return X
    mean = normalise_rows(X.mean(axis=0, keepdims=True))
    sims = X @ np.vstack([theme_vectors, mean]).T
    best = np.argmax(sims, axis=1)
    out = X.copy()
    hit = best < len(theme_vectors)
    out[hit] = (1 - NUDGE) * X[hit] + NUDGE * theme_vectors[best[hit]]
    return normalise_rows(out)


def cluster(X: np.ndarray, params: ClusterParams, *, seeds: np.ndarray | None = None,
            seed: int = 0) -> tuple[np.ndarray, float]:
    """Topic per answer under `params`.

    Args:
        X: unit-length embeddings (n, d).
        params: from `choose_params`.
        seeds: theme vectors (rows in `params.seeded_themes` order) or None.
        seed: random seed.

    Returns:
        (labels 0..k-1 by decreasing size, -1 only for outliers left by a positive
        `outlier_threshold`; share of answers HDBSCAN called outliers before reassignment).
    """
    X = normalise_rows(X)
    if seeds is not None and len(seeds) == 0:
        seeds = None
    if params.method == "consensus-kmeans":
        raw = consensus_kmeans(X, params.k or rule_of_thumb_k(len(X)), seeds=seeds,
                               runs=params.consensus_runs or CONSENSUS_RUNS, seed=seed)
        return merge_small(X, raw, params.min_topic_size), 0.0
    raw = umap_hdbscan(nudge_towards_themes(X, seeds) if seeds is not None else X, params,
                       seed=seed)
    outliers = float(np.mean(raw < 0))
    if np.all(raw < 0):  # HDBSCAN found nothing: one topic rather than none
        raw = np.zeros(len(X), dtype=int)
    labels = reassign_outliers(X, raw, threshold=params.outlier_threshold)
    return renumber(labels), outliers
