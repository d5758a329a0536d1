"""A project whose database or settings file is missing, damaged or from the future, and a
disk that fills up mid-command (issue 25, classes 2 and 8).

Every case runs the real `nlp` in a child process capped at 60 s of CPU and 1.5 GB of address
space (a CPU cap, not a wall clock: a busy machine only makes it slower), and checks: exit 1,
one paragraph naming the problem and what to do, no SQL and no answer's text, and the project
folder byte-for-byte as it was. Only `nlp init` creates a database.
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from harness import BASE_ENV, NLP, REPO, dump_db, run_nlp
from hostile_files import csv_bytes

CPU_SECONDS = 60
MEMORY = 1536 * 1024 * 1024
MARK = "Quokkamarker"  # in every answer: must never appear in an error message
N_ANSWERS = 1000
WORDS = ("grant rounds short small groups reporting twice figures volunteers funding late "
         "contracts outcomes trust local partners training paperwork deadline charity "
         "commissioner evidence referrals waiting list budget year").split()


def answers(n: int = N_ANSWERS, start: int = 1) -> bytes:
    """`n` answers of varied words (an export of them does not compress to nothing)."""
    rnd = random.Random(start)
    return csv_bytes([["id", "text"], *[
        [f"a{i}", f"{MARK} {i}: " + " ".join(rnd.choice(WORDS) for _ in range(24)) + "."]
        for i in range(start, start + n)]])


def nlp(*args, cwd: Path | None = None, fsize: int | None = None
        ) -> subprocess.CompletedProcess:
    """`nlp ARGS` capped at 60 s of CPU and 1.5 GB; with `fsize`, no file may grow past that
    many bytes (a write past it fails with EFBIG, as on a full disk: SIGXFSZ is ignored)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    threads = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    res = subprocess.run([*NLP, *map(str, args)], capture_output=True, text=True,
                         env={**BASE_ENV, **threads, "PYTHONDONTWRITEBYTECODE": "1"},
                         cwd=cwd or REPO, preexec_fn=cap, timeout=600)
    assert res.returncode >= 0, f"killed by signal {-res.returncode} (CPU or memory cap?)"
    return res


