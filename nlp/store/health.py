"""Store: the checks a project's database passes before the toolkit opens it.

Only `nlp init` creates a database. Every other command opens one that must exist, be an
SQLite file whose header and size hold together (or a server database), carry this toolkit's
schema, and be at a revision this toolkit knows: older ones are migrated, newer ones refused
with the version of the toolkit that wrote them. The checks read the file without writing a
byte (SQLite's read-only mode), so a refused project is left exactly as it was.
"""
from __future__ import annotations

import json
import os
import sqlite3
import struct
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from .. import __version__, errors

VERSION_KEY = "toolkit.version"  # settings row: the toolkit version that last migrated
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER = 100


def toolkit_version() -> str:
    return __version__


@lru_cache(maxsize=1)
def known_revisions() -> tuple[frozenset[str], str]:
    """(every revision of our migrations, the head)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nlp.store") / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    return frozenset(s.revision for s in script.walk_revisions()), str(script.get_current_head())


def resolve_url(db_url: str | None, root: Path, default_name: str) -> str:
    """The database URL of a project in `root`: the default file, or `db_url` with a relative
    SQLite path taken against the project folder (never the current folder).

    Raises:
        SettingsError: not a URL, an unknown database kind, or an in-memory database.
    """
    if db_url is None:
        return f"sqlite:///{Path(root) / default_name}"
    try:
        url = sa.engine.make_url(db_url)
        url.get_dialect()
    except Exception as exc:  # ArgumentError, NoSuchModuleError, a driver's ImportError
        why = (f"no database driver for {db_url.split(':', 1)[0]!r} is installed"
               if isinstance(exc, (sa.exc.NoSuchModuleError, ImportError))
               else "it is not a database URL")
        raise errors.bad_db_url(db_url, why) from None
    if url.get_backend_name() != "sqlite":
        return db_url
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") and "memory" in database:
        raise errors.bad_db_url(db_url, "an in-memory database keeps nothing once the "
                                        "command ends")
    if database.startswith("file:"):
        return db_url  # an SQLite URI: the user spelled out every detail
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = Path(os.path.normpath(Path(root) / path))
    return url.set(database=str(path)).render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None: a server database or an in-memory one)."""
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(u.database)


def describe(url: str) -> str:
    """How messages name a database: its file, or its URL without the password."""
    path = sqlite_file(url)
    return str(path) if path else sa.engine.make_url(url).render_as_string(hide_password=True)


def _check_file(path: Path, project: Path) -> None:
    """Exists, a regular file, not empty, an SQLite header, not cut short."""
    if not path.exists():
        raise errors.db_missing(path, project)
    if not path.is_file():
        raise errors.db_damaged(path, "it is not a regular file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(HEADER)
    except OSError as exc:
        raise (errors.from_os_error(exc, path) or errors.db_damaged(
            path, f"it cannot be read: {exc.strerror}")) from None
    if size == 0:
        raise errors.db_empty(path)
    if not head.startswith(SQLITE_MAGIC[:len(head)]):
        raise errors.db_damaged(path, "it is not an SQLite database file")
    if len(head) < HEADER:
        raise errors.db_damaged(path, f"it is cut short: {size:,} bytes, less than a header")
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise errors.db_damaged(path, "its header is damaged")
    counter, pages = struct.unpack(">II", head[24:32])
    valid_for = struct.unpack(">I", head[92:96])[0]
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return  # the newest pages may be in the write-ahead log: SQLite itself judges
    expected = pages * page if valid_for == counter and pages else None
    if size % page or (expected and size < expected):
        raise errors.db_damaged(path, f"it is cut short: {size:,} bytes"
                                + (f" of {expected:,}" if expected else ""))


def _judge(where: str | Path, tables: set[str], revisions: list[str],
           written_by: str | None) -> str:
    if not tables:
        raise errors.db_empty(where)
    if "alembic_version" not in tables:
        raise errors.db_foreign(where)
    if len(revisions) != 1:
        raise errors.db_damaged(where, "it records no single schema revision")
    known, head = known_revisions()
    if revisions[0] not in known:
        raise errors.db_newer(where, revisions[0], written_by, toolkit_version(), head)
    return revisions[0]


def _version_of(value: object) -> str | None:
    return value[:40] if isinstance(value, str) and value else None


def check_sqlite(path: Path, project: Path) -> str:
    """The schema revision of the project database at `path`, read without writing.

    Raises:
        ProjectDatabaseError: missing, empty, damaged, another program's, or newer.
        StorageError: the file cannot be read (permission, a failing disk).
    """
    _check_file(path, project)
    try:
        con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise (errors.from_database_error(str(exc), path)
               or errors.db_damaged(path, str(exc))) from None
    try:
        tables = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        revisions = ([r[0] for r in con.execute("SELECT version_num FROM alembic_version")]
                     if "alembic_version" in tables else [])
        written_by = None
        if "settings" in tables:
            row = con.execute("SELECT value FROM settings WHERE key = ?",
                              (VERSION_KEY,)).fetchone()
            written_by = _version_of(_json_text(row[0])) if row else None
    except sqlite3.Error as exc:
        raise (errors.from_database_error(str(exc), path)
               or errors.db_damaged(path, str(exc).strip().rstrip("."))) from None
    finally:
        con.close()
    return _judge(path, tables, revisions, written_by)


def _json_text(value: object) -> object:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def check_server(engine: sa.Engine, where: str) -> str:
    """`check_sqlite` for a server database (PostgreSQL), through its engine."""
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        revisions = ([r[0] for r in conn.exec_driver_sql(
            "SELECT version_num FROM alembic_version")] if "alembic_version" in tables else [])
        written_by = None
        if "settings" in tables:
            value = conn.execute(sa.text("SELECT value FROM settings WHERE key = :k"),
                                 {"k": VERSION_KEY}).scalar()
            written_by = _version_of(_json_text(value))
    return _judge(where, tables, revisions, written_by)
