"""Ingest stage: read CSV, Excel, JSON Lines, transcripts and report quotes into a project."""
from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .. import errors
from ..refiqda import import_qdpx
from ..store.schema import sources
from ..text.clean import NON_ANSWERS, flag_for
from ..types import Corpus, ImportSummary, Response
from .quotes import extract_quotes
from .readers import (MAX_CELL, MAX_ID, Table, check_not_binary, clean_text, csv_table, decode,
                      docx_lines, jsonl_table, pdf_lines, read_bytes, xlsx_table)
from .transcripts import looks_like_transcript, respondent_turns

log = logging.getLogger(__name__)


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
# Files that carry codings as well as answers go straight into a project, in one transaction.
PROJECT_READERS: dict[str, Callable[..., ImportSummary]] = {".qdpx": import_qdpx}
FORMATS = {**{s: r.format for s, r in READERS.items()}, ".qdpx": "qdpx"}  # every suffix read

TEXT_NAMES = ["text", "response", "response_text", "answer", "answers", "comment", "comments",
              "quote", "free_text", "freetext", "feedback", "reply", "verbatim", "open_text"]
ID_NAMES = ["id", "response_id", "responseid", "answer_id", "row_id", "uid", "record_id"]
RESPONDENT_NAMES = ["respondent_id", "respondent", "respondentid", "participant_id",
                    "participant", "speaker", "case_id", "organisation_id", "org_id"]
QUESTION_NAMES = ["question", "question_id", "question_text", "prompt", "item"]
@dataclass
class ImportOptions:
    """How to read a file: column names (detected when None), sheet, kind, id prefix."""
    text_col: str | None = None
    id_col: str | None = None
    respondent_col: str | None = None
    question_col: str | None = None
    sheet: str | None = None
    kind: str | None = None  # "table" | "transcript" | "report"; detected when None
    id_prefix: str | None = None


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


def detect_format(path: Path) -> str:
    return _reader(path).format


def _reader(path: Path) -> Reader:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise errors.unknown_format(path, path.suffix, sorted(FORMATS))
    return reader


def _norm(c: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", c.strip().lower()).strip("_")


def _pick(columns: list[str], names: list[str]) -> str | None:
    by_norm = {_norm(c): c for c in columns}
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
            vals = [str(r.get(c, "")) for r in sample if str(r.get(c, "")).strip()]
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
    """A metadata cell as stored (JSON): text cleaned, NaN/infinity and nested values as text."""
    if isinstance(v, bool) or isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return clean_text(v if isinstance(v, str) else str(v))


def _table_responses(path: Path, table: Table, opts: ImportOptions, prefix: str,
                     notes: list[str]) -> tuple[list[Response], int, dict[str, str | None]]:
    rows = table.rows
    sample: list[tuple[int, dict[str, Any]]] = []
    for item in rows:
        sample.append(item)
        if len(sample) >= 200:
            break
    if not sample:
        raise errors.nothing_found(path, "data rows below the header")
    chosen = _resolve_columns(path, table, opts, [r for _, r in sample])
    if opts.text_col is None:
        notes.append(f"text column: {chosen['text']!r} (detected; set --text-col to change)")
    for key in ("id", "respondent", "question"):
        if chosen[key] and getattr(opts, f"{key}_col") is None:
            notes.append(f"{key} column: {chosen[key]!r} (detected)")
    used = {v for v in chosen.values() if v}
    out: list[Response] = []
    seen: dict[str, int] = {}
    n_read = 0

    def all_rows() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from sample
        yield from rows

    def cell(row: dict[str, Any], key: str) -> str:
        return clean_text(str(row.get(chosen[key], "") or "")).strip() if chosen[key] else ""

    for rownum, row in all_rows():
        n_read += 1
        text = str(row.get(chosen["text"], "") or "")
        if len(text) > MAX_CELL:
            raise errors.cell_too_long(path, rownum, len(text), MAX_CELL, unit=table.unit)
        text = clean_text(text).strip()
        rid = cell(row, "id")
        rid = f"{opts.id_prefix}{rid}" if rid and opts.id_prefix else rid
        rid = rid or f"{prefix}:{rownum}"
        if rid in seen:
            raise errors.duplicate_id(path, rownum, rid, f"{table.unit} {seen[rid]}",
                                      unit=table.unit)
        seen[rid] = rownum
        meta = {clean_text(str(k)): _meta_value(v) for k, v in row.items()
                if k not in used and v not in ("", None)}
        resp = cell(row, "respondent")
        q = cell(row, "question")
        for what, value in (("id", rid), ("respondent id", resp)):
            if len(value) > MAX_ID:
                raise errors.value_too_long(path, rownum, what, len(value), MAX_ID,
                                            unit=table.unit)
        out.append(Response(response_id=rid, text=text, source=path.name, location=rownum,
                            respondent_id=resp or None, question=q or None, metadata=meta,
                            flag=flag_for(text)))
    return out, n_read, chosen


def _text_responses(path: Path, lines: list[str], opts: ImportOptions, prefix: str,
                    notes: list[str]) -> tuple[list[Response], str]:
    kind = opts.kind or ("transcript" if looks_like_transcript(lines) else "report")
    out: list[Response] = []
    if kind == "transcript":
        turns = respondent_turns(lines)
        if not turns:
            raise errors.nothing_found(path, "respondent turns (lines like 'R1: ...')")
        speakers = {t.speaker for t, _ in turns}
        for t, question in turns:
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
            if len(q.text) > MAX_CELL:
                raise errors.cell_too_long(path, q.line, len(q.text), MAX_CELL, unit="line")
            out.append(Response(response_id=f"{prefix}:{q.line}:{len(out) + 1}", text=q.text,
                                source=path.name, location=q.line, respondent_id=q.speaker,
                                question=None, metadata={"section": q.section or ""},
                                flag=flag_for(q.text)))
        notes.append(f"read as a report: {len(out)} quoted passages")
    else:
        raise errors.InputError(path, f"unknown kind {kind!r}; use table, transcript or report.")
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
    got = reader.read(p, data, opts, notes)
    if isinstance(got, Table):
        encoding = got.encoding
        notes.extend(got.notes)
        responses, n_read, columns = _table_responses(p, got, opts, prefix, notes)
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
                      content_hash=digest, encoding=encoding, columns=columns, notes=notes)


