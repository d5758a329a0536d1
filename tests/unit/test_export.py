"""Spreadsheet exports: formula (CSV) injection is neutralised in CSV and Excel files."""
from __future__ import annotations

import csv
import json
import sys
import types

import pytest

from nlp.export import FORMULA_START, neutralise
from nlp.pipeline import export_project
from nlp.pipeline import import_file
from nlp.project import init_project
from nlp.store.decisions import Decision, record_decisions

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


@pytest.fixture
def two_coders(tmp_path):
    p = init_project(tmp_path / "p2")
    f = tmp_path / "a.csv"
    f.write_text("id,text\nr1,Late payment hurts. Ana Smith said the prime never called.\n"
                 "r2,Fine overall\n", encoding="utf-8")
    import_file(p.store, f)
    t = p.store.active_codebook().theme_ids
    p.store.write_model_codings({"r1": {t[0]: 0.8}, "r2": {t[1]: 0.7}}, {}, model_id="m")
    record_decisions(p.store, "r1", [Decision(t[0], "accepted", spans=[(0, 19)])],
                     coder="ana")
    record_decisions(p.store, "r1", [Decision(t[0], "rejected")], coder="ben")
    yield p, t
    p.close()


def test_wide_rows_keep_coders_apart_and_state_the_rule(two_coders):
    from nlp.pipeline import coded_rows
    from nlp.resolve import RESOLUTION_NAME, RESOLUTION_RULE

    p, t = two_coders
    rows, _ = coded_rows(p.store, anonymise=False)
    r1, r2 = rows
    assert r1[f"theme:{t[0]}"] == "rejected"  # ben decided last
    assert r1[f"coders:{t[0]}"] == "ana=accepted; ben=rejected"
    assert r1["disagreement"] == t[0] and r2["disagreement"] == ""
    assert r2[f"theme:{t[1]}"] == "suggested" and r2[f"coders:{t[1]}"] == ""
    assert r1["resolution"] == RESOLUTION_NAME and "latest decision wins" in RESOLUTION_RULE


def test_csv_and_jsonl_rows_name_the_rule_without_repeating_its_sentence(two_coders, tmp_path):
    """The rule's sentence is written once (the README sheet), not on every row; the
    `resolution` column stays where it was (scripts read columns by name and order)."""
    import csv

    from nlp.pipeline import export_project
    from nlp.resolve import RESOLUTION_NAME, RESOLUTION_RULE

    p, _ = two_coders
    for layout, before in (("wide", "disagreement"), ("long", "stands")):
        out = export_project(p.store, tmp_path / f"{layout}.csv", format="csv",
                             anonymise=False, layout=layout)
        raw = out.read_text(encoding="utf-8-sig")
        assert RESOLUTION_RULE not in raw
        with open(out, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = list(reader.fieldnames or [])
            assert {r["resolution"] for r in reader} == {RESOLUTION_NAME}
        assert cols.index("resolution") == cols.index(before) + 1
        js = export_project(p.store, tmp_path / f"{layout}.jsonl", format="jsonl",
                            anonymise=False, layout=layout)
        assert RESOLUTION_RULE not in js.read_text(encoding="utf-8")


def test_long_rows_carry_spans_through_anonymisation(two_coders):
    from nlp.pipeline import coding_rows

    p, t = two_coders
    plain = {(r["response_id"], r["coder"]): r for r in coding_rows(p.store, anonymise=False)}
    ana = plain[("r1", "ana")]
    assert (ana["span"], ana["span_start"], ana["span_end"], ana["spans"]) == (
        "Late payment hurts.", 0, 19, "0-19")
    assert ana["disagreement"] and not ana["stands"] and plain[("r1", "ben")]["stands"]
    assert plain[("r1", "ben")]["span"] == "" and plain[("r1", "ben")]["span_start"] is None
    # an anonymiser that changes lengths: the span still covers the same words
    anon = {(r["response_id"], r["coder"]): r for r in coding_rows(
        p.store, anonymiser=lambda xs: [x.replace("Late", "[LATENESS]") for x in xs])}
    a = anon[("r1", "ana")]
    assert a["span"] == "[LATENESS] payment hurts." == a["text"][a["span_start"]:a["span_end"]]


def test_long_csv_writes_offsets_as_whole_numbers(two_coders, tmp_path):
    import csv

    from nlp.pipeline import export_project

    p, _ = two_coders
    out = export_project(p.store, tmp_path / "long.csv", format="csv", anonymise=False,
                         layout="long")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {(r["response_id"], r["coder"]): r for r in csv.DictReader(fh)}
    assert (rows[("r1", "ana")]["span_start"], rows[("r1", "ana")]["span_end"]) == ("0", "19")
    assert rows[("r1", "ben")]["span_start"] == ""


def test_xlsx_has_readme_and_notes_sheets(two_coders, tmp_path):
    from openpyxl import load_workbook

    from nlp.store.memos import add_memo
    from nlp.resolve import RESOLUTION_RULE

    p, t = two_coders
    add_memo(p.store, "answer", "r1", "=ask Ben why", author="ana")
    add_memo(p.store, "project", None, "pilot round", author="ben")
    for layout in ("wide", "long"):
        out = export_project(p.store, tmp_path / f"{layout}.xlsx", format="xlsx",
                             anonymise=False, layout=layout)
        wb = load_workbook(out)
        assert {"README", "notes"} <= set(wb.sheetnames)
        readme = [c.value for row in wb["README"].iter_rows() for c in row]
        assert RESOLUTION_RULE in readme
        notes = [[c.value for c in row] for row in wb["notes"].iter_rows()]
        assert notes[0] == ["on", "target", "author", "written", "text"]
        assert [(n[0], n[1], n[2], n[4]) for n in notes[1:]] == [
            ("answer", "r1", "ana", "'=ask Ben why"), ("project", None, "ben", "pilot round")]
