"""Embed stage, long runs: answers and their segments embedded in chunks that go to the cache
as they finish (a killed run resumes), with progress (rate, ETA), here or on a Dask cluster.

`embed_answers` is what coding calls: with an embedder that can (`in_context`, the ONNX
backends), each distinct answer runs once and its segments' vectors are pooled from that same
run, so an answer costs its own tokens and nothing more; other embedders embed the answers and
each distinct segment text apart (the reference).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from .. import errors
from ..types import text_hash

if TYPE_CHECKING:
    from . import Embedder, EmbeddingCache

log = logging.getLogger("nlp.embed")

CHUNK = 2_000  # answers (or texts) embedded between two cache writes


class RunProgress:
    """Progress of a long step with rate and ETA: a live bar on a terminal, else a plain line
    on stderr every LOG_EVERY seconds and at the end (so a log file shows it too)."""

    LOG_EVERY = 15.0

    def __init__(self, label: str, total: int, *, enabled: bool = True, unit: str = "texts"
                 ) -> None:
        self.label, self.total, self.unit, self.done = label, total, unit, 0
        self.enabled = enabled and total > 0
        self.t0 = self._last = time.perf_counter()
        self._bar = None
        if self.enabled and sys.stderr.isatty():
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=Console(stderr=True, markup=False, highlight=False))
            self._task = self._bar.add_task(label, total=total, rate="")
            self._bar.start()

    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.t0, 1e-9)

    def line(self) -> str:
        r = self.rate()
        left = (self.total - self.done) / r if r > 0 else float("inf")
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left < 1e7 else "?"
        took = time.strftime("%H:%M:%S", time.gmtime(time.perf_counter() - self.t0))
        return (f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({r:,.0f}/s, "
                f"elapsed {took}, ETA {eta})")

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=n, rate=f"{self.rate():,.0f} {self.unit}/s")
        elif time.perf_counter() - self._last >= self.LOG_EVERY or self.done >= self.total:
            self._last = time.perf_counter()
            print(self.line(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class LocalRunner:
    """Runs an embedder's method on chunks in this process, one after another."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def map(self, method: str, parts: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        fn = getattr(self.embedder, method)
        for i, args in enumerate(parts):
            yield i, fn(*args)

    def close(self) -> None:
        pass


_WORKER_EMBEDDERS: dict[tuple, Any] = {}


def _on_worker(embedder, method: str, args: tuple):
    """Runs on a Dask worker: the client's embedder (its settings; the model loads once per
    worker process, on the worker's own threads)."""
    key = (embedder.model_id, getattr(embedder, "device", "cpu"))
    mine = _WORKER_EMBEDDERS.get(key)
    if mine is None:
        try:
            from distributed import get_worker

            threads = get_worker().state.nthreads
        except (ImportError, ValueError, AttributeError):
            threads = None
        if threads and hasattr(embedder, "threads"):
            embedder.threads = threads
        mine = _WORKER_EMBEDDERS[key] = embedder
    return getattr(mine, method)(*args)


