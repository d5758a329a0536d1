"""Where outputs may go: `nlp export`, `nlp report` and file-mode `nlp code` never write over
the project's own files, a folder, a device or another special file, and a target they cannot
use is one clear message (exit 1) with the project unchanged. One guard (nlp.fsio) for all.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from harness import project_state, run_nlp
from hostile_files import answers_csv, jsonl_bytes

FORMATS = ["csv", "xlsx", "jsonl", "qdpx", "qdc"]


def _refused(res, *patterns: str) -> str:
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in msg and "unexpected" not in msg, msg
    for p in patterns:
        assert p in msg, msg
    return msg


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["project.db", "project.json", "project.db-wal"])
def test_export_over_the_project_is_refused(filled: Path, fmt: str, name: str):
    target = filled / name
    if not target.exists():
        target.write_bytes(b"")  # the WAL file exists while a project is open
    before, raw = project_state(filled), (filled / "project.db").read_bytes()
    res = run_nlp("export", "--format", fmt, "--out", target, "--no-anonymise", project=filled)
    _refused(res, "one of the project's own files")
    assert project_state(filled) == before and (filled / "project.db").read_bytes() == raw
    assert run_nlp("list", project=filled).returncode == 0  # the project still opens
    assert not [p for p in filled.iterdir() if p.name.endswith(".part")]


def test_export_into_the_cache_or_through_a_link_is_refused(filled: Path, tmp_path: Path):
    (filled / "cache").mkdir(exist_ok=True)
    res = run_nlp("export", "--format", "csv", "--out", filled / "cache" / "x.csv",
                  "--no-anonymise", project=filled)
    _refused(res, "one of the project's own files")
    link = tmp_path / "innocent.xlsx"
    link.symlink_to(filled / "project.db")
    before = project_state(filled)
    res = run_nlp("export", "--format", "xlsx", "--out", link, "--no-anonymise", project=filled)
    _refused(res, "one of the project's own files")
    assert project_state(filled) == before and link.is_symlink()


def test_export_over_another_sqlite_database_is_refused(filled: Path, tmp_path: Path):
    other = tmp_path / "notes.xlsx"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    raw = other.read_bytes()
    res = run_nlp("export", "--format", "xlsx", "--out", other, "--no-anonymise",
                  project=filled)
    _refused(res, "SQLite database")
    assert other.read_bytes() == raw


def test_export_to_special_files_is_refused(filled: Path, tmp_path: Path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    _refused(run_nlp("export", "--format", "csv", "--out", fifo, "--no-anonymise",
                     project=filled), "a pipe, not a file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    folder = tmp_path / "out.csv"
    folder.mkdir()
    _refused(run_nlp("export", "--format", "csv", "--out", folder, "--no-anonymise",
                     project=filled), "a folder, not a file")
    assert folder.is_dir() and not list(folder.iterdir())
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    _refused(run_nlp("export", "--format", "csv", "--out", blocker / "sub" / "x.csv",
                     "--no-anonymise", project=filled), "cannot write the output here")
    assert blocker.read_text() == "x"
    if Path("/proc/version").exists():
        _refused(run_nlp("export", "--format", "jsonl", "--out", "/proc/version",
                         "--no-anonymise", project=filled), "cannot write the output here")


def test_export_never_replaces_a_device(filled: Path, tmp_path: Path):
    """A character device (a copy of /dev/null's node: run as root the export replaced
    /dev/full). Made in tmp, so a regression cannot harm the machine."""
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("creating a device node needs root")  # CI runs as root
    _refused(run_nlp("export", "--format", "xlsx", "--out", dev, "--no-anonymise",
                     project=filled), "a device, not a file")
    assert stat.S_ISCHR(dev.lstat().st_mode)


def test_report_and_file_mode_code_use_the_same_guard(filled: Path, tmp_path: Path):
    before = project_state(filled)
    _refused(run_nlp("report", "--out", filled / "project.db", "--format", "md",
                     "--no-anonymise", project=filled), "cannot write the output here")
    assert project_state(filled) == before
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl_bytes([{"id": "a", "text": "The tender took nine months."}]))
    _refused(run_nlp("code", src, "--out", filled / "project.db", "--model", "none",
                     cwd=tmp_path), "one of the project's own files")
    assert project_state(filled) == before


def test_a_good_export_still_replaces_a_regular_file(filled: Path, tmp_path: Path):
    out = tmp_path / "coded.csv"
    out.write_text("old")
    res = run_nlp("export", "--format", "csv", "--out", out, "--no-anonymise", project=filled)
    assert res.returncode == 0, res.stderr
    assert "response_id" in out.read_text(encoding="utf-8-sig")
    link = tmp_path / "latest.csv"
    link.symlink_to(out)
    assert run_nlp("export", "--format", "jsonl", "--out", link, "--no-anonymise",
                   project=filled).returncode == 0
    assert link.is_symlink() and out.read_text().startswith("{")
