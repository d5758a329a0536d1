"""Export stage: what goes into a spreadsheet cell (CSV and Excel): inert, clean, whole.

Every cell that comes from a project (answers, names, metadata, theme labels, and the column
headers too: a metadata column may be named `=HYPERLINK(...)`) goes through `cell`; an Excel
sheet goes through `fit_excel`, which continues a value longer than a cell holds in the next
columns instead of letting it be cut.
"""
from __future__ import annotations

from typing import Any

from ..text.clean import clean_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32_767  # characters (UTF-16 units) an Excel cell holds; openpyxl cuts there
PIECE_LIMIT = 32_000  # a piece of a longer value: room for the neutralising "'"
_SEARCH_BACK = 2_000  # how far back a piece's end may move to end between two words


def neutralise(value: Any) -> Any:
    """Make a spreadsheet cell inert: text starting with = + - @ tab or CR (or with = + - @
    after leading spaces, which some programs trim) gets a leading '.

    Spreadsheet programs run such cells as formulas (CSV/formula injection).
    """
    if isinstance(value, str) and (value.startswith(FORMULA_START)
                                   or value.lstrip().startswith(FORMULA_START[:4])):
        return "'" + value
    return value


def cell(value: Any) -> Any:
    """A value or a header as it goes into a CSV or Excel cell: text cleaned as import cleans
    it (a control character from an older project would make openpyxl refuse the whole
    file), then neutralised (`neutralise`). Cleaning comes first, so "\\x01=1+1" cannot turn
    into a live "=1+1". Anything but text is returned as it is."""
    return neutralise(clean_text(value)) if isinstance(value, str) else value


def _units(text: str) -> int:
    """Length as Excel counts it (UTF-16 code units: an emoji is two)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """The most characters of `text` whose UTF-16 length is at most `limit`."""
    cut = min(len(text), limit)
    while _units(text[:cut]) > limit:
        cut -= max(1, (_units(text[:cut]) - limit) // 2)
    return cut


def _starts_clean(text: str, at: int) -> bool:
    """A piece starting at `at` is not changed by `neutralise` and starts a word."""
    ch = text[at]
    return not ch.isspace() and ch not in FORMULA_START


def split_value(text: str, limit: int = PIECE_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 units that join back to it exactly; each
    piece ends between two words where one is near the limit, and no piece after the first
    starts with a space or a formula character (so `neutralise` leaves it as it is) unless
    the text is nothing else for a whole piece (32,000 "=" in a row)."""
    pieces: list[str] = []
    while _units(text) > limit:
        cut = _fit(text, limit)
        near = range(cut, max(cut - _SEARCH_BACK, 1), -1)
        at = next((j for j in near if text[j - 1].isspace() and _starts_clean(text, j)), None) \
            or next((j for j in range(cut, 0, -1) if _starts_clean(text, j)), cut)
        pieces.append(text[:at])
        text = text[at:]
    pieces.append(text)
    return pieces


def continuation(column: str, n: int) -> str:
    """The header of the n-th piece (n >= 2) of a column's long values."""
    return f"{column} (cont. {n})"


def fit_excel(df, sheet: str) -> tuple[Any, list[str]]:
    """`df` (cells already passed through `cell`) with every text longer than an Excel cell
    holds split across continuation columns placed right after its own ("text (cont. 2)",
    "text (cont. 3)"...), blank on the rows that need none; joined in order they give the
    value back whole. Returns the frame and one line per split column for the README sheet.
    """
    import pandas as pd

    notes: list[str] = []
    copied = False
    for col in list(df.columns):
        values = df[col]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        try:  # characters per cell in C; only cells over half the limit are looked at again
            over = (values.str.len() > PIECE_LIMIT // 2).to_numpy(dtype=bool, na_value=False)
        except AttributeError:  # no text in the column at all
            continue
        long = [int(i) for i in over.nonzero()[0] if _units(values.iloc[int(i)]) > PIECE_LIMIT]
        if not long:
            continue
        if not copied:
            df, copied = df.copy(), True
        split = {i: split_value(values.iloc[i]) for i in long}
        most = max(len(p) for p in split.values())
        first = list(values)
        for i, parts in split.items():
            first[i] = parts[0]
        df[col] = pd.Series(first, index=df.index, dtype=object)
        at = list(df.columns).index(col)
        names = []
        for n in range(2, most + 1):
            name = continuation(str(col), n)
            while name in df.columns:  # a metadata column already has that name
                name += "'"
            names.append(name)
            df.insert(at + n - 1, name,
                      [split[i][n - 1] if i in split and len(split[i]) >= n else None
                       for i in range(len(df))])
        notes.append(f"sheet '{sheet}', column '{col}': {len(long)} value(s) longer than the "
                     f"{EXCEL_CELL_LIMIT:,} characters an Excel cell holds continue in "
                     f"{', '.join(repr(n) for n in names)}"
                     "; join the cells in order for the whole text (nothing was cut)")
    return df, notes
