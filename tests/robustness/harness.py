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


# What importing any file under 10 MB may cost (issue 15): measured, not assumed. The limits
# are on the process itself (address space and CPU seconds, enforced by the kernel), never on
# wall time: on a busy shared machine a command's wall time says nothing about it (issue 25).
MEMORY_MB = 1536
CPU_SECONDS = 60
HANG_SECONDS = 600  # only a guard against a hang (a process blocked, using no CPU)


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float  # user + system time of the child
    peak_mb: float  # the child's peak resident memory


def run_limited(*args: str | Path, project: Path | None = None, env: dict | None = None,
                cpu_seconds: float = CPU_SECONDS, memory_mb: int = MEMORY_MB,
                hang_seconds: float = HANG_SECONDS) -> Measured:
    """`nlp ARGS...` in a child process that may use at most `memory_mb` of address space and
    `cpu_seconds` of CPU time (RLIMIT_AS, RLIMIT_CPU: the kernel stops it beyond); returns what
    it printed, its CPU time and peak memory. A child still running after `hang_seconds` of
    wall time is killed as hung (a generous guard, not a speed mark).
    """
    cmd = [*NLP, *(["--project", str(project)] if project else []), *map(str, args)]
    limit = memory_mb * 1024 * 1024
    cpu = int(cpu_seconds)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))  # SIGXCPU, then SIGKILL
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

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
        hung = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > hang_seconds:
                proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                hung = True
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = Measured(proc.returncode, out.read(), err.read(),
                       usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
    for f in (out_dir / f"nlp-out-{os.getpid()}", out_dir / f"nlp-err-{os.getpid()}"):
        f.unlink(missing_ok=True)
    assert not hung, f"no result after {hang_seconds:.0f} s of wall time (hung?): {cmd}"
    assert res.returncode not in (-signal.SIGXCPU, -signal.SIGKILL), \
        f"stopped at the CPU limit of {cpu} s ({res.cpu_seconds:.0f} s used): {cmd}"
    assert res.cpu_seconds < cpu_seconds, f"{res.cpu_seconds:.0f} s of CPU: {cmd}"
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


@pytest.fixture
def filled(project: Path, tmp_path: Path) -> Path:
    """A project holding five imported answers."""
    from hostile_files import answers_csv

    f = tmp_path / "answers.csv"
    f.write_bytes(answers_csv(5))
    assert run_nlp("import", f, project=project).returncode == 0
    return project
