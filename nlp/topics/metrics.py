"""Topics stage (measures): stability across seeds, NPMI coherence, diversity, theme matching."""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from rich.progress import track
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from .cluster import centroids, normalise_rows

log = logging.getLogger("nlp.topics")

SURVIVAL_JACCARD = 0.5  # a topic survives a rerun when a topic there shares half its answers
NULL_DRAWS = 200
NULL_QUANTILE = 0.95


@dataclass(frozen=True)
class Stability:
    """How much the topics move when the seed and the order of the answers change.

    `survival`: mean share of the reference fit's topics found again in each rerun (matched
    one-to-one by centroid cosine, kept when they share at least half their answers,
    Jaccard >= 0.5); `mean_ari`: mean adjusted Rand index over all pairs of runs;
    `min_ari`: the worst pair; `centroid_similarity`: mean cosine of matched centroids.
    """
    runs: int
    survival: float
    mean_ari: float
    min_ari: float
    centroid_similarity: float

    def to_dict(self) -> dict[str, float | int]:
        return {"runs": self.runs, "survival": round(self.survival, 4),
                "mean_ari": round(self.mean_ari, 4), "min_ari": round(self.min_ari, 4),
                "centroid_similarity": round(self.centroid_similarity, 4)}


def match_topics(X: np.ndarray, a: np.ndarray, b: np.ndarray
                 ) -> list[tuple[int, int, float, float]]:
    """One-to-one matching of the topics of two labelings of the same answers by centroid
    cosine (Hungarian). Returns (topic in a, topic in b, cosine, Jaccard of members)."""
    ida, ca = centroids(X, a)
    idb, cb = centroids(X, b)
    if len(ida) == 0 or len(idb) == 0:
        return []
    sims = ca @ cb.T
    rows, cols = linear_sum_assignment(-sims)
    out = []
    for r, c in zip(rows, cols):
        ma, mb = a == ida[r], b == idb[c]
        jac = float((ma & mb).sum() / max(1, (ma | mb).sum()))
        out.append((int(ida[r]), int(idb[c]), float(sims[r, c]), jac))
    return out


def stability(X: np.ndarray, fit: Callable[[np.ndarray, int], np.ndarray], *,
              reference: np.ndarray | None = None, runs: int = 5, seed: int = 0,
              progress: bool = False) -> Stability:
    """Refit with other seeds and shuffled answers, and compare with the reference labels.

    Args:
        X: unit-length embeddings (n, d) in the reference order.
        fit: (embeddings in some order, seed) -> labels in that order.
        reference: the labels of the fit being reported (default: fit(X, seed)).
        runs: fits in all, the reference included (at least 2).
        seed: the reference seed; rerun i uses seed + i and a permutation drawn from it.
        progress: show a progress bar.
    """
    runs = max(2, runs)
    labels = [np.asarray(reference) if reference is not None else fit(X, seed)]
    steps: Iterable[int] = range(1, runs)
    if progress:
        steps = track(steps, description="Stability reruns", transient=True)
    for i in steps:
        perm = np.random.default_rng(seed + i).permutation(len(X))
        lab = np.empty(len(X), dtype=int)
        lab[perm] = fit(X[perm], seed + i)
        labels.append(lab)
    aris = [adjusted_rand_score(labels[i], labels[j])
            for i, j in itertools.combinations(range(runs), 2)]
    survival: list[float] = []
    sims: list[float] = []
    n_ref = len(np.unique(labels[0][labels[0] >= 0]))
    for other in labels[1:]:
        matched = [m for m in match_topics(X, labels[0], other) if m[3] >= SURVIVAL_JACCARD]
        survival.append(len(matched) / max(1, n_ref))
        sims.extend(m[2] for m in matched)
    return Stability(runs=runs, survival=round(float(np.mean(survival)), 4),
                     mean_ari=round(float(np.mean(aris)), 4),
                     min_ari=round(float(np.min(aris)), 4),
                     centroid_similarity=round(float(np.mean(sims)), 4) if sims else 0.0)


def theme_match_cut(X: np.ndarray, labels: np.ndarray, theme_vectors: np.ndarray, *,
                    seed: int = 0, draws: int = NULL_DRAWS, quantile: float = NULL_QUANTILE
                    ) -> float:
    """The one similarity a topic needs to its nearest theme to be that theme's: how close
    the centroid of a random set of answers (as many as the median topic holds, each topic
    equally likely) comes to its nearest theme, at `quantile` of `draws` such sets. One cut
    for every topic of the fit, so a topic closer to a theme than a matched topic is matched
    too; it needs no fixed threshold, so it works for any embedder.
    """
    sizes = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, int)
    sizes = sizes[sizes > 0]
    if len(sizes) == 0 or len(theme_vectors) == 0 or len(X) == 0:
        return float("inf")
    size = int(min(max(1, np.median(sizes)), len(X)))
    # Each topic equally likely in a draw: else a theme most answers are about would make
    # every random set look like it, and the topics on it NEW.
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    rng = np.random.default_rng(seed)
    cents = normalise_rows(np.stack([X[rng.choice(len(X), size, replace=False,
                                                  p=w / w.sum())].mean(axis=0)
                                     for _ in range(draws)]))
    return float(np.quantile((cents @ theme_vectors.T).max(axis=1), quantile))


