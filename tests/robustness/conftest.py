"""Robustness tests: real project folders, the real `nlp` command in subprocesses, real kills.

Helpers: `run_nlp` (the CLI as a user runs it), `dump_db` (every row and schema object of a
SQLite project, to prove a failed command changed nothing), `new_project`.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
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
