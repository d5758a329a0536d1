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
from .store import Store

CONFIG_NAME = "project.json"
DB_NAME = "project.db"


@dataclass
class Project:
    """A project folder: `project.json` (settings) and, by default, `project.db` (SQLite)."""

    root: Path
    config: dict[str, Any]
    store: Store

    @property
    def db_url(self) -> str:
        return self.config["db_url"] or f"sqlite:///{self.root / DB_NAME}"

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
    return db_url or f"sqlite:///{root / DB_NAME}"


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
    root.mkdir(parents=True, exist_ok=True)
    store = Store(_url_for(root, db_url))
    store.migrate()
    store.add_codebook(cb, activate=True)
    config = {"format": 1, "db_url": db_url, "model": None, "embedder": None,
              "coder": None}
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
    """Open the project at `start` (or the nearest parent), migrating its schema if needed."""
    root = find_project_root(start)
    try:
        config = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise errors.ProjectError(f"{root / CONFIG_NAME}: cannot read the project settings "
                                  f"({exc}).") from None
    store = Store(_url_for(root, config.get("db_url")))
    store.migrate()
    return Project(root=root, config=config, store=store)