def read_corpus(path: str | Path, options: ImportOptions | None = None) -> Corpus:
    """Read a file into a Corpus without a project (file mode)."""
    return Corpus(tuple(read_file(path, options).responses))


def _store_read(store, conn, p: Path, result: ReadResult, opts: ImportOptions) -> ImportSummary:
    """Store one file's responses inside the caller's write transaction."""
    base = dict(path=str(p), format=result.format, rows_read=result.rows_read,
                encoding=result.encoding, columns=result.columns, notes=tuple(result.notes))
    # Checked inside the write transaction: two imports of one file at once add it once.
    if conn.execute(sources.select().where(
            sources.c.content_hash == result.content_hash)).first() is not None:
        return ImportSummary(**base, skipped_present=len(result.responses),
                             source_already_present=True)
    existing = store.existing_hashes([r.response_id for r in result.responses], conn)
    new: list[Response] = []
    skipped = 0
    for r in result.responses:
        if r.response_id in existing:
            h, other = existing[r.response_id]
            if h != r.text_hash:
                raise errors.conflicting_id(p, r.location or 0, r.response_id, other,
                                           unit="row" if result.format in ("csv", "xlsx")
                                           else "line")
            skipped += 1
        else:
            new.append(r)
    sid = store.add_source(conn, name=p.name, path=str(p.resolve()), format=result.format,
                           content_hash=result.content_hash, encoding=result.encoding,
                           options={k: v for k, v in vars(opts).items() if v is not None},
                           rows_read=result.rows_read)
    n = store.add_responses(conn, new, sid)
    log.info("imported %s: %d new, %d already present", p.name, n, skipped)
    return ImportSummary(**base, imported=n, flagged=sum(1 for r in new if r.flag),
                         skipped_present=skipped)


def import_file(store, path: str | Path, options: ImportOptions | None = None) -> ImportSummary:
    """Import one file into the project in one transaction: all of it or nothing.

    A file whose bytes were imported before adds nothing; a row whose id and text are already
    stored is skipped as already present; an id stored with a different text is an error.

    Raises:
        InputError: bad file (nothing is stored).
    """
    p = Path(path)
    if p.suffix.lower() in PROJECT_READERS:  # e.g. a REFI-QDA project: answers and codings
        return PROJECT_READERS[p.suffix.lower()](store, p)
    opts = options or ImportOptions()
    result = read_file(p, opts)
    with store.write() as conn:
        return _store_read(store, conn, p, result, opts)


def import_files(store, paths: Sequence[str | Path],
                 options: ImportOptions | None = None) -> list[ImportSummary]:
    """Import several files as one unit: every file is read and checked first, then all are
    stored in one transaction, so a bad file (or a conflicting id in any of them) stores
    nothing at all. REFI-QDA projects (.qdpx) follow, one transaction each.

    Raises:
        InputError: naming the bad file and row; the project is unchanged.
    """
    opts = options or ImportOptions()
    items = [Path(p) for p in paths]
    results = {i: read_file(p, opts) for i, p in enumerate(items)
               if p.suffix.lower() not in PROJECT_READERS}
    out: dict[int, ImportSummary] = {}
    if results:
        with store.write() as conn:
            for i, result in results.items():
                out[i] = _store_read(store, conn, items[i], result, opts)
    for i, p in enumerate(items):
        if i not in out:
            out[i] = import_file(store, p, opts)
    return [out[i] for i in range(len(items))]
