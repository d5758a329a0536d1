"""SIGKILL in the middle of an import, a coding run and an export.

Afterwards the database passes SQLite's integrity check and holds all or none of the
interrupted work; no half-written export sits under the final name; running the command again
finishes the job (and clears what the killed run left behind).
"""
from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from harness import BASE_ENV, NLP, REPO, new_project, run_nlp
from hostile_files import answers_csv

pytestmark = pytest.mark.slow

N_IMPORT = 200_000
N_PROJECT = 40_000


def start_nlp(*args, project: Path) -> subprocess.Popen:
    return subprocess.Popen([*NLP, "--project", str(project), *map(str, args)], cwd=REPO,
                            env=BASE_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 240) -> bool:
    """SIGKILL `proc` as soon as `ready()`; False if it finished first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    pytest.fail("the command neither finished nor reached the point to kill it")


def size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def db_counts(root: Path) -> dict[str, int]:
    con = sqlite3.connect(root / "project.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("sources", "responses", "predictions", "codings", "events")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def big_project(tmp_path_factory) -> Path:
    """A project with N_PROJECT answers (made once, copied per test)."""
    from nlp.pipeline import import_file
    from nlp.project import open_project

    root = new_project(tmp_path_factory.mktemp("big") / "proj")
    csv = root.parent / "answers.csv"
    csv.write_bytes(answers_csv(N_PROJECT))
    p = open_project(root)
    import_file(p.store, csv)
    p.close()
    return root


def copy_project(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_kill_during_import(project: Path, tmp_path: Path):
    big = tmp_path / "big.csv"
    big.write_bytes(answers_csv(N_IMPORT))
    wal = project / "project.db-wal"
    proc = start_nlp("import", big, project=project)
    # Inside the write transaction the WAL only grows (no checkpoint before COMMIT).
    killed = kill_when(proc, lambda: size(wal) > 4_000_000)
    counts = db_counts(project)
    print(f"import killed={killed}: {counts}")
    assert (counts["responses"], counts["sources"]) in ((0, 0), (N_IMPORT, 1)), counts
    if killed:
        assert counts["responses"] == 0, "killed mid-transaction, yet rows are stored"
    res = run_nlp("import", big, project=project)
    assert res.returncode == 0, res.stderr
    assert db_counts(project)["responses"] == N_IMPORT


CHUNK = 2_000  # nlp.classify.coding.CHUNK: answers stored per transaction


def stored_predictions(root: Path) -> int:
    con = sqlite3.connect(root / "project.db", timeout=1)
    try:
        return con.execute("SELECT count(*) FROM predictions").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        con.close()


@pytest.mark.parametrize("moment", ["embedding", "writing", "chunks stored"])
def test_kill_during_coding(big_project: Path, tmp_path: Path, moment: str):
    """Coding stores one transaction per chunk of CHUNK answers: a kill leaves whole chunks
    (each with its codings and events) and the next run codes the rest."""
    root = copy_project(big_project, tmp_path / "proj")
    wal = root / "project.db-wal"
    start_wal = size(wal)
    cache = root / "cache" / "embeddings"
    proc = start_nlp("code", "--model", "none", project=root)
    if moment == "embedding":  # the embedding cache has been written at least once
        killed = kill_when(proc, lambda: cache.is_dir() and any(cache.glob("*.npz")))
    elif moment == "writing":  # the chunk transactions that store the suggestions are under way
        killed = kill_when(proc, lambda: size(wal) > start_wal + 1_000_000)
    else:  # some chunks are stored, not all
        killed = kill_when(proc, lambda: stored_predictions(root) >= CHUNK)
    counts = db_counts(root)
    print(f"coding killed={killed} at {moment}: {counts}")
    assert counts["predictions"] % CHUNK == 0 or counts["predictions"] == N_PROJECT, counts
    if counts["predictions"] == 0:
        assert counts["codings"] == 0 and counts["events"] == 0, counts
    res = run_nlp("code", "--model", "none", project=root)  # goes on from what was stored
    assert res.returncode == 0, res.stderr
    done = db_counts(root)
    assert done["predictions"] == N_PROJECT
    assert f"coded {N_PROJECT - counts['predictions']} answers" in res.stdout, res.stdout
    ref = copy_project(big_project, tmp_path / "ref")  # the same run, never interrupted
    assert run_nlp("code", "--model", "none", project=ref).returncode == 0
    assert done == db_counts(ref)
    assert killed or counts == done
    if moment == "chunks stored" and killed:
        assert 0 < counts["predictions"] < N_PROJECT, counts


@pytest.mark.parametrize("fmt", ["jsonl", "xlsx"])
def test_kill_during_export(big_project: Path, tmp_path: Path, fmt: str):
    root = copy_project(big_project, tmp_path / "proj")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    final = out_dir / f"coded.{fmt}"

    def parts() -> list[Path]:
        return list(out_dir.glob(f".{final.name}.*.part"))

    proc = start_nlp("export", "--format", fmt, "--out", final, "--no-anonymise", project=root)
    # jsonl: kill while rows are being written; xlsx: while the workbook is being built
    killed = kill_when(proc, lambda: any(size(p) > (200_000 if fmt == "jsonl" else -1)
                                         for p in parts()))
    if final.exists():  # only a complete file may carry the final name
        assert not killed
    assert killed, "the export finished before it could be killed; make the project bigger"
    assert parts(), "the killed export's temporary file should still be there"
    res = run_nlp("export", "--format", fmt, "--out", final, "--no-anonymise", project=root)
    assert res.returncode == 0, res.stderr
    assert not parts(), "the next export should remove what the killed one left"
    if fmt == "jsonl":
        assert len(final.read_text(encoding="utf-8").splitlines()) == N_PROJECT
    else:
        import openpyxl

        wb = openpyxl.load_workbook(final, read_only=True)
        assert wb["coded quotes"].max_row == N_PROJECT + 1
        wb.close()
