"""Store: a project folder (its config file and database), found like git finds a repository."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from . import errors
from .codebook import load_codebook
from .fsio import atomic_write
from .store import Store
from .store import health

CONFIG_NAME = "project.json"
DB_NAME = "project.db"


# -- project.json: read once, checked field by field, frozen ------------------------------------
# It is the one file a researcher may edit by hand, so every way it can be wrong (not JSON, not
# an object, a field of the wrong type, a newer format) is named before the database is touched.
FORMAT = 1  # the project.json format this toolkit writes and reads
MAX_BYTES = 1 << 20  # a project.json is a few hundred bytes; 1 MiB is plenty
# Fields every project.json has: text or null (the format is checked apart).
TEXT_FIELDS = ("db_url", "model", "embedder", "coder")
_JSON_TYPES = {dict: "an object", list: "a list", str: "text", bool: "true/false",
               int: "a number", float: "a number", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ProjectSettings:
    """What project.json says, typed. `sections` holds the optional sections (e.g.
    "anonymise"), checked by the stage that reads them."""

    format: int = FORMAT
    db_url: str | None = None
    model: str | None = None
    embedder: str | None = None
    coder: str | None = None
    sections: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = "project.json") -> "ProjectSettings":
        """Check a parsed project.json.

        Raises:
            ProjectError: not an object, no or a newer format, or a field of the wrong type.
        """
        if not isinstance(data, dict):
            raise errors.project_settings_problem(
                source, f"must hold a JSON object ({{...}}), but holds {_kind(data)}")
        fmt = data.get("format")
        if "format" not in data:
            raise errors.project_settings_problem(source, "has no 'format' field")
        if type(fmt) is not int or fmt < 1:
            raise errors.project_settings_problem(
                source, f"has 'format' {_kind(fmt)}, where a whole number (1) belongs")
        if fmt > FORMAT:
            raise errors.project_settings_newer(source, fmt, FORMAT)
        for key in TEXT_FIELDS:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise errors.project_settings_problem(
                    source, f"has '{key}' {_kind(value)}, where text or null belongs")
            if isinstance(value, str) and not value.strip():
                raise errors.project_settings_problem(
                    source, f"has '{key}' empty text, where text or null belongs")
        sections = {k: v for k, v in data.items() if k not in TEXT_FIELDS and k != "format"}
        return cls(format=fmt, sections=MappingProxyType(sections),
                   **{k: data.get(k) for k in TEXT_FIELDS})

    @classmethod
    def read(cls, path: str | Path) -> "ProjectSettings":
        """Read and check `path` (a project's project.json).

        Raises:
            ProjectError: unreadable, too large, not UTF-8 JSON, or wrong as `from_dict` says.
        """
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise (errors.from_os_error(exc, path) or errors.project_settings_problem(
                path, f"cannot be read ({exc.strerror or type(exc).__name__})")) from None
        if len(raw) > MAX_BYTES:
            raise errors.project_settings_problem(path, "is over 1 MiB, far more than "
                                                        "settings take")
        if not raw.strip():
            raise errors.project_settings_problem(path, "is empty")
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise errors.project_settings_problem(path, "is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise errors.project_settings_problem(
                path, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                      f"{exc.colno})") from None
        except RecursionError:
            raise errors.project_settings_problem(path, "is nested too deeply") from None
        return cls.from_dict(data, path)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to write back (the fields, then the sections as read)."""
        return {"format": self.format, **{k: getattr(self, k) for k in TEXT_FIELDS},
                **dict(self.sections)}



@dataclass
class Project:
    """A project folder: `project.json` (settings) and, by default, `project.db` (SQLite)."""

    root: Path
    config: dict[str, Any]
    store: Store

    @property
    def settings(self) -> ProjectSettings:
        """project.json, typed (checked again: `config` is the dict stages read and tests set).
        """
        return ProjectSettings.from_dict(self.config, self.root / CONFIG_NAME)

    @property
    def db_url(self) -> str:
        """The database's URL, a relative SQLite path taken against the project folder."""
        return _url_for(self.root, self.config.get("db_url"))

    @property
    def cache_dir(self) -> Path:
        """Where derived data lives beside the database (embedding cache, topic model)."""
        d = self.root / "cache"
        d.mkdir(exist_ok=True)
        return d

    def save_config(self) -> None:
        with atomic_write(self.root / CONFIG_NAME) as tmp:
            tmp.write_text(json.dumps(self.config, indent=2), encoding="utf-8")

    def close(self) -> None:
        self.store.close()


def _url_for(root: Path, db_url: str | None) -> str:
    return health.resolve_url(db_url, root, DB_NAME)


def _stored_url(root: Path, given: str | None, url: str, path: Path | None) -> str | None:
    """What project.json keeps: nothing for the default file; a file inside the project
    folder relative to it (the folder can move); anything else resolved, as opened now."""
    if given is None:
        return None
    if path is not None and path.is_relative_to(root):
        return f"sqlite:///{path.relative_to(root).as_posix()}"
    return url


def init_project(root: str | Path, *, codebook: str | Path | None = None,
                 db_url: str | None = None) -> Project:
    """Create a project in `root` (made if missing) with the given or default codebook.

    Raises:
        ProjectError: `root` already holds a project.
        CodebookError: the codebook file is bad.
    """
    root = Path(root).resolve()
    if (root / CONFIG_NAME).exists():
        raise errors.project_exists(root)
    cb = load_codebook(codebook)  # validate before anything is written
    url = _url_for(root, db_url)  # resolved once, here, against the project folder
    path = health.sqlite_file(url)
    if path is not None and path.is_file() and path.stat().st_size:
        health.check_sqlite(path, root)  # a damaged, foreign or newer file is not taken over
    root.mkdir(parents=True, exist_ok=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(url)
    store.migrate()
    store.add_codebook(cb, activate=True)
    config = ProjectSettings(db_url=_stored_url(root, db_url, url, path)).to_dict()
    project = Project(root=root, config=config, store=store)
    project.save_config()
    return project


def find_project_root(start: str | Path | None = None) -> Path:
    """The folder holding project.json: `start` or its nearest parent.

    Raises:
        ProjectError: none found.
    """
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).is_file():
            return d
    raise errors.no_project(here)


def open_project(start: str | Path | None = None) -> Project:
    """Open the project at `start` (or the nearest parent), migrating its schema if needed.

    Only `init_project` creates a database: here it must exist and be sound.

    Raises:
        ProjectError: no project; project.json unreadable or wrong (named field by field).
        ProjectDatabaseError: the database is missing, empty, damaged, another program's, or
            from a newer toolkit.
        SettingsError: the stored database URL cannot be used.
    """
    root = find_project_root(start)
    settings = ProjectSettings.read(root / CONFIG_NAME)
    store = Store.open_existing(_url_for(root, settings.db_url), project=root)
    return Project(root=root, config=settings.to_dict(), store=store)
