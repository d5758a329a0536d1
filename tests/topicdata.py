"""Synthetic topic data shared by the unit and integration topic tests."""
from __future__ import annotations

import numpy as np

from nlp.codebook import loads_codebook
from nlp.topics import cluster as tc
from nlp.types import Corpus, Response

VOCAB = {
    "money": "funding budget reserves price cost money grant payment",
    "talk": "email reply contact meeting phone letter communication told",
    "kids": "children families school parents youth nursery playground teenagers",
}
CB = loads_codebook("""
name: t
version: 1
themes:
  - id: money
    label: Money
    definition: funding budget reserves price cost money grant payment
  - id: talk
    label: Communication
    definition: email reply contact meeting phone letter communication told
""")


def blobs(k: int = 4, per: int = 25, dim: int = 16, spread: float = 0.15, seed: int = 0):
    """Unit vectors in `k` well-separated groups; returns (X, true labels, group centres)."""
    rng = np.random.default_rng(seed)
    centres = tc.normalise_rows(rng.normal(size=(k, dim)))
    X = np.vstack([c + spread * rng.normal(size=(per, dim)) for c in centres])
    return tc.normalise_rows(X), np.repeat(np.arange(k), per), centres


def synthetic_corpus(per: int = 12, seed: int = 0) -> Corpus:
    """Three topics with disjoint words, plus three non-answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, words in VOCAB.items():
        w = words.split()
        for i in range(per):
            picked = rng.choice(w, size=4, replace=False)
            text = f"We think the {picked[0]} and {picked[1]} matter, and {picked[2]} {picked[3]}."
            rows.append(Response(response_id=f"{name}-{i}", text=text, source=f"src-{i % 2}"))
    rows += [Response(response_id=f"na-{i}", text="N/A", flag="non_answer") for i in range(3)]
    return Corpus(tuple(rows))
