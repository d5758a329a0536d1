"""Benchmark: ranking the review order (`nlp.classify.active.review_order`) for 100,000 cached
answers: model probabilities for 24 themes, 384-dimensional answer vectors (MiniLM's size),
3,000 answers already reviewed. Times the ranking alone (the scores and vectors are what a
refit leaves in memory); median of 5 runs.

    python evaluation/bench_review.py [--answers 100000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlp.classify.active import review_order  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=100_000)
    ap.add_argument("--themes", type=int, default=24)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, k = args.answers, args.themes
    proba = rng.beta(0.5, 3.0, (n, k))
    thresholds = rng.uniform(0.3, 0.6, k)
    emb = rng.normal(size=(n, 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    reviewed = np.zeros(n, bool)
    reviewed[rng.choice(n, min(3_000, n // 10), replace=False)] = True
    confirmed = rng.integers(0, 200, k)
    times = []
    for seed in range(5):
        t0 = time.perf_counter()
        ro = review_order(proba, thresholds, emb, reviewed=reviewed, confirmed=confirmed,
                          seed=seed)
        times.append(time.perf_counter() - t0)
    print(f"review order of {len(ro.order):,} answers ({int(ro.audit.sum()):,} random checks): "
          f"median {statistics.median(times):.3f} s, max {max(times):.3f} s over 5 runs")


if __name__ == "__main__":
    main()
