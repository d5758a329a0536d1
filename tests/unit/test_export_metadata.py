"""Exports carry every metadata column the import kept (CSV, Excel, JSON Lines; wide and long),
anonymised where they hold free text or personal data."""
from __future__ import annotations

import csv
import json
import re

import pytest
import spacy
from filedata import csv_project

from nlp.pipeline import export, export_project
from nlp.export.tables import metadata_columns
from nlp.pipeline import import_file
from nlp.store.decisions import Decision, record_decisions
from nlp.text import anonymise

CODEBOOK = """name: meta
version: 1
themes:
  - id: t1
    label: Funding
    definition: Money.
"""
HEADER = ["id", "text", "age_group", "region", "comment", "Respondent name", "email", "source",
          "score"]
ROWS = [
    ["r1", "Funding was cut.", "18-24", "North", "Kwame from Wrexham rang us about it twice",
     "Kwame Mensah", "k@example.org", "paper form", "3"],
    ["r2", "We lost the grant.", "25-34", "Wales", "Nothing to add here, thank you very much",
     "Priya Sharma", "p@example.org", "online", "5"],
    ["r3", "Payment was late.", "65+", "North", "", "", "", "online", "4"],
]


@pytest.fixture(autouse=True)
def blank_pipeline(monkeypatch):
    monkeypatch.setattr(anonymise, "load_pipeline",
                        lambda name=None, components="all": spacy.blank("en"))
    anonymise._cached.cache_clear()
    yield
    anonymise._cached.cache_clear()


@pytest.fixture
def project(tmp_path):
    p = csv_project(tmp_path, CODEBOOK, HEADER, ROWS)
    record_decisions(p.store, "r1", [Decision("t1", "accepted")], coder="ann")
    yield p
    p.close()


def _read(path, fmt):
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))
    if fmt == "jsonl":
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    import pandas as pd

    return pd.read_excel(path, sheet_name="coded quotes", dtype=str).fillna("").to_dict("records")


def _by_id(rows):
    out = {}
    for r in rows:
        out.setdefault(r["response_id"], r)
    return out


@pytest.mark.parametrize("layout", ["wide", "long"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_metadata_columns_in_every_export(project, tmp_path, fmt, layout):
    raw = _by_id(_read(export(project, tmp_path / f"raw.{fmt}", format=fmt, anonymise=False,
                              layout=layout)[0], fmt))
    anon = _by_id(_read(export(project, tmp_path / f"anon.{fmt}", format=fmt,
                               layout=layout)[0], fmt))
    ids = ["r1"] if layout == "long" else ["r1", "r2", "r3"]  # long: a row per coding
    for rid in ids:
        row = next(r for r in ROWS if r[0] == rid)
        for got in (raw, anon):
            assert str(got[rid]["age_group"]) == row[2]
            assert str(got[rid]["region"]) == row[3]
            assert str(got[rid]["score"]) == row[8]
            # a metadata column named like one of the export's own keeps its value apart
            assert str(got[rid]["meta:source"]) == row[7]
            if layout == "wide":
                assert got[rid]["source"] == "answers.csv"
        assert (raw[rid]["comment"] or "") == row[4]
        assert (raw[rid]["Respondent name"] or "") == row[5]
        assert (raw[rid]["email"] or "") == row[6]
    # anonymised: free text like the answers, personal-data columns whole
    assert re.fullmatch(r"\[PERSON_\d+\] from \[PLACE_\d+\] rang us about it twice",
                        anon["r1"]["comment"])
    assert anon["r1"]["Respondent name"] == "[PERSON]"
    assert anon["r1"]["email"] == "[EMAIL]"
    assert anon["r1"]["response_id"] == "r1"
    if layout == "wide":
        assert anon["r2"]["comment"] == ROWS[1][4]
        assert anon["r3"]["Respondent name"] in ("", None)


def test_metadata_columns_function_leaves_categories_and_numbers():
    from nlp.types import Corpus, Response

    corpus = Corpus(tuple(Response(response_id=f"x{i}", text="t", metadata={
        "region": "North West" if i % 2 else "Wales", "n": i, "note": f"Kwame said {i} things "
        "about the service here"}) for i in range(20)))
    out = metadata_columns(corpus, lambda texts: [t.replace("Kwame", "[PERSON]") for t in texts])
    assert out["x1"]["region"] == "North West" and out["x0"]["region"] == "Wales"
    assert out["x3"]["n"] == 3
    assert out["x3"]["note"] == "[PERSON] said 3 things about the service here"
    assert metadata_columns(corpus)["x3"]["note"].startswith("Kwame")


def test_excel_cells_from_metadata_are_neutralised(project, tmp_path):
    f = tmp_path / "evil.csv"
    f.write_text('id,text,team\ne1,"More money please.","=1+1"\n', encoding="utf-8")
    import_file(project.store, f)
    out = export_project(project.store, tmp_path / "e.csv", format="csv", anonymise=False)
    rows = {r["response_id"]: r for r in _read(out, "csv")}
    assert rows["e1"]["team"] == "'=1+1"
