"""Robustness tests: real project folders, the real `nlp` command in subprocesses, real kills.

Helpers: `run_nlp` (the CLI as a user runs it), `dump_db` (every row and schema object of a
SQLite project, to prove a failed command changed nothing), `new_project`.
"""
from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NLP = [sys.executable, "-m", "nlp"]
BASE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "NLP_EMBEDDER": "fake", "NO_COLOR": "1", "COLUMNS": "200"}


def run_nlp(*args: str | Path, project: Path | None = None, env: dict | None = None,
            timeout: float = 180, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`nlp [--project P] ARGS...` in a child process; stdout/stderr as text."""
    cmd = [*NLP, *(["--project", str(project)] if project else []), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**BASE_ENV, **(env or {})}, cwd=cwd or REPO)


# What importing any file under 10 MB may cost (issue 15): measured, not assumed.
MEMORY_MB = 1536
SECONDS = 60


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the child's peak resident memory


def run_limited(*args: str | Path, project: Path | None = None, env: dict | None = None,
                timeout: float = SECONDS, memory_mb: int = MEMORY_MB) -> Measured:
    """`nlp ARGS...` in a child process that may use at most `memory_mb` of address space
    and `timeout` seconds (killed then); returns what it printed, its time and peak memory.
    """
    cmd = [*NLP, *(["--project", str(project)] if project else []), *map(str, args)]
    limit = memory_mb * 1024 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    with open(out_dir / f"nlp-out-{os.getpid()}", "w+") as out, \
            open(out_dir / f"nlp-err-{os.getpid()}", "w+") as err:
        t0 = time.monotonic()
        # One BLAS thread: on a many-core machine OpenBLAS reserves address space per thread.
        threads = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                    "MKL_NUM_THREADS")}
        proc = subprocess.Popen(cmd, stdout=out, stderr=err,
                                env={**BASE_ENV, **threads, **(env or {})}, cwd=REPO,
                                preexec_fn=cap)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status) if status != -1 else -9
        out.seek(0)
        err.seek(0)
        res = Measured(proc.returncode, out.read(), err.read(), seconds,
                       usage.ru_maxrss / 1024)
    for f in (out_dir / f"nlp-out-{os.getpid()}", out_dir / f"nlp-err-{os.getpid()}"):
        f.unlink(missing_ok=True)
    assert res.returncode != -9, f"killed after {timeout:.0f} s: {cmd}"
    assert res.peak_mb < memory_mb, f"peak memory {res.peak_mb:.0f} MB: {cmd}"
    return res


def dump_db(path: Path) -> list[str]:
    """The whole SQLite database as SQL statements (schema and every row, nothing left out)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def project_state(root: Path) -> tuple[list[str], str]:
    """What a failed command must leave as it was: the database and project.json."""
    return dump_db(root / "project.db"), (root / "project.json").read_text(encoding="utf-8")


def new_project(root: Path, codebook: Path | None = None):
    """A fresh SQLite project (closed again: tests open it themselves)."""
    from nlp.project import init_project

    p = init_project(root, codebook=codebook)
    p.close()
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return new_project(tmp_path / "proj")
