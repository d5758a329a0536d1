"""Spreadsheet exports: formula (CSV) injection is neutralised in CSV and Excel files."""
from __future__ import annotations

import csv
import json
import sys
import types

import pytest

from nlp.export import FORMULA_START, export_project, neutralise
from nlp.ingest import import_file
from nlp.project import init_project
from nlp.store.review import Decision, record_decisions

EVIL = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0",
        "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]

CODEBOOK = """name: evil
version: 1
themes:
  - id: t1
    label: "=1+1"
    definition: "@cmd|' /C calc'!A0"
"""


@pytest.mark.parametrize("value", EVIL)
def test_neutralise_prefixes_formula_starts(value):
    assert neutralise(value) == "'" + value
    assert neutralise(value)[0] not in FORMULA_START


@pytest.mark.parametrize("value", ["plain text", "", "a=b", "'=already quoted", 3, -2.5, None])
def test_neutralise_leaves_everything_else(value):
    assert neutralise(value) == value


@pytest.fixture
def project(tmp_path):
    cb = tmp_path / "cb.yaml"
    cb.write_text(CODEBOOK, encoding="utf-8")
    p = init_project(tmp_path / "p", codebook=cb)
    f = tmp_path / "evil.csv"
    rows = ["id,text,respondent_id,org"]
    for i, e in enumerate(EVIL, start=1):
        cell = e.replace('"', '""')
        rows.append(f'r{i},"{cell} and more words",=resp{i},"@org{i}"')
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_file(p.store, f)
    record_decisions(p.store, "r1", [Decision("t1", "accepted")], coder="=alice")
    yield p
    p.close()


def _cells_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [c for row in csv.reader(fh) for c in row]


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_csv_export_has_no_live_formula(project, tmp_path, layout):
    out = export_project(project.store, tmp_path / "x.csv", format="csv", anonymise=False,
                         layout=layout)
    cells = _cells_csv(out)
    assert not [c for c in cells if c[:1] in FORMULA_START]
    texts = [c for c in cells if "and more words" in c]
    assert texts and all(c.startswith("'") for c in texts)
    if layout == "wide":
        assert "'=resp1" in cells
    else:
        assert "'=alice" in cells


def test_xlsx_export_has_no_formula_cells(project, tmp_path):
    from openpyxl import load_workbook

    out = export_project(project.store, tmp_path / "x.xlsx", format="xlsx", anonymise=False)
    wb = load_workbook(out)
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert c.value[:1] not in FORMULA_START
                    seen += c.value.startswith("'")
    assert seen >= len(EVIL) + 2  # answers, respondent ids, the theme label and definition
    cb = wb["codebook"]
    assert [c.value for c in cb[2]][:3] == ["t1", "'=1+1", "'@cmd|' /C calc'!A0"]


def test_jsonl_keeps_the_text_verbatim(project, tmp_path):
    out = export_project(project.store, tmp_path / "x.jsonl", format="jsonl", anonymise=False)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["text"].startswith("=HYPERLINK")  # JSON is data, not a spreadsheet


def test_exports_anonymise_by_default(project, tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("nlp.text.anonymise")
    fake.anonymise_texts = lambda texts, **kw: calls.append(1) or ["[X]" for _ in texts]
    monkeypatch.setitem(sys.modules, "nlp.text.anonymise", fake)
    out = export_project(project.store, tmp_path / "x.csv", format="csv")
    assert calls and not [c for c in _cells_csv(out) if "and more words" in c]
