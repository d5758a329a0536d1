"""Ingest stage: read CSV, Excel, JSON Lines, transcripts and report quotes into validated
responses (`read_file`); nlp.pipeline stores them in a project (`import_files`)."""
from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import errors
from ..limits import Budget
from ..refiqda import read_qdpx
from ..text.clean import NON_ANSWERS, flag_for
from ..types import Corpus, Response
from .base import Document, ImportOptions, Reader
from .idkeys import ID_IN_FILE
from .quotes import extract_quotes
from .readers import (MAX_CELL, MAX_ID, check_not_binary, clean_text, decode, docx_lines,
                      pdf_lines, read_bytes)
from .tables import (ID_NAMES, QUESTION_NAMES, RESPONDENT_NAMES, TEXT_NAMES, Table, as_text,
                     csv_table, jsonl_table, norm_name, xlsx_table)
from .transcripts import looks_like_transcript, respondent_turns

log = logging.getLogger(__name__)


def _text(path: Path, data: bytes, opts: "ImportOptions", notes: list[str]) -> Document:
    check_not_binary(path, data, "text")
    text, encoding = decode(path, data, notes)
    return Document(text, encoding)


_CSV = Reader("csv", lambda p, data, opts, notes: csv_table(p, data))
_XLSX = Reader("xlsx", lambda p, data, opts, notes: xlsx_table(p, data, sheet=opts.sheet))
_JSONL = Reader("jsonl", lambda p, data, opts, notes: jsonl_table(p, data))
_TEXT = Reader("text", _text)
_DOCX = Reader("docx", lambda p, data, opts, notes: Document("\n".join(docx_lines(p, data))))
_PDF = Reader("pdf", lambda p, data, opts, notes: Document("\n".join(pdf_lines(p, data))))

# File readers by suffix. A new format is a reader module and one line here.
READERS: dict[str, Reader] = {
    ".csv": _CSV, ".tsv": _CSV, ".xlsx": _XLSX, ".xlsm": _XLSX, ".jsonl": _JSONL,
    ".ndjson": _JSONL, ".txt": _TEXT, ".md": _TEXT, ".markdown": _TEXT, ".docx": _DOCX,
    ".pdf": _PDF,
}


@dataclass(frozen=True)
class ProjectReader:
    """A file that carries codings as well as answers (a REFI-QDA project). `read(path)` reads
    and checks all of it before anything is stored; nlp.pipeline stores what it read (its
    PROJECT_WRITERS, by `format`) inside the import's one transaction."""

    format: str
    read: Callable[[Path], Any]


# Files that go straight into a project, answers and codings, in the import's one transaction.
PROJECT_READERS: dict[str, ProjectReader] = {
    ".qdpx": ProjectReader("qdpx", read_qdpx),
}
FORMATS: dict[str, str] = {  # every suffix
    **{s: r.format for s, r in READERS.items()},
    **{s: p.format for s, p in PROJECT_READERS.items()}}


@dataclass
class ReadResult:
    """What reading one file gave, before it is stored."""
    path: str
    format: str
    responses: list[Response]
    rows_read: int
    content_hash: str
    encoding: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # {response_id: the file's own id} for answers whose id came from the file's id column
    file_ids: dict[str, str] = field(default_factory=dict)


def detect_format(path: Path) -> str:
    return _reader(path).format


def _reader(path: Path) -> Reader:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise errors.unknown_format(path, path.suffix, sorted(FORMATS))
    return reader


def _pick(columns: list[str], names: list[str]) -> str | None:
    by_norm = {norm_name(c): c for c in columns}
    for n in names:
        if n in by_norm:
            return by_norm[n]
    return None


def _resolve_columns(path: Path, table: Table, opts: ImportOptions,
                     sample: list[dict[str, Any]]) -> dict[str, str | None]:
    cols = table.columns
    chosen: dict[str, str | None] = {}
    for key, opt, names in (("id", opts.id_col, ID_NAMES),
                            ("respondent", opts.respondent_col, RESPONDENT_NAMES),
                            ("question", opts.question_col, QUESTION_NAMES)):
        if opt is not None:
            if opt not in cols:
                raise errors.missing_column(path, f"--{key}-col", opt, cols)
            chosen[key] = opt
        else:
            chosen[key] = _pick(cols, names)
    if opts.text_col is not None:
        if opts.text_col not in cols:
            raise errors.missing_column(path, "--text-col", opts.text_col, cols)
        chosen["text"] = opts.text_col
        return chosen
    text = _pick(cols, TEXT_NAMES)
    if text is None:
        # The column whose values are longest, if they look like prose.
        taken = {v for v in chosen.values() if v}
        best, best_len = None, 0.0
        for c in cols:
            if c in taken:
                continue
            vals = [as_text(r.get(c)) for r in sample if as_text(r.get(c)).strip()]
            if not vals:
                continue
            mean = sum(len(v) for v in vals) / len(vals)
            wordy = sum(1 for v in vals if " " in v.strip()) / len(vals)
            if mean > best_len and wordy >= 0.5:
                best, best_len = c, mean
        if best is None or best_len < 15:
            raise errors.no_text_column(path, cols)
        text = best
    chosen["text"] = text
    return chosen


