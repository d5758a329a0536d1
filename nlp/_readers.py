"""Ingest: low-level readers (bytes -> text, tables -> rows) with errors that name file and row."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import errors

ENCODINGS = ["utf-8", "utf-8-sig", "cp1252"]
MAX_CELL = 100_000


@dataclass
class Table:
    """Rows of a table-like file, streamed: `rows` yields (row number, {column: value})."""

    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    unit: str = "row"


def check_not_binary(path: Path, data: bytes, kind: str) -> None:
    head = data[:8192]
    if b"\x00" in head:
        raise errors.binary_junk(path, kind)
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and ctrl / len(head) > 0.05:
        raise errors.binary_junk(path, kind)


def decode(path: Path, data: bytes) -> tuple[str, str]:
    """Decode bytes trying UTF-8 (with or without BOM), then cp1252. Returns (text, encoding).

    Raises:
        InputError: none fits; names the line of the first bad byte under UTF-8.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, first_bad) + 1
        raise errors.undecodable(path, line, ENCODINGS) from None


def read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise errors.missing_file(path)
    if path.is_dir():
        raise errors.InputError(path, "is a folder, not a file.",
                                hint="Name the files inside it (e.g. folder/*.csv).")
    data = path.read_bytes()
    if not data.strip():
        raise errors.empty_file(path)
    return data


def _clean(v: Any) -> Any:
    if v is None:
        return ""
    return v


def csv_table(path: Path, data: bytes) -> Table:
    """A CSV file as a streamed table. Row 1 is the header, like a spreadsheet shows it."""
    check_not_binary(path, data, "CSV")
    text, enc = decode(path, data)
    csv.field_size_limit(50_000_000)
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise errors.empty_file(path) from None
    except csv.Error as exc:
        raise errors.InputError(path, f"cannot parse the CSV header ({exc}).", row=1) from None
    columns = _dedupe_columns(path, [h.strip() for h in header])
    notes: list[str] = []

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        n = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise errors.InputError(path, f"the CSV cannot be parsed here ({exc}).",
                                        row=n + 1, hint="Check for an unclosed quote mark.") from None
            n += 1
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) > len(columns):
                extra = row[len(columns):]
                if any(c.strip() for c in extra):
                    raise errors.InputError(
                        path, f"the row has {len(row)} fields but the header has "
                        f"{len(columns)}.", row=n,
                        hint="A comma inside an answer needs the answer in double quotes.")
                row = row[:len(columns)]
            if len(row) < len(columns):
                row = row + [""] * (len(columns) - len(row))  # short rows: missing cells are empty
            yield n, dict(zip(columns, row))

    return Table(columns=columns, rows=rows(), encoding=enc, notes=notes)


def _dedupe_columns(path: Path, cols: list[str]) -> list[str]:
    out: list[str] = []
    for i, c in enumerate(cols):
        name = c or f"column_{i + 1}"
        base, k = name, 2
        while name in out:
            name = f"{base}_{k}"
            k += 1
        out.append(name)
    return out


def xlsx_table(path: Path, data: bytes, *, sheet: str | None = None) -> Table:
    """An Excel workbook's sheet as a streamed table (read-only mode: one pass, low memory)."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise errors.binary_junk(path, "Excel (.xlsx)") if data[:4] != b"PK\x03\x04" else \
            errors.unreadable(path, "Excel (.xlsx)", "the archive is truncated")
    import openpyxl

    try:
        # data_only=False: an answer typed as "=..." is kept as the text the respondent wrote
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise errors.unreadable(path, "Excel (.xlsx)", f"{type(exc).__name__}: {exc}") from None
    notes: list[str] = []
    names = wb.sheetnames
    if sheet is not None:
        if sheet not in names:
            raise errors.InputError(path, f"no sheet {sheet!r}; sheets are "
                                    f"{', '.join(map(repr, names))}.")
        ws = wb[sheet]
    else:
        ws = None
        for n in names:
            cand = wb[n]
            if cand.max_row and cand.max_row > 1 or next(cand.iter_rows(max_row=1), None):
                ws = cand
                break
        if ws is None:
            raise errors.empty_file(path)
        if len(names) > 1:
            notes.append(f"read sheet {ws.title!r} of {len(names)} ({', '.join(names)}); "
                         "use --sheet to pick another")
    it = ws.iter_rows(values_only=True)
    header = None
    hrow = 0
    try:
        for header in it:
            hrow += 1
            if header and any(v not in (None, "") for v in header):
                break
    except Exception as exc:
        raise errors.unreadable(path, "Excel (.xlsx)", f"{type(exc).__name__}: {exc}") from None
    if not header or all(v in (None, "") for v in header):
        raise errors.empty_file(path)
    columns = _dedupe_columns(path, [str(h).strip() if h is not None else "" for h in header])

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        n = hrow
        try:
            for row in it:
                n += 1
                if not row or all(v in (None, "") for v in row):
                    continue
                vals = [_clean(v) for v in row[:len(columns)]]
                vals += [""] * (len(columns) - len(vals))
                yield n, {c: (str(v) if not isinstance(v, str) else v)
                          for c, v in zip(columns, vals)}
        except Exception as exc:
            raise errors.unreadable(path, "Excel (.xlsx)",
                                    f"{type(exc).__name__} at row {n}: {exc}") from None
        finally:
            wb.close()

    return Table(columns=columns, rows=rows(), encoding=None, notes=notes)


def jsonl_table(path: Path, data: bytes) -> Table:
    """A JSON Lines file (one object per line) as a table; columns are the keys seen."""
    check_not_binary(path, data, "JSON Lines")
    text, enc = decode(path, data)
    lines = text.splitlines()
    columns: list[str] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise errors.bad_json_line(path, i, exc.msg) from None
        if not isinstance(obj, dict):
            raise errors.bad_json_line(path, i, f"found a {type(obj).__name__}")
        for k in obj:
            if k not in columns:
                columns.append(k)
        parsed.append((i, obj))
    if not parsed:
        raise errors.empty_file(path)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for i, obj in parsed:
            yield i, {k: obj.get(k, "") for k in columns} | {k: v for k, v in obj.items()}

    return Table(columns=columns, rows=rows(), encoding=enc, unit="line")


def docx_lines(path: Path, data: bytes) -> list[str]:
    """A Word document's paragraphs (and table cells) as lines of text."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise errors.binary_junk(path, "Word (.docx)")
    import docx

    try:
        doc = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise errors.unreadable(path, "Word (.docx)", f"{type(exc).__name__}: {exc}") from None
    lines: list[str] = []
    for p in doc.paragraphs:
        style = (p.style.name if p.style is not None else "") or ""
        t = p.text
        if style.lower().startswith("heading") and t.strip():
            t = "# " + t.strip()
        lines.append(t)
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                lines.append(cell.text)
    return lines


def pdf_lines(path: Path, data: bytes) -> list[str]:
    """A PDF's text as lines (pages joined; a blank line between pages)."""
    if not data.startswith(b"%PDF"):
        raise errors.binary_junk(path, "PDF")
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, Exception) as exc:  # pypdf raises several types on damage
        raise errors.unreadable(path, "PDF", f"{type(exc).__name__}: {exc}") from None
    lines: list[str] = []
    for p in pages:
        lines.extend(p.splitlines())
        lines.append("")
    return lines
