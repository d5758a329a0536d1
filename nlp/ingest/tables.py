"""Ingest stage: tables (CSV, Excel, JSON Lines) as a header and streamed rows, in time and
memory linear in what the file holds: a header's columns are named and de-duplicated in
linear time and capped, a short row is never padded to the header's width, an Excel sheet's
declared dimension is never trusted, and a title row above the header is skipped (or
reported)."""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import errors
from .. import limits as _limits
from ..text.clean import clean_text
from .readers import check_not_binary, decode, zip_or_fail
from .xlsx import Workbook

# Column names recognised in a header (normalised: lower case, "_" for anything else).
TEXT_NAMES = ["text", "response", "response_text", "answer", "answers", "comment", "comments",
              "quote", "free_text", "freetext", "feedback", "reply", "verbatim", "open_text"]
ID_NAMES = ["id", "response_id", "responseid", "answer_id", "row_id", "uid", "record_id"]
RESPONDENT_NAMES = ["respondent_id", "respondent", "respondentid", "participant_id",
                    "participant", "speaker", "case_id", "organisation_id", "org_id"]
QUESTION_NAMES = ["question", "question_id", "question_text", "prompt", "item"]
KNOWN_NAMES = frozenset(TEXT_NAMES + ID_NAMES + RESPONDENT_NAMES + QUESTION_NAMES)

@dataclass
class Table:
    """Rows of a table-like file, streamed: `rows` yields (row number, {column: value})."""

    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    unit: str = "row"


def norm_name(c: str) -> str:
    """A column name compared: lower case, anything but letters and digits as "_"."""
    return re.sub(r"[^a-z0-9]+", "_", c.strip().lower()).strip("_")


