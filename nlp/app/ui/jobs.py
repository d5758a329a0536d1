"""App: background jobs (coding runs, suggestion refreshes), at most one per project at a time
in this server process, so a reviewer never waits on the model."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One background run: what it is, when it started and ended, its result or error."""

    kind: str
    started: float
    total: int = 0
    finished: float | None = None
    result: Any = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


_lock = threading.Lock()
_jobs: dict[str, Job] = {}
_threads: dict[str, threading.Thread] = {}


def start(key: str, kind: str, fn: Callable[[], Any], *, total: int = 0) -> bool:
    """Run `fn` in a daemon thread under `key` (a project root); False, and nothing started,
    when a job for that key is still running."""
    with _lock:
        job = _jobs.get(key)
        if job is not None and job.running:
            return False
        job = _jobs[key] = Job(kind=kind, started=time.time(), total=total)

    def work() -> None:
        try:
            job.result = fn()
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged in full
            log.exception("background %s failed", kind)
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    t = threading.Thread(target=work, name=f"nlp-{kind}", daemon=True)
    _threads[key] = t
    t.start()
    return True


def get(key: str) -> Job | None:
    """The latest job for `key` (running or finished), if any."""
    return _jobs.get(key)


def wait(key: str, timeout: float | None = None) -> Job | None:
    """Block until the job for `key` ends (tests, server shutdown)."""
    t = _threads.get(key)
    if t is not None:
        t.join(timeout)
    return _jobs.get(key)


def estimate(job: Job, *, rate: float = 100.0) -> float:
    """A progress fraction for the bar: elapsed time against `total` answers at `rate` per
    second (the embedder's measured speed on a laptop CPU), capped below 1 until done."""
    if not job.running:
        return 1.0
    if job.total <= 0:
        return 0.5
    return min(0.95, job.elapsed / max(job.total / rate, 1.0))
