"""The types a reader module needs: what it is given (ImportOptions) and what it returns
(a `Table` from nlp.ingest.tables, or a `Document`), and its registration record (Reader).
Reader modules import from here, never from the package, so no import circle forms."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .tables import Table


@dataclass
class ImportOptions:
    """How to read a file: column names (detected when None), sheet, kind, id prefix, and
    `skip_cols`: columns of a table left out (not kept as metadata)."""
    text_col: str | None = None
    id_col: str | None = None
    respondent_col: str | None = None
    question_col: str | None = None
    sheet: str | None = None
    kind: str | None = None  # "table" | "transcript" | "report"; detected when None
    id_prefix: str | None = None
    skip_cols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """What a document reader returns: the text (one answer, a transcript or a report)."""

    text: str
    encoding: str | None = None


@dataclass(frozen=True)
class Reader:
    """One file format: `read(path, data, options, notes)` returns a `Table` (rows with
    columns) or a `Document` (text split into answers, turns or quotes by `options.kind`)."""

    format: str
    read: Callable[[Path, bytes, "ImportOptions", list[str]], "Table | Document"]
