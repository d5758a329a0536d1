"""Ingest: low-level readers (bytes -> text, tables -> rows) with errors that name file and row."""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import errors
from ..text.clean import clean_text

ENCODINGS = ["utf-8", "utf-8-sig", "cp1252"]  # in this order; UTF-16 only with its BOM
MAX_CELL = 100_000
MAX_ID = 200  # response and respondent ids: the database columns' width (PostgreSQL enforces it)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")



@dataclass
class Table:
    """Rows of a table-like file, streamed: `rows` yields (row number, {column: value})."""

    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    unit: str = "row"


def check_not_binary(path: Path, data: bytes, kind: str) -> None:
    if data.startswith(_UTF16_BOMS):
        # UTF-16 (Excel's "Unicode text"): every other byte of ASCII text is NUL. `decode`
        # checks it decodes; control characters are judged on the decoded text.
        head_text = decode(path, data)[0][:8192]
        ctrl = sum(1 for ch in head_text if ord(ch) < 9 or 13 < ord(ch) < 32)
        if head_text and ctrl / len(head_text) > 0.05:
            raise errors.binary_junk(path, kind)
        return
    head = data[:8192]
    if b"\x00" in head:
        raise errors.binary_junk(path, kind)
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and ctrl / len(head) > 0.05:
        raise errors.binary_junk(path, kind)


def decode(path: Path, data: bytes, notes: list[str] | None = None) -> tuple[str, str]:
    """Decode bytes: UTF-16 when it starts with its byte-order mark, else UTF-8 (with or
    without BOM), else cp1252. A file mixing UTF-8 lines with cp1252 ones (two files pasted
    together) is decoded line by line, and `notes` says which lines were cp1252.
    Returns (text, encoding).

    Raises:
        InputError: no encoding fits; names the first line that none can decode.
    """
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            line = data.count(b"\n\x00" if data[:1] == b"\xff" else b"\x00\n", 0, exc.start) + 1
            raise errors.undecodable(path, line, ["utf-16"]) from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    bom = data.startswith(b"\xef\xbb\xbf")
    parts: list[str] = []
    cp_lines: list[int] = []
    utf8_multibyte = False
    for i, raw in enumerate(data.splitlines(keepends=True), start=1):
        if i == 1 and bom:
            raw = raw[3:]
        try:
            parts.append(raw.decode("utf-8"))
            utf8_multibyte = utf8_multibyte or not raw.isascii()
        except UnicodeDecodeError:
            try:
                parts.append(raw.decode("cp1252"))
            except UnicodeDecodeError:
                raise errors.undecodable(path, i, ENCODINGS) from None
            cp_lines.append(i)
    if not utf8_multibyte:
        return "".join(parts), "cp1252"
    if notes is not None:
        shown = ", ".join(map(str, cp_lines[:10])) + (", ..." if len(cp_lines) > 10 else "")
        notes.append(f"mixed encodings: {len(cp_lines)} line(s) are not UTF-8 and were read as "
                     f"cp1252 (line {shown}); check them")
    return "".join(parts), "utf-8+cp1252"


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


_DELIMITERS = ",;\t|"


def _delimiter(header_line: str) -> str:
    """The delimiter the header row uses most (outside double quotes); comma on a tie or for a
    one-column file. The header alone decides: csv.Sniffer guesses from the answers too, and
    answers full of apostrophes, semicolons or pipes fool it."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=counts.__getitem__)
    return best if counts[best] else ","


def _unclosed_quote_row(text: str, dialect: Any) -> int | None:
    """The row whose quoted field is never closed (it swallows the rest of the file), if any."""
    if '"' not in text:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    n = 0
    while True:
        try:
            next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            return n + 1 if "unexpected end of data" in str(exc) else None
        n += 1


def csv_table(path: Path, data: bytes) -> Table:
    """A CSV file as a streamed table. Row 1 is the header, like a spreadsheet shows it."""
    check_not_binary(path, data, "CSV")
    notes: list[str] = []
    text, enc = decode(path, data, notes)
    csv.field_size_limit(50_000_000)
    first, *rest = re.split(r"\r\n|\r|\n", text, maxsplit=1)
    sep = first.strip().lower()
    if len(sep) == 5 and sep.startswith("sep="):  # Excel's "sep=;" hint line
        delimiter, text = sep[4], (rest[0] if rest else "")
    else:
        delimiter = _delimiter(first)

    class dialect(csv.excel):  # noqa: N801 - a csv dialect is a class
        pass

    dialect.delimiter = delimiter
    bad = _unclosed_quote_row(text, dialect)
    if bad is not None:
        raise errors.InputError(path, "a quoted field starting here is never closed, so it "
                                "swallows the rest of the file.", row=bad,
                                hint="Check for an unclosed quote mark (\") in this row.")
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise errors.empty_file(path) from None
    except csv.Error as exc:
        raise errors.InputError(path, f"cannot parse the CSV header ({exc}).", row=1) from None
    columns = _dedupe_columns(path, [clean_text(h).strip() for h in header])

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
    notes: list[str] = []
    text, enc = decode(path, data, notes)
    # Only \n ends a JSON line: str.splitlines() would also split at U+2028, U+0085 and the
    # like, which JSON writers leave unescaped inside strings.
    lines = text.split("\n")
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

    return Table(columns=columns, rows=rows(), encoding=enc, notes=notes, unit="line")


def docx_lines(path: Path, data: bytes) -> list[str]:
    """A Word document's paragraphs (and table cells) as lines of text."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise errors.binary_junk(path, "Word (.docx)") if data[:4] != b"PK\x03\x04" else \
            errors.unreadable(path, "Word (.docx)", "the archive is truncated")
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

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # its warnings on damaged files would print mid-command
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, Exception) as exc:  # pypdf raises several types on damage
        raise errors.unreadable(path, "PDF", f"{type(exc).__name__}: {exc}") from None
    finally:
        pypdf_log.setLevel(level)
    lines: list[str] = []
    for p in pages:
        lines.extend(p.splitlines())
        lines.append("")
    return lines
