"""Anonymise once (issue 28): each answer's spans are stored per settings fingerprint and
reused; outputs from stored results are byte-identical to a fresh, uncached run; a second export
runs no spaCy pass; a change of settings or rules invalidates what was stored; a new answer is
anonymised alone and the numbering of the others does not move. Blank spaCy pipeline
(gazetteers, patterns and rules), as in test_anonymise_project."""
from __future__ import annotations

import csv
import json
from typing import Any

import pytest
import spacy
from filedata import csv_project

from nlp.pipeline import export, export_project, import_file, project_anonymiser
from nlp.pipeline import write_project_report
from nlp.pipeline.report import write_report
from nlp.project import open_project
from nlp.store.anonymised import count_anonymised, stored_anonymised
from nlp.store.decisions import Decision, record_decisions
from nlp.text import anonymise
from nlp.text.anon_shared import SharedAnonymiser
from nlp.text.anonymise import PIPE_STATS, Anonymiser, settings_fingerprint

BLANK = spacy.blank("en")


@pytest.fixture(autouse=True)
def blank_pipeline(monkeypatch):
    monkeypatch.setattr(anonymise, "load_pipeline", lambda name=None, components="all": BLANK)
    anonymise._cached.cache_clear()
    yield
    anonymise._cached.cache_clear()


CODEBOOK = """name: anon
version: 1
themes:
  - id: t1
    label: Funding
    definition: Money.
"""
ROWS = [("r1", "Then Nacro told Kwame Mensah that the Ministry of Justice had cut the grant for "
               "Wrexham.", "p1"),
        ("r2", "Kwame Mensah and Nacro were at Mill Lane when the money ran out.", "p2"),
        ("r3", "The Dynamic Framework and Clinks said Nacro lost funding. Ring 07700 900123.",
         "p3"),
        ("r4", "Probation [NPS] told us about the funding. Priya agreed.", "p4")]
NEW = ("r5", "Priya Shah met Kwame Mensah and Barnardo's in Swansea.", "p5")


def _project(tmp_path, name: str, rows=ROWS):
    (tmp_path / name).mkdir()
    p = csv_project(tmp_path / name, CODEBOOK, ["id", "text", "respondent_id"], list(rows))
    p.store.write_model_codings({r[0]: {"t1": 0.9} for r in rows}, {"t1": 0.5}, model_id="t")
    record_decisions(p.store, "r1", [Decision("t1", "accepted")], coder="ann")
    return p


def _fresh(project, out, *, format="csv", layout="wide", strict=None):
    """The same export with an uncached anonymiser (spaCy over every text)."""
    anon = project_anonymiser(project, strict=strict, defer=True, stored=False)
    path = export_project(project, out, format=format, layout=layout, anonymiser=anon)
    anon.save()
    return path