def match_themes(X: np.ndarray, labels: np.ndarray, theme_vectors: np.ndarray, *,
                 seed: int = 0, draws: int = NULL_DRAWS, quantile: float = NULL_QUANTILE,
                 cut: float | None = None) -> dict[int, tuple[int, float, bool]]:
    """The nearest theme of each topic, and whether the topic is *about* it: its centroid's
    cosine with that theme reaches `cut` (default `theme_match_cut`, the same for every
    topic). A topic holding every answer is no theme's.

    Returns:
        {topic id: (theme index, cosine of centroid and theme vector, matched)}.
    """
    ids, cents = centroids(X, labels)
    if len(ids) == 0 or len(theme_vectors) == 0:
        return {}
    if cut is None:
        cut = theme_match_cut(X, labels, theme_vectors, seed=seed, draws=draws,
                              quantile=quantile)
    sims = cents @ theme_vectors.T
    out: dict[int, tuple[int, float, bool]] = {}
    for t, row in zip(ids, sims):
        size = int((labels == t).sum())
        j = int(np.argmax(row))
        out[int(t)] = (j, float(row[j]), bool(row[j] >= cut and size < len(X)))
    return out


def npmi_coherence(topic_words: Sequence[Sequence[str]], doc_lemmas: Sequence[Sequence[str]],
                   *, top_n: int = 10) -> tuple[float, list[float]]:
    """Mean NPMI of the top words of each topic, over document co-occurrence of lemmas.

    A multi-word keyword occurs in a document when all its lemmas do. Pairs that never
    co-occur score -1; words absent from every document are dropped.

    Returns:
        (mean over topics with at least two known words, score per topic (nan if fewer)).
    """
    docs = [set(d) for d in doc_lemmas]
    n = len(docs)
    cache: dict[tuple[str, ...], np.ndarray] = {}

    def occ(word: str) -> np.ndarray:
        key = tuple(word.split())
        if key not in cache:
            cache[key] = np.array([all(p in d for p in key) for d in docs], dtype=bool)
        return cache[key]

    scores = []
    for words in topic_words:
        known = [w for w in list(words)[:top_n] if occ(w).any()]
        vals = []
        for w1, w2 in itertools.combinations(known, 2):
            o1, o2 = occ(w1), occ(w2)
            p12 = (o1 & o2).sum() / n
            if p12 == 0:
                vals.append(-1.0)
                continue
            p1, p2 = o1.sum() / n, o2.sum() / n
            if p12 >= 1.0:
                vals.append(1.0)
                continue
            vals.append(float(np.log(p12 / (p1 * p2)) / -np.log(p12)))
        scores.append(float(np.mean(vals)) if vals else float("nan"))
    valid = [s for s in scores if not np.isnan(s)]
    return (float(np.mean(valid)) if valid else float("nan")), scores


def random_coherence(doc_lemmas: Sequence[Sequence[str]], *, size: int = 10, sets: int = 50,
                     min_df: int = 2, seed: int = 0) -> float:
    """The baseline for `npmi_coherence`: the mean NPMI of `sets` random sets of `size` words
    of the consultation's own vocabulary (lemmas used by at least `min_df` answers, drawn in
    proportion to how many answers use them, as topic words tend to be the common ones).
    Topics whose coherence is not above it group words no better than chance.

    Returns:
        The mean over the sets (nan when the vocabulary has fewer than two such words).
    """
    df: dict[str, int] = {}
    for d in doc_lemmas:
        for w in set(d):
            df[w] = df.get(w, 0) + 1
    words = sorted(w for w, c in df.items() if c >= min_df)
    if len(words) < 2:
        return float("nan")
    p = np.array([df[w] for w in words], dtype=float)
    rng = np.random.default_rng(seed)
    k = min(size, len(words))
    draws = [[words[i] for i in rng.choice(len(words), k, replace=False, p=p / p.sum())]
             for _ in range(sets)]
    return npmi_coherence(draws, doc_lemmas, top_n=k)[0]


def diversity(topic_words: Sequence[Sequence[str]], *, top_n: int = 10) -> float:
    """Share of distinct words among all topics' top words (1.0: no word repeats)."""
    words = [w for ws in topic_words for w in list(ws)[:top_n]]
    return len(set(words)) / len(words) if words else float("nan")
