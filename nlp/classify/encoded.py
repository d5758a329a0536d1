"""Classify stage: answers as the classifier sees them, the vectors of each and of its sentences.

`encode` embeds answers and their sentence segments; `Encoded` holds the vectors (and the
texts, for the lexical parts); `subset` takes rows of it; `Scored` is what the classifier says
of a batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..embed import embed_texts
from ..embed.run import CHUNK, embed_answers
from ..text.segment import MAX_SEGMENTS, segment_spans


@dataclass
class Encoded:
    """Embeddings of answers and of their segments: `seg_owner[i]` is segment i's answer and
    `seg_span[i]` its (start, end) characters in that answer (-1 when unknown)."""
    whole: np.ndarray
    seg: np.ndarray
    seg_owner: np.ndarray
    seg_span: np.ndarray | None = None
    texts: list[str] | None = None  # the answers themselves, for the lexical parts
    lexical: np.ndarray | None = None  # (n, k) lexical similarities to a codebook's themes...
    lexical_key: str | None = None  # ... under the lexical weights with this key
    # Word TF-IDF matrices of these answers by vocabulary digest, so a refit whose examples
    # keep their vocabulary (a relabel) re-scores without reading every answer again.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seg_span is None:
            self.seg_span = np.full((len(self.seg), 2), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.whole)


# How `encode` gets the vectors (measured with `evaluation/eval_classify.py --whole`, see
# evaluation/RESULTS.md):
# - "context" (default): each answer runs through the model once; its vector is the one it
#   gets alone, and each sentence's is pooled from that same run (in the context of the
#   answer), so an answer costs its own tokens and nothing more. Embedders that cannot
#   (`in_context` false: sentence-transformers, the fake) fall back to "embed".
# - "embed": the reference: the answer, and each of its sentences on its own.
# - "mean": sentences on their own; the answer's vector is the normalised mean of theirs.
WHOLE = "context"


def segment_answers(texts: Sequence[str]) -> tuple[list[list[tuple[int, int]]], list[int]]:
    """Per answer: the (start, end) spans of all its sentences, and how many of them are scored
    as segments (the first MAX_SEGMENTS of `segment_spans`)."""
    spans, scored = [], []
    for t in texts:
        sp = segment_spans(t, max_segments=1 << 30)
        spans.append(sp)
        scored.append(min(len(sp), MAX_SEGMENTS))
    return spans, scored


def assemble(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
             scored: Sequence[int], V: np.ndarray, *,
             whole_vecs: np.ndarray | None = None) -> Encoded:
    """An `Encoded` from the vectors V of every span (rows in order, unit length); the first
    `scored[i]` spans of answer i are its segments. Each answer's vector is `whole_vecs[i]`,
    else the normalised mean of all its spans' vectors ("mean")."""
    n = len(texts)
    V = np.asarray(V, dtype=np.float32)
    dim = V.shape[1] if V.ndim == 2 else 0
    counts = np.array([len(sp) for sp in spans], dtype=np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64) if n else np.zeros(0, np.int64)
    if whole_vecs is None:
        W = np.add.reduceat(V, starts, axis=0) if n and len(V) else np.zeros((n, dim), np.float32)
        W = (W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    else:
        W = np.asarray(whole_vecs, dtype=np.float32)
    n_scored = np.asarray(scored, dtype=np.int64)
    if np.array_equal(n_scored, counts):
        seg = V  # every span is a segment: no copy
    else:
        keep = np.concatenate([np.arange(o, o + k) for o, k in zip(starts, n_scored)]) \
            if n else np.zeros(0, np.int64)
        seg = V[keep.astype(np.int64)] if len(keep) else np.zeros((0, dim), np.float32)
    seg_span = np.array([se for sp, k in zip(spans, n_scored) for se in sp[:k]],
                        dtype=np.int64).reshape(-1, 2)
    owner = np.repeat(np.arange(n), n_scored)
    return Encoded(whole=W, seg=seg, seg_owner=owner, seg_span=seg_span, texts=list(texts))


def encode(texts: Sequence[str], embedder, *, cache=None, progress: bool = False,
           whole: str | None = None, chunk: int | None = None, runner=None) -> Encoded:
    """Embed answers and their sentence segments, each distinct text once (cached); `whole`:
    see WHOLE. `chunk` answers go to the cache at a time and `runner` runs them elsewhere
    (a cluster): see `nlp.embed.run.embed_answers`."""
    whole = whole or WHOLE
    if whole not in ("context", "mean", "embed"):
        raise ValueError(f"whole must be 'context', 'embed' or 'mean', not {whole!r}")
    texts = [str(t) for t in texts]
    spans, scored = segment_answers(texts)
    if whole == "mean":
        flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
        return assemble(texts, spans, scored, embed_texts(flat, embedder=embedder, cache=cache,
                                                          progress=progress))
    spans = [sp[:k] for sp, k in zip(spans, scored)]
    W, S = embed_answers(texts, spans, embedder=embedder, cache=cache, progress=progress,
                         chunk=chunk or CHUNK, runner=runner,
                         in_context=False if whole == "embed" else None)
    return assemble(texts, spans, scored, S, whole_vecs=W)


def as_encoded(X: Any, embedder, cache) -> Encoded:
    """X as an `Encoded`: as it is, bare embeddings (each answer its own only segment), or
    texts (a list, a Series, a DataFrame with a `text` column) embedded with `embedder`."""
    if isinstance(X, Encoded):
        return X
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f":
        n = len(X)  # bare embeddings: the whole answer is its only segment
        return Encoded(whole=X.astype(np.float32), seg=X.astype(np.float32),
                       seg_owner=np.arange(n))
    if hasattr(X, "columns") and "text" in X.columns:  # a DataFrame with a text column
        X = X["text"]
    if hasattr(X, "tolist"):
        X = X.tolist()
    if embedder is None:
        raise ValueError("texts need an embedder: ThemeClassifier(embedder=...)")
    return encode(list(X), embedder, cache=cache)


@dataclass
class Scored:
    """What the classifier says of a batch: probabilities (n, k), the decisions (n, k bool),
    and per (answer, theme) the (start, end) characters of the sentence that carries the
    theme best (-1 when unknown)."""
    proba: np.ndarray
    chosen: np.ndarray
    evidence: np.ndarray


def subset(enc: Encoded, idx: Sequence[int] | np.ndarray) -> Encoded:
    """Rows `idx` of an Encoded, in that order (segments follow their answers)."""
    idx = np.asarray(idx, dtype=int)
    span = enc.seg_span
    assert span is not None  # set by __post_init__
    if len(idx) == 0:
        return Encoded(whole=enc.whole[:0], seg=enc.seg[:0], seg_owner=enc.seg_owner[:0],
                       seg_span=span[:0], texts=[] if enc.texts is not None else None)
    starts = np.flatnonzero(np.r_[True, enc.seg_owner[1:] != enc.seg_owner[:-1]])
    ends = np.r_[starts[1:], len(enc.seg_owner)]
    where = np.full(len(enc), -1)
    where[enc.seg_owner[starts]] = np.arange(len(starts))
    blocks = where[idx]
    rows = np.concatenate([np.arange(starts[b], ends[b]) for b in blocks])
    owner = np.repeat(np.arange(len(idx)), ends[blocks] - starts[blocks])
    return Encoded(whole=enc.whole[idx], seg=enc.seg[rows], seg_owner=owner,
                   seg_span=span[rows],
                   texts=[enc.texts[i] for i in idx] if enc.texts is not None else None,
                   lexical=enc.lexical[idx] if enc.lexical is not None else None,
                   lexical_key=enc.lexical_key)