def _texts(path) -> dict[str, str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {r["response_id"]: r["text"] for r in csv.DictReader(fh)}


@pytest.fixture
def pair(tmp_path):
    a, b = _project(tmp_path, "a"), _project(tmp_path, "b")
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("format,layout", [("csv", "wide"), ("jsonl", "long"), ("xlsx", "wide")])
def test_stored_export_is_byte_identical_to_a_fresh_uncached_run(pair, tmp_path, format, layout):
    a, b = pair
    first = export(a, tmp_path / f"1.{format}", format=format, layout=layout)[0]
    second = export(a, tmp_path / f"2.{format}", format=format, layout=layout)[0]
    fresh = _fresh(b, tmp_path / f"f.{format}", format=format, layout=layout)
    if format == "xlsx":  # a zip with times inside: compare the cells
        from openpyxl import load_workbook

        def cells(path):
            return [[c.value for c in row] for ws in load_workbook(path).worksheets
                    for row in ws.iter_rows()]
        assert cells(first) == cells(second) == cells(fresh)
    elif format == "jsonl":  # each project's codings have their own times: compare the rest
        def rows(path):
            return [{k: v for k, v in json.loads(line).items() if k != "updated_at"}
                    for line in path.read_text("utf-8").splitlines()]
        assert first.read_bytes() == second.read_bytes()
        assert rows(first) == rows(fresh) and any("[PERSON_" in str(r) for r in rows(fresh))
    else:
        assert first.read_bytes() == second.read_bytes() == fresh.read_bytes()
    assert a.store.placeholder_numbering() == b.store.placeholder_numbering()
    assert count_anonymised(a.store) == len(ROWS) and count_anonymised(b.store) == 0


def test_stored_report_is_identical_to_a_fresh_uncached_run(pair, tmp_path):
    a, b = pair
    for rid, *_ in ROWS:
        for p in (a, b):
            record_decisions(p.store, rid, [Decision("t1", "accepted")], coder="ann")
    export(a, tmp_path / "a.csv", format="csv")  # fills the store
    _fresh(b, tmp_path / "b.csv")
    before = dict(PIPE_STATS)
    ours = write_project_report(a, tmp_path / "ra", formats=("md",))[0].read_text("utf-8")
    answers_run = PIPE_STATS["texts"] - before["texts"]
    theirs = write_report(b, tmp_path / "rb", formats=("md",),
                          anonymiser=project_anonymiser(b, stored=False))[0]
    assert ours == theirs.read_text("utf-8") and "PERSON\\_" in ours
    assert answers_run == 0  # every quote came from the stored answers


def test_a_second_export_runs_no_spacy_pass(pair, tmp_path):
    a, _ = pair
    before = dict(PIPE_STATS)
    export(a, tmp_path / "1.csv", format="csv")
    assert PIPE_STATS["passes"] > before["passes"]
    assert PIPE_STATS["texts"] - before["texts"] >= len(ROWS)
    again = dict(PIPE_STATS)
    export(a, tmp_path / "2.csv", format="csv")
    export(a, tmp_path / "3.jsonl", format="jsonl")
    assert PIPE_STATS == again
    # a fresh process (a new anonymiser over the same database) reads them too
    p = open_project(a.root)
    try:
        export(p, tmp_path / "4.csv", format="csv")
    finally:
        p.close()
    assert PIPE_STATS == again


def test_a_change_of_settings_or_rules_invalidates_what_was_stored(pair, tmp_path, monkeypatch):
    a, _ = pair
    kept = _texts(export(a, tmp_path / "1.csv", format="csv")[0])
    old = project_anonymiser(a).fingerprint
    assert count_anonymised(a.store, old) == len(ROWS)
    # strict mode (the command line's --strict-anonymise): another fingerprint, all recomputed
    before = PIPE_STATS["texts"]
    strict = _texts(export(a, tmp_path / "2.csv", format="csv", strict=True)[0])
    assert PIPE_STATS["texts"] - before >= len(ROWS)
    assert "Ministry of Justice" in kept["r1"] and "Ministry of Justice" not in strict["r1"]
    assert count_anonymised(a.store, old) == 0  # the old rows are dropped
    assert count_anonymised(a.store) == len(ROWS)
    # the project's keep list
    a.config["anonymise"] = {"keep": ["Nacro"]}
    a.save_config()
    p = open_project(a.root)
    try:
        assert project_anonymiser(p).fingerprint not in (old, project_anonymiser(
            p, strict=True).fingerprint)
        before = PIPE_STATS["texts"]
        texts = _texts(export(p, tmp_path / "3.csv", format="csv")[0])
        assert PIPE_STATS["texts"] - before >= len(ROWS)
        assert "Nacro" in texts["r2"] and "Nacro" not in kept["r2"]
        assert texts == _texts(_fresh(p, tmp_path / "3f.csv"))
    finally:
        p.close()
    # the rules: a new RULES_VERSION (or rule source or data) is a new fingerprint
    options: dict[str, Any] = {"allow_terms": ["Nacro"]}
    was = settings_fingerprint(**options)
    monkeypatch.setattr(anonymise, "RULES_VERSION", anonymise.RULES_VERSION + 1)
    anonymise._rules_digest.cache_clear()
    try:
        assert settings_fingerprint(**options) != was
    finally:
        monkeypatch.undo()
        anonymise._rules_digest.cache_clear()
    assert settings_fingerprint(**options) == was


def test_a_new_answer_is_anonymised_alone_and_numbering_does_not_move(pair, tmp_path):
    a, _ = pair
    first = _texts(export(a, tmp_path / "1.csv", format="csv")[0])
    numbering = a.store.placeholder_numbering()
    f = tmp_path / "more.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["id", "text", "respondent_id"], list(NEW)])
    import_file(a.store, f)
    before = dict(PIPE_STATS)
    second = _texts(export(a, tmp_path / "2.csv", format="csv")[0])
    assert PIPE_STATS["texts"] - before["texts"] == 1  # the new answer, alone
    assert {k: v for k, v in second.items() if k != NEW[0]} == first
    kept = a.store.placeholder_numbering()
    for label, table in numbering.items():  # old names keep their numbers, new ones follow
        assert {k: kept[label][k] for k in table} == table
    assert second[NEW[0]].startswith("[PERSON_") and "Kwame" not in second[NEW[0]]
    assert count_anonymised(a.store) == len(ROWS) + 1
    # the same as an uncached run over the same project (same numbering)
    assert second == _texts(_fresh(a, tmp_path / "2f.csv"))


class _Numbering:
    def __init__(self) -> None:
        self.table: dict[str, dict[str, int]] = {}

    def placeholder_numbering(self):
        return {k: dict(v) for k, v in self.table.items()}

    def save_placeholder_numbering(self, numbering):
        for label, t in numbering.items():
            for k, n in t.items():
                self.table.setdefault(label, {}).setdefault(k, n)
        return self.placeholder_numbering()


class _Spans:
    """A SpanStore in memory (what the project's database does, without one)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Any] = {}
        self.kept = 0

    def stored_spans(self, fingerprint, hashes):
        return {h: self.rows[(fingerprint, h)] for h in hashes if (fingerprint, h) in self.rows}

    def keep_spans(self, fingerprint, found):
        from nlp.types import text_hash

        for text, _, spans in found:
            self.rows[(fingerprint, text_hash(text))] = spans
            self.kept += 1


def test_placeholders_follow_the_order_asked_not_the_order_stored():
    """Stored spans carry the placeholders of their first run; the output numbers them afresh
    in the order asked, as an uncached run with the same numbering would."""
    spans = _Spans()
    SharedAnonymiser(numbering=_Numbering(), spans=spans)(["Kwame rang Wrexham."])
    texts = ["Then Priya met Kwame.", "Kwame rang Wrexham.", "Priya and Kwame in Wrexham."]
    before = PIPE_STATS["texts"]
    ours = SharedAnonymiser(numbering=_Numbering(), spans=spans)(texts)
    assert PIPE_STATS["texts"] - before == 2  # the stored text is not run again
    assert ours == Anonymiser().anonymise_many(texts, numbering={})
    assert ours[0] == "Then [PERSON_1] met [PERSON_2]."
    assert spans.kept == 3


def test_answers_are_stored_by_id_and_other_texts_by_hash(pair):
    a, _ = pair
    anon = project_anonymiser(a)
    anon([ROWS[0][1]])
    assert len(stored_anonymised(a.store, anon.fingerprint)) == 1
    assert count_anonymised(a.store) == 1
    other = "Not an answer: Priya Shah of Barnardo's."  # a memo, a metadata value...
    first = anon([other])
    assert count_anonymised(a.store) == 1 and len(stored_anonymised(a.store, anon.fingerprint)) == 2
    before = dict(PIPE_STATS)
    assert project_anonymiser(a)([other, ROWS[0][1]])[0] == first[0]
    assert PIPE_STATS == before


@pytest.mark.parametrize("raw,expected", [(None, 1), ("", 1), ("2", 2), ("0", 1), ("many", 1)])
def test_spacy_processes_come_from_the_environment(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv(anonymise.ENV_PROCESSES, raising=False)
    else:
        monkeypatch.setenv(anonymise.ENV_PROCESSES, raw)
    assert anonymise.process_count() == expected


def test_a_deferred_anonymiser_stores_its_spans_only_when_saved(pair):
    """As with the numbering: an export stores what it found once its file is written, so a
    failed export leaves the project unchanged; within the export, nothing is run twice."""
    a, _ = pair
    anon = project_anonymiser(a, defer=True)
    first = anon([r[1] for r in ROWS])
    before = dict(PIPE_STATS)
    assert anon([ROWS[0][1]]) == first[:1] and PIPE_STATS == before
    assert count_anonymised(a.store) == 0
    anon.save()
    assert count_anonymised(a.store) == len(ROWS)