class DaskRunner:
    """Runs chunks on a Dask distributed cluster (`tcp://HOST:8786`, or a `distributed.Client`):
    one task a chunk, at most 2 x workers in flight (the client holds a bounded number of
    results), results in completion order."""

    def __init__(self, embedder, cluster) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise errors.optional_dependency("distributed", "cluster") from None
        self.embedder = embedder
        self._own = not isinstance(cluster, Client)
        try:
            self.client = Client(cluster, timeout="20s") if self._own else cluster
        except (OSError, TimeoutError) as exc:
            raise errors.no_dask_scheduler(cluster, exc) from None

    def map(self, method: str, parts: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        remote = self.client.scatter(self.embedder, broadcast=True)
        todo = iter(enumerate(parts))
        futures: dict = {}
        ac = as_completed([])

        def submit() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                f = self.client.submit(_on_worker, remote, method, nxt[1], pure=False)
                futures[f] = nxt[0]
                ac.add(f)

        for _ in range(2 * workers):
            submit()
        for f in ac:
            i = futures.pop(f)
            out = f.result()
            f.release()
            submit()
            yield i, out

    def close(self) -> None:
        if self._own:
            self.client.close()


def make_runner(embedder: Embedder, cluster=None):
    """Where chunks run: this process, or a Dask cluster (an address or a Client)."""
    return LocalRunner(embedder) if cluster is None else DaskRunner(embedder, cluster)


def embed_answers(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *,
                  embedder: Embedder, cache: EmbeddingCache | None = None, chunk: int = CHUNK,
                  progress: bool = False,
                  runner=None, in_context: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of answers and of their segments (`spans[i]`: (start, end) of answer i's).

    Returns (W, S): W (len(texts), dim), each answer's own vector; S (total spans, dim), the
    segments' in order. In context (the default where the embedder can): each distinct answer
    runs once and its segments are pooled from that run, cached by (answer, span). Otherwise
    each distinct answer and segment text is embedded on its own, cached by text (the
    reference). Work goes in chunks of `chunk` answers (texts), longest first, each written
    to the cache as it finishes; `runner` runs the chunks (default: here).
    """
    texts = [str(t) for t in texts]
    ctx = bool(getattr(embedder, "in_context", False)) if in_context is None else in_context
    if ctx and not hasattr(embedder, "encode_in_context"):
        raise errors.cannot_embed_in_context(embedder.model_id)
    model_id = embedder.model_id
    seg_id = f"{model_id}#in-context"
    ahash = [text_hash(t) for t in texts]
    args: list[tuple[Any, ...]]  # each chunk's arguments to `method`
    if ctx:
        skey = [[text_hash(f"{h}:{s}:{e}") for s, e in sp] for h, sp in zip(ahash, spans)]
        first: dict[str, int] = {}
        for i, h in enumerate(ahash):
            first.setdefault(h, i)
        found_w = cache.get(model_id, list(first)) if cache is not None else {}
        found_s = cache.get(seg_id, [k for ks in skey for k in ks]) if cache is not None else {}
        todo = [i for h, i in first.items()
                if h not in found_w or any(k not in found_s for k in skey[i])]
        todo.sort(key=lambda i: -len(texts[i]))
        parts = [todo[j:j + chunk] for j in range(0, len(todo), chunk)]
        args = [([texts[i] for i in p], [list(spans[i]) for i in p]) for p in parts]
        method, unit, total = "encode_in_context", "answers", len(todo)
    else:
        flat = [t[s:e] for t, sp in zip(texts, spans) for s, e in sp]
        allt = texts + flat
        hashes = ahash + [text_hash(t) for t in flat]
        first = {}
        for i, h in enumerate(hashes):
            first.setdefault(h, i)
        found_w = cache.get(model_id, list(first)) if cache is not None else {}
        todo = [i for h, i in first.items() if h not in found_w]
        todo.sort(key=lambda i: -len(allt[i]))
        parts = [todo[j:j + chunk] for j in range(0, len(todo), chunk)]
        args = [([allt[i] for i in p],) for p in parts]
        method, unit, total = "encode", "texts", len(todo)
    log.info("%d answers: %d to embed (%s) in %d chunks", len(texts), total, unit, len(parts))
    bar = RunProgress(f"Embedding ({model_id})", total, enabled=progress, unit=unit)
    own = runner is None
    runner = runner or LocalRunner(embedder)
    try:
        for c, out in runner.map(method, args):
            p = parts[c]
            if ctx:
                Wc, Sc = (np.asarray(x, dtype=np.float32) for x in out)
                keys = [k for i in p for k in skey[i]]
                if len(Wc) != len(p) or len(Sc) != len(keys):
                    raise errors.embedder_wrong_count()
                hs = [ahash[i] for i in p]
                if cache is not None:
                    cache.put(model_id, hs, Wc)
                    cache.put(seg_id, keys, Sc)
                found_w.update(zip(hs, Wc))
                found_s.update(zip(keys, Sc))
            else:
                V = np.asarray(out, dtype=np.float32)
                hs = [hashes[i] for i in p]
                if len(V) != len(p):
                    raise errors.embedder_wrong_count()
                if cache is not None:
                    cache.put(model_id, hs, V)
                found_w.update(zip(hs, V))
            bar.advance(len(p))
    finally:
        bar.close()
        if own:
            runner.close()
    if total:
        log.info(bar.line())
    dim = len(next(iter(found_w.values()))) if found_w else int(embedder.dim)
    W = np.stack([found_w[h] for h in ahash]) if texts else np.zeros((0, dim), np.float32)
    if ctx:
        keys = [k for ks in skey for k in ks]
        S = np.stack([found_s[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
    else:
        keys = hashes[len(texts):]
        S = np.stack([found_w[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
    return W.astype(np.float32, copy=False), S.astype(np.float32, copy=False)