def as_text(v: Any) -> str:
    """A cell as text: a JSON list or object as JSON (never Python's repr), None as ""."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _nonempty(cells: dict[int, Any]) -> list[Any]:
    return [v for v in cells.values() if v is not None and str(v).strip()]


def _looks_like_header(cells: dict[int, Any]) -> bool:
    vals = _nonempty(cells)
    return (len(vals) >= 2 and all(isinstance(v, str) and len(v) <= 200 for v in vals)
            and not any(re.fullmatch(r"[\d.,\s%-]+", v) for v in vals)
            and len({norm_name(v) for v in vals}) == len(vals))


def find_header(records: list[tuple[int, dict[int, Any]]]) -> tuple[int, str | None]:
    """Which of the first non-empty `records` ((row, {column: value})) is the header, past
    title rows above it, and a note saying so (or warning of a row that may be a title).

    A title row (often a merged cell) holds one value; the header below it holds several,
    names all, one of them a column name we know (id, text, response...)."""
    i = 0
    while i + 1 < len(records) and i < 10:
        title, below = _nonempty(records[i][1]), records[i + 1][1]
        if len(title) != 1 or len(_nonempty(below)) < 2:
            break
        if norm_name(str(title[0])) in KNOWN_NAMES:  # a one-column header ("text")
            break
        names = {norm_name(str(v)) for v in _nonempty(below)}
        if _looks_like_header(below) and names & KNOWN_NAMES:
            i += 1
            continue
        if i == 0:
            return 0, (f"row {records[0][0]} holds one cell ({str(title[0])[:60]!r}) and the "
                       "rows below hold more: if it is a title above the header, delete it "
                       "and import again")
        break
    if i == 0:
        return 0, None
    shown = ", ".join(repr(str(_nonempty(c)[0])[:60]) for _, c in records[:i])
    return i, (f"skipped {i} title row(s) above the header ({shown}); the header is row "
               f"{records[i][0]}")


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
        raise errors.unclosed_quote(path, bad)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    n = 0

    def record() -> list[str] | None:
        nonlocal n
        try:
            row = next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise errors.csv_unparsable(path, n + 1, exc) from None
        n += 1
        return row

    head: list[tuple[int, list[str]]] = []  # the first non-empty records: header and titles
    while len(head) < 12:
        row = record()
        if row is None:
            break
        if row and any(c.strip() for c in row):
            head.append((n, row))
    if not head:
        raise errors.empty_file(path)
    at, note = find_header([(r, {i: c for i, c in enumerate(row) if c.strip()})
                            for r, row in head])
    if note:
        notes.append(note)
    hrow, header = head[at]
    columns = _header_columns(path, header, hrow)
    width = len(columns)
    buffered = head[at + 1:]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        pending = iter(buffered)
        while True:
            item = next(pending, None)
            if item is None:
                row = record()
                if row is None:
                    return
                item = (n, row)
            rownum, row = item
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) > width:
                if any(c.strip() for c in row[width:]):
                    raise errors.ragged_row(path, rownum, len(row), width)
                row = row[:width]
            # A short row's missing cells are empty: left out, never padded (a wide header
            # over a million short rows must not cost a million wide rows).
            yield rownum, dict(zip(columns, row))

    return Table(columns=columns, rows=rows(), encoding=enc, notes=notes)


def _header_columns(path: Path, header: list[Any], row: int) -> list[str]:
    """Column names from a header row: cleaned, blanks named column_N, repeats numbered
    (name_2, name_3...), in linear time; more columns than the limit is an error."""
    lim = _limits.current().columns
    if len(header) > lim:
        raise errors.too_many_columns(path, len(header), lim, row)
    return _dedupe_columns([clean_text(as_text(h)).strip() for h in header])


def _dedupe_columns(cols: list[str]) -> list[str]:
    taken = set(cols)
    out: list[str] = []
    used: set[str] = set()
    next_k: dict[str, int] = {}
    for i, c in enumerate(cols):
        name = c or f"column_{i + 1}"
        if name in used:
            base, k = name, next_k.get(name, 2)
            while f"{base}_{k}" in used or f"{base}_{k}" in taken:
                k += 1
            name = f"{base}_{k}"
            next_k[base] = k + 1
        used.add(name)
        out.append(name)
    return out


def xlsx_table(path: Path, data: bytes, *, sheet: str | None = None) -> Table:
    """An Excel workbook's sheet as a streamed table (see nlp.ingest.xlsx: only the cells the
    file holds are read, whatever dimension it declares)."""
    kind = "Excel (.xlsx)"
    zip_or_fail(path, data, kind, ".xlsx")
    wb = Workbook(path, data, _limits.current())
    notes: list[str] = []
    names = wb.sheet_names
    if sheet is not None and sheet not in names:
        raise errors.no_sheet(path, sheet, list(names))
    head: list[tuple[int, dict[int, Any]]] = []
    it: Iterator[tuple[int, dict[int, Any]]] = iter(())
    chosen = None
    for name in [sheet] if sheet is not None else names:
        it = wb.rows(name)
        for item in it:
            head.append(item)
            if len(head) >= 12:
                break
        if head:
            chosen = name
            break
    if chosen is None:
        wb.close()
        raise errors.empty_file(path)
    if sheet is None and len(names) > 1:
        notes.append(f"read sheet {chosen!r} of {len(names)} ({', '.join(names)}); "
                     "use --sheet to pick another")
    at, note = find_header(head)
    if note:
        notes.append(note)
    hrow, cells = head[at]
    width = max(cells) + 1
    columns = _header_columns(path, [cells.get(i) for i in range(width)], hrow)
    buffered = head[at + 1:]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for n, row in itertools.chain(buffered, it):
                cells = {columns[i]: (v if isinstance(v, str) else str(v))
                         for i, v in row.items() if i < width}
                if cells:  # a row whose cells all lie right of the header is not a row
                    yield n, cells
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
    columns: dict[str, None] = {}  # the keys seen, in order (a dict: linear, not quadratic)
    lim = _limits.current().columns
    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise errors.bad_json_line(path, i, exc.msg) from None
        except RecursionError:
            raise errors.bad_json_line(path, i, "it is nested too deeply") from None
        except ValueError as exc:  # a number of thousands of digits
            raise errors.bad_json_line(path, i, str(exc)) from None
        if not isinstance(obj, dict):
            raise errors.bad_json_line(path, i, f"found a {type(obj).__name__}")
        columns.update(dict.fromkeys(obj))
        if len(columns) > lim:
            raise errors.too_many_columns(path, len(columns), lim, i, unit="line",
                                          what="the lines so far have keys for")
        parsed.append((i, obj))
    if not parsed:
        raise errors.empty_file(path)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from parsed  # a key a line lacks is an empty cell: left out, never filled in

    return Table(columns=list(columns), rows=rows(), encoding=enc, notes=notes, unit="line")
