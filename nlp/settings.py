"""Settings: a project's `project.json`, read once, checked field by field, frozen.

`project.json` is the one file a researcher may edit by hand, so every way it can be wrong
(not JSON, not an object, a field of the wrong type, a format from a newer toolkit) is named
here, with what to do, before the project's database is touched.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from . import errors

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