def refused(res: subprocess.CompletedProcess, *patterns: str) -> str:
    """Exit 1 with one 'error:' paragraph matching every pattern, naming no SQL or answer."""
    import re

    msg = res.stderr.strip()
    assert res.returncode == 1, (res.returncode, res.stdout[-2000:], msg[-2000:])
    assert msg.startswith("error: ") and msg.count("error:") == 1, msg
    assert "\n\n" not in msg and "Traceback" not in msg and "unexpected" not in msg, msg
    assert len(msg) < 800, msg
    for bad in (MARK, "INSERT", "SELECT", "UPDATE ", "[SQL", "parameters"):
        assert bad not in msg, (bad, msg)
    flat = " ".join(msg.split())
    for p in patterns:
        assert re.search(p, flat), (p, flat)
    return flat


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root`, byte for byte; SQLite's shared-memory index (-shm) and an
    empty write-ahead log aside (a reader may leave them; they hold no data)."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()
            and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def unchanged(root: Path, before: dict[str, bytes]) -> None:
    after = files(root)
    assert set(after) == set(before), (sorted(set(after) ^ set(before)))
    for name, data in before.items():
        assert after[name] == data, f"{name} changed"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A project with answers in it (closed, its write-ahead log folded in)."""
    d = tmp_path_factory.mktemp("seeded")
    (d / "answers.csv").write_bytes(answers())
    assert run_nlp("init", d / "proj").returncode == 0
    res = run_nlp("import", d / "answers.csv", "--text-col", "text", "--id-col", "id",
                  project=d / "proj")
    assert res.returncode == 0, res.stderr
    return d / "proj"


@pytest.fixture
def copy(seeded: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(seeded, dst)
    (tmp_path / "more.csv").write_bytes(answers(50, start=N_ANSWERS + 1))
    return dst


# -- class 2: the database ---------------------------------------------------------------
def _truncate(at) -> callable:
    def damage(db: Path) -> None:
        data = db.read_bytes()
        db.write_bytes(data[:at(len(data))])
    return damage


def _other_app(db: Path) -> None:
    db.unlink(missing_ok=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5)")
    con.commit()
    con.close()


def _no_tables(db: Path) -> None:
    db.unlink(missing_ok=True)
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 1")  # a valid file with an empty schema
    con.close()


def _newer(recorded: str | None):
    def damage(db: Path) -> None:
        con = sqlite3.connect(db)
        con.execute("UPDATE alembic_version SET version_num = '0999_future'")
        con.execute("DELETE FROM settings WHERE key = 'toolkit.version'")
        if recorded:
            con.execute("INSERT INTO settings VALUES ('toolkit.version', ?)",
                        (json.dumps(recorded),))
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        for extra in ("-wal", "-shm"):
            Path(str(db) + extra).unlink(missing_ok=True)
    return damage


def _random(db: Path) -> None:
    db.write_bytes(random.Random(3).randbytes(db.stat().st_size))


def _header_then_random(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[:16] + random.Random(5).randbytes(len(data) - 16))


DAMAGE = {
    "missing": (lambda db: db.unlink(), [r"has no database", r"does not exist",
                                         r"Only 'nlp init' creates", r"nlp init DIR"]),
    "0 bytes": (lambda db: db.write_bytes(b""), [r"is empty", r"backup", r"nlp init"]),
    "truncated to 10 bytes": (_truncate(lambda n: 10), [r"damaged", r"cut short"]),
    "truncated to 99 bytes": (_truncate(lambda n: 99), [r"damaged", r"cut short"]),
    "truncated to 100 bytes": (_truncate(lambda n: 100), [r"damaged", r"cut short"]),
    "truncated to one page": (_truncate(lambda n: 4096), [r"damaged", r"cut short"]),
    "truncated to half": (_truncate(lambda n: n // 2), [r"damaged", r"cut short"]),
    "one byte short": (_truncate(lambda n: n - 1), [r"damaged", r"cut short"]),
    "random bytes": (_random, [r"damaged", r"not an SQLite database"]),
    "SQLite magic, then random bytes": (_header_then_random, [r"damaged"]),
    "another program's database": (_other_app, [r"not a consultation-nlp project's",
                                                r"db_url"]),
    "a database with no tables": (_no_tables, [r"is empty", r"nlp init"]),
    "newer schema, version recorded": (_newer("7.3.1"), [r"revision '0999_future'",
                                                         r"version 7\.3\.1", r"upgrade"]),
    "newer schema, version not recorded": (_newer(None), [r"revision '0999_future'",
                                                          r"did not record", r"upgrade"]),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_database_is_refused_by_every_kind_of_command(copy: Path, case: str):
    damage, patterns = DAMAGE[case]
    damage(copy / "project.db")
    before = files(copy)
    for args in (["list"], ["import", copy.parent / "more.csv", "--text-col", "text",
                            "--id-col", "id"]):
        refused(nlp("--project", copy, *args), *patterns)
        unchanged(copy, before)
    assert not (copy / "project.db").exists() or case != "missing"


@pytest.mark.parametrize("case", ["missing", "truncated to half", "newer schema, version "
                                                                  "recorded"])
def test_code_export_report_and_topics_refuse_it_too(copy: Path, case: str, tmp_path: Path):
    damage, patterns = DAMAGE[case]
    damage(copy / "project.db")
    before = files(copy)
    for args in (["code"], ["export", "-f", "csv", "-o", tmp_path / "out.csv"],
                 ["report", "-o", tmp_path / "report", "-f", "md"], ["topics"]):
        refused(nlp("--project", copy, *args), *patterns)
        unchanged(copy, before)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "report").exists()


def test_a_page_overwritten_in_the_middle_is_named_never_unexpected(copy: Path):
    db = copy / "project.db"
    data = bytearray(db.read_bytes())
    page = 4096
    for p in range(2, len(data) // page):
        data[p * page:(p + 1) * page] = random.Random(p).randbytes(page)
    db.write_bytes(bytes(data))
    before = files(copy)
    refused(nlp("--project", copy, "list"), r"damaged|malformed|not a database")
    unchanged(copy, before)


def test_a_relative_database_url_means_the_project_folder_from_any_folder(tmp_path: Path):
    for d in ("a", "b", "c"):
        (tmp_path / d).mkdir()
    (tmp_path / "b" / "answers.csv").write_bytes(answers(30))
    res = nlp("init", "../proj", "--db", "sqlite:///team.db", cwd=tmp_path / "a")
    assert res.returncode == 0, res.stderr
    stored = json.loads((tmp_path / "proj" / "project.json").read_text())["db_url"]
    assert stored == "sqlite:///team.db"  # relative to the project: the folder can move
    assert (tmp_path / "proj" / "team.db").is_file()
    res = nlp("--project", "../proj", "import", "answers.csv", "--text-col", "text",
              "--id-col", "id", cwd=tmp_path / "b")
    assert res.returncode == 0, res.stderr
    res = nlp("--project", tmp_path / "proj", "list", cwd=tmp_path / "c")
    assert res.returncode == 0 and "30 responses in the project" in res.stdout, res.stdout
    shutil.move(tmp_path / "proj", tmp_path / "moved")
    res = nlp("list", cwd=tmp_path / "moved")
    assert res.returncode == 0 and "30 responses in the project" in res.stdout, res.stdout
    assert not list(tmp_path.glob("*/team.db*")) or \
        {p.parent.name for p in tmp_path.glob("*/team.db*")} == {"moved"}
    assert not (tmp_path / "proj").exists() and not (REPO / "team.db").exists()


def test_a_database_kept_elsewhere_is_stored_as_an_absolute_url(tmp_path: Path):
    (tmp_path / "elsewhere").mkdir()
    res = nlp("init", "proj", "--db", "sqlite:///../elsewhere/team.db", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    stored = json.loads((tmp_path / "proj" / "project.json").read_text())["db_url"]
    assert stored == f"sqlite:///{tmp_path / 'elsewhere' / 'team.db'}"
    res = nlp("--project", tmp_path / "proj", "list", cwd=REPO)
    assert res.returncode == 0 and "0 responses" in res.stdout, res.stderr


@pytest.mark.parametrize("url, pattern", [
    ("sqlite://", r"in-memory database keeps nothing"),
    ("sqlite:///:memory:", r"in-memory database keeps nothing"),
    ("not a url", r"not a database URL"),
    ("nosuchdb+driver://host/db", r"no database driver for 'nosuchdb\+driver'"),
])
def test_init_refuses_a_database_url_it_cannot_keep(tmp_path: Path, url: str, pattern: str):
    refused(nlp("init", tmp_path / "proj", "--db", url), pattern, r"SQLAlchemy URL")
    assert not (tmp_path / "proj").exists()


def test_init_never_takes_over_another_programs_or_a_damaged_database(tmp_path: Path):
    other = tmp_path / "other.db"
    _other_app(other)
    data = other.read_bytes()
    refused(nlp("init", tmp_path / "proj", "--db", f"sqlite:///{other}"),
            r"not a consultation-nlp project's")
    assert other.read_bytes() == data and not (tmp_path / "proj" / "project.json").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(1).randbytes(8192))
    refused(nlp("init", tmp_path / "proj2", "--db", f"sqlite:///{junk}"), r"damaged")
    assert not (tmp_path / "proj2" / "project.json").exists()


# -- class 8: project.json ---------------------------------------------------------------
SETTINGS = {
    "a list": (b"[1, 2]", r"must hold a JSON object .* holds a list"),
    "a number": (b"3", r"holds a number"),
    "a string": (b'"project"', r"holds text"),
    "null": (b"null", r"holds null"),
    "db_url a number": (b'{"format": 1, "db_url": 123}', r"'db_url' a number"),
    "db_url a list": (b'{"format": 1, "db_url": ["sqlite:///x.db"]}', r"'db_url' a list"),
    "model an object": (b'{"format": 1, "model": {"dir": "m"}}', r"'model' an object"),
    "embedder true": (b'{"format": 1, "embedder": true}', r"'embedder' true/false"),
    "coder empty": (b'{"format": 1, "coder": " "}', r"'coder' empty text"),
    "format text": (b'{"format": "1"}', r"'format' text"),
    "format missing": (b'{"db_url": null}', r"no 'format' field"),
    "format from the future": (b'{"format": 9}', r"format 9 was written by a newer version"),
    "invalid JSON": (b'{"format": 1,', r"not valid JSON \(.* line 1, column"),
    "empty": (b"", r"is empty"),
    "not UTF-8": (b'{"format": 1, "coder": "\xff\xfe"}', r"not UTF-8"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply|JSON object"),
}


@pytest.mark.parametrize("case", list(SETTINGS))
def test_a_wrong_project_json_is_named_field_by_field(copy: Path, case: str, tmp_path: Path):
    content, pattern = SETTINGS[case]
    (copy / "project.json").write_bytes(content)
    before = files(copy)
    for args in (["list"], ["report", "-o", tmp_path / "r", "-f", "md"])[:1 + (
            case in ("a list", "db_url a number"))]:
        refused(nlp("--project", copy, *args), r"project\.json", pattern,
                r"Restore project\.json|Upgrade")
        unchanged(copy, before)


def test_a_project_without_project_json_is_no_project(copy: Path):
    (copy / "project.json").unlink()
    before = files(copy)
    refused(nlp("--project", copy, "list"), r"no consultation-nlp project", r"nlp init")
    unchanged(copy, before)


# -- class 8: a full disk ------------------------------------------------------------------
# No file may grow past 36 KiB: room for SQLite's 32 KiB shared-memory index, not for what the
# command writes (the import's or coding's log of changes, the cache, the export, the report).
FULL_DISK_CAP = 36 * 1024


def _data(root: Path) -> list[str]:
    """The database as SQL: all of it, the anonymiser's placeholder numbering included (an
    export stores new numbers only once its file is written)."""
    return dump_db(root / "project.db")


@pytest.mark.parametrize("command", ["import", "code", "export", "report"])
def test_a_full_disk_is_named_and_the_project_keeps_its_data(copy: Path, command: str,
                                                             tmp_path: Path):
    out = tmp_path / "out"
    args = {"import": ["import", copy.parent / "more.csv", "--text-col", "text",
                       "--id-col", "id"],
            "code": ["code"],
            "export": ["export", "-f", "csv", "-o", out / "coded.csv"],
            "report": ["report", "-o", out / "report", "-f", "docx"]}[command]
    if command == "import":
        (copy.parent / "more.csv").write_bytes(answers(3000, start=N_ANSWERS + 1))
    dump = _data(copy)
    settings = (copy / "project.json").read_bytes()
    res = nlp("--project", copy, *args, fsize=FULL_DISK_CAP)
    refused(res, r"no room to write|input/output error", r"run the command again")
    # The project still opens, with its previous data and nothing half-written.
    assert (copy / "project.json").read_bytes() == settings
    assert _data(copy) == dump
    res = nlp("--project", copy, "list", "--limit", "1")
    assert res.returncode == 0 and f"{N_ANSWERS} responses in the project" in res.stdout, \
        res.stderr
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_sqlite_database_or_disk_is_full_is_named_without_sql(copy: Path):
    """The real SQLITE_FULL ("database or disk is full"): the database may not grow a page."""
    from sqlalchemy import event

    from nlp import errors
    from nlp.ingest import ImportOptions
    from nlp.pipeline import import_files
    from nlp.project import open_project

    dump = dump_db(copy / "project.db")
    p = open_project(copy)
    try:
        p.store.engine.dispose()

        @event.listens_for(p.store.engine, "connect")
        def _cap(dbapi_conn, _record):
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        with pytest.raises(errors.StorageError) as exc:
            list(import_files(p.store, [copy.parent / "more.csv"],
                              ImportOptions(text_col="text", id_col="id")))
    finally:
        p.close()
    msg = str(exc.value)
    assert "no room to write" in msg and str(copy / "project.db") in msg
    assert MARK not in msg and "INSERT" not in msg and len(msg) < 600
    assert dump_db(copy / "project.db") == dump


@pytest.mark.parametrize("message, kind", [
    ("database or disk is full", "no room to write"),
    ("disk I/O error", "input/output error"),
    ("database is locked", "stayed locked"),
    ("attempt to write a readonly database", "read-only"),
    ("file is not a database", "damaged"),
    ("database disk image is malformed", "damaged"),
])
def test_each_sqlite_failure_has_its_message(message: str, kind: str):
    from nlp import errors

    e = errors.from_database_error(message, "/x/project.db")
    assert isinstance(e, errors.NlpError) and kind in str(e) and "/x/project.db" in str(e)
    assert errors.from_database_error("UNIQUE constraint failed: responses.id", "x") is None


@pytest.mark.parametrize("code, kind", [
    ("ENOSPC", "no room to write"), ("EDQUOT", "no room to write"),
    ("EFBIG", "no room to write"), ("EROFS", "read-only"), ("EACCES", "permission denied"),
    ("EIO", "input/output error"),
])
def test_each_disk_failure_has_its_message(code: str, kind: str):
    import errno

    from nlp import errors

    e = errors.from_os_error(OSError(getattr(errno, code), os.strerror(getattr(errno, code)),
                                     "/x/out.xlsx"))
    assert isinstance(e, errors.StorageError) and kind in str(e) and "/x/out.xlsx" in str(e)
    assert errors.from_os_error(FileNotFoundError(errno.ENOENT, "gone", "/x")) is None
