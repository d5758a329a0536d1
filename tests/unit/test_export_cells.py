"""Spreadsheet cells (issue 25, class 6): one function makes values and headers clean and inert,
and a value longer than an Excel cell is split into pieces that join back to it exactly."""
from __future__ import annotations

import random

import pandas as pd
import pytest

from nlp.export.cells import (EXCEL_CELL_LIMIT, FORMULA_START, PIECE_LIMIT, cell, fit_excel,
                              split_value)


def units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3",
                                   "@SUM(A1)", "\t=1+1", "\r=1+1", " =1+1", "  @x", "\n=1+1",
                                   "\x01=1+1", "\x1b=1+1", "\x00+1", "\u2028=1", "\x85-1"])
def test_cell_is_clean_and_inert(value):
    out = cell(value)
    assert out.startswith("'"), out
    assert not any(ch in out for ch in "\x00\x01\x1b\x85\r"), repr(out)


@pytest.mark.parametrize("value", ["plain", "a=b", "'=quoted", "", 3, 2.5, None, True])
def test_cell_leaves_the_rest(value):
    assert cell(value) == value


def _texts():
    rnd = random.Random(3)
    words = ["tender", "=cost", "+fee", "-delay", "@team", "😀", "naïve", "\t", "\n", " ",
             "مرحبا", "x" * 40]
    yield "".join(rnd.choice(words) for _ in range(30_000))
    yield "a" * 100_000  # no word breaks at all
    yield "😀" * 20_000  # 20,000 characters, 40,000 UTF-16 units
    yield ("word " * 7_000) + "=" * 30_000 + " end"  # a run of formula characters
    yield "=" * 70_000  # nothing but: a piece must start with "=" (and gets its "'")
    yield "short"


@pytest.mark.parametrize("text", list(_texts()), ids=["mixed", "nobreak", "emoji", "equals",
                                                       "only-equals", "short"])
def test_split_value_joins_back_and_fits(text):
    pieces = split_value(text)
    assert "".join(pieces) == text
    assert all(units(p) <= PIECE_LIMIT for p in pieces)
    if set(text) != {"="}:
        for p in pieces[1:]:
            assert p[0] not in FORMULA_START and not p[0].isspace()
    assert all(units(cell(p)) <= EXCEL_CELL_LIMIT for p in pieces)


def test_fit_excel_adds_continuation_columns_after_their_own():
    long = "This answer goes on. " * 3_000  # 63,000 characters
    df = pd.DataFrame([{"id": "a", "text": long, "n": 1}, {"id": "b", "text": "short", "n": 2}])
    out, notes = fit_excel(df, "coded quotes")
    assert list(out.columns) == ["id", "text", "text (cont. 2)", "n"]
    first = out.iloc[0]
    assert first["text"] + first["text (cont. 2)"] == long
    assert pd.isna(out.iloc[1]["text (cont. 2)"]) and out.iloc[1]["text"] == "short"
    assert len(notes) == 1 and "'text (cont. 2)'" in notes[0] and "nothing was cut" in notes[0]
    same, none = fit_excel(df.iloc[[1]], "x")
    assert none == [] and list(same.columns) == ["id", "text", "n"]