def _meta_value(v: Any) -> Any:
    """A metadata cell as stored (JSON): text cleaned, NaN/infinity as text, a JSON list or
    object as JSON text, an integer too large for a database as text."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v if -2**63 <= v < 2**63 else str(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return clean_text(as_text(v))


def _table_responses(path: Path, table: Table, opts: ImportOptions, prefix: str,
                     notes: list[str], file_ids: dict[str, str]
                     ) -> tuple[list[Response], int, dict[str, str | None]]:
    chosen: dict[str, str | None] = {}
    out = list(_iter_table_responses(path, table, opts, prefix, notes, file_ids, chosen))
    return out, len(out), chosen


def _iter_table_responses(path: Path, table: Table, opts: ImportOptions, prefix: str,
                          notes: list[str], file_ids: dict[str, str],
                          chosen: dict[str, str | None]) -> Iterator[Response]:
    """The rows of `table` as validated responses, one at a time (`chosen` gets the columns
    read, `file_ids` each response's id in the file)."""
    rows = table.rows
    sample: list[tuple[int, dict[str, Any]]] = []
    for item in rows:
        sample.append(item)
        if len(sample) >= 200:
            break
    if not sample:
        raise errors.nothing_found(path, "data rows below the header")
    chosen.update(_resolve_columns(path, table, opts, [r for _, r in sample]))
    if opts.text_col is None:
        notes.append(f"text column: {chosen['text']!r} (detected; set --text-col to change)")
    for key in ("id", "respondent", "question"):
        if chosen[key] and getattr(opts, f"{key}_col") is None:
            notes.append(f"{key} column: {chosen[key]!r} (detected)")
    used = {v for v in chosen.values() if v} | set(opts.skip_cols)
    seen: dict[str, int] = {}
    budget = Budget(path)

    def all_rows() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from sample
        yield from rows

    def cell(row: dict[str, Any], key: str) -> str:
        col = chosen[key]
        return clean_text(as_text(row.get(col) or "")).strip() if col else ""

    text_col = chosen["text"] or ""  # always set: _resolve_columns raises when none is found
    for rownum, row in all_rows():
        budget.row(rownum, table.unit)
        text = as_text(row.get(text_col) or "")
        if len(text) > MAX_CELL:
            raise errors.cell_too_long(path, rownum, len(text), MAX_CELL, unit=table.unit)
        text = clean_text(text).strip()
        own = cell(row, "id")
        rid = f"{opts.id_prefix}{own}" if own and opts.id_prefix else own
        rid = rid or f"{prefix}:{rownum}"
        if rid in seen:
            raise errors.duplicate_id(path, rownum, rid, f"{table.unit} {seen[rid]}",
                                      unit=table.unit)
        seen[rid] = rownum
        meta = {}
        size = len(text)
        for k, v in row.items():
            if k in used or v in ("", None):
                continue
            value = _meta_value(v)
            if isinstance(value, str):
                if len(value) > MAX_CELL:
                    raise errors.cell_too_long(path, rownum, len(value), MAX_CELL,
                                               unit=table.unit, column=str(k))
                size += len(value)
            meta[clean_text(str(k))] = value
        budget.text(size)
        if own:
            file_ids[rid] = own
            if rid != own:  # --id-prefix: the file's own id stays traceable
                meta[ID_IN_FILE] = own
        resp = cell(row, "respondent")
        q = cell(row, "question")
        for what, value in (("id", rid), ("respondent id", resp)):
            if len(value) > MAX_ID:
                raise errors.value_too_long(path, rownum, what, len(value), MAX_ID,
                                            unit=table.unit)
        yield Response(response_id=rid, text=text, source=path.name, location=rownum,
                       respondent_id=resp or None, question=q or None, metadata=meta,
                       flag=flag_for(text))


def _text_responses(path: Path, lines: list[str], opts: ImportOptions, prefix: str,
                    notes: list[str]) -> tuple[list[Response], str]:
    kind = opts.kind or ("transcript" if looks_like_transcript(lines) else "report")
    out: list[Response] = []
    budget = Budget(path)
    budget.text(sum(len(ln) for ln in lines))
    if kind == "transcript":
        turns = respondent_turns(lines)
        if not turns:
            raise errors.nothing_found(path, "respondent turns (lines like 'R1: ...')")
        speakers = {t.speaker for t, _ in turns}
        for t, question in turns:
            budget.row(t.line, "line")
            if len(t.text) > MAX_CELL:
                raise errors.cell_too_long(path, t.line, len(t.text), MAX_CELL, unit="line")
            # A lone generic label ("R", "Respondent") means one respondent: the file.
            resp = t.speaker if len(speakers) > 1 or re.search(r"\d", t.speaker) else path.stem
            out.append(Response(response_id=f"{prefix}:{t.line}", text=t.text, source=path.name,
                                location=t.line, respondent_id=resp, question=question,
                                metadata={"speaker": t.speaker}, flag=flag_for(t.text)))
        notes.append(f"read as an interview transcript: {len(out)} respondent turns")
    elif kind == "report":
        quotes = extract_quotes(lines)
        if not quotes:
            raise errors.nothing_found(path, "quoted passages of 8 words or more")
        for q in quotes:
            budget.row(q.line, "line")
            if len(q.text) > MAX_CELL:
                raise errors.cell_too_long(path, q.line, len(q.text), MAX_CELL, unit="line")
            out.append(Response(response_id=f"{prefix}:{q.line}:{len(out) + 1}", text=q.text,
                                source=path.name, location=q.line, respondent_id=q.speaker,
                                question=None, metadata={"section": q.section or ""},
                                flag=flag_for(q.text)))
        notes.append(f"read as a report: {len(out)} quoted passages")
    else:
        what = ("is a text document, not a table" if kind == "table"
                else f"cannot be read as {kind!r}")
        raise errors.wrong_kind(path, what)
    return out, kind


def read_file(path: str | Path, options: ImportOptions | None = None) -> ReadResult:
    """Read one file into responses, validating everything before anything is stored.

    Raises:
        InputError: naming the file, row/line and problem.
    """
    p = Path(path)
    opts = options or ImportOptions()
    reader = _reader(p)
    fmt = reader.format
    data = read_bytes(p)
    digest = hashlib.sha256(data).hexdigest()
    prefix = opts.id_prefix or p.stem
    notes: list[str] = []
    encoding = None
    columns: dict[str, str | None] = {}
    file_ids: dict[str, str] = {}
    got = reader.read(p, data, opts, notes)
    if isinstance(got, Table):
        encoding = got.encoding
        notes.extend(got.notes)
        responses, n_read, columns = _table_responses(p, got, opts, prefix, notes, file_ids)
    else:
        text, encoding = got.text, got.encoding
        # One line per \n (as an editor numbers them), control characters gone.
        lines = clean_text(text).split("\n")
        if not any(ln.strip() for ln in lines):
            raise errors.empty_file(p)
        responses, kind = _text_responses(p, lines, opts, prefix, notes)
        for r in responses:
            for what, value in (("id", r.response_id), ("respondent id", r.respondent_id or "")):
                if len(value) > MAX_ID:
                    raise errors.value_too_long(p, r.location or 0, what, len(value), MAX_ID,
                                                unit="line")
        n_read = len(responses)
        columns = {"kind": kind}
    if encoding and encoding != "utf-8":
        notes.append(f"decoded as {encoding}")
    return ReadResult(path=str(p), format=fmt, responses=responses, rows_read=n_read,
                      content_hash=digest, encoding=encoding, columns=columns, notes=notes,
                      file_ids=file_ids)


def iter_table_file(path: str | Path, options: ImportOptions | None = None,
                    file_ids: dict[str, str] | None = None) -> Iterator[Response]:
    """The rows of a table file (CSV, Excel, JSON Lines...) as validated responses, one at a
    time, under the same checks and limits as `read_file`: for inputs read once and never
    stored (a sample of examples), so their size costs no list of every row.

    Args:
        file_ids: filled with {response id: the row's own id in the file}, as rows are read.

    Raises:
        InputError: naming the file, row and problem; a document that is not a table.
    """
    p = Path(path)
    opts = options or ImportOptions(kind="table")
    got = _reader(p).read(p, read_bytes(p), opts, [])
    if not isinstance(got, Table):
        raise errors.wrong_kind(p, "is a text document, not a table")
    yield from _iter_table_responses(p, got, opts, opts.id_prefix or p.stem, [],
                                     file_ids if file_ids is not None else {}, {})


def read_corpus(path: str | Path, options: ImportOptions | None = None) -> Corpus:
    """Read a file into a Corpus without a project (file mode)."""
    return Corpus(tuple(read_file(path, options).responses))
