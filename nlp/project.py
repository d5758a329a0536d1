"""Store: a project folder (its config file and database), found like git finds a repository."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors
from .codebook import load_codebook
from .fsio import atomic_write
from .settings import ProjectSettings
from .store import Store
from .store import health

CONFIG_NAME = "project.json"
DB_NAME = "project.db"


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
