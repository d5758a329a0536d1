"""Stages take data and give data (issue 26): the export, REFI-QDA, report and anonymiser stages
run on in-memory answers, codings and codebooks, with no project and no database."""
from __future__ import annotations

import sys
import types
import zipfile
from datetime import datetime, timedelta, timezone

from nlp.codebook import loads_codebook
from nlp.export import long_rows, wide_rows, write_rows
from nlp.refiqda import qdpx_xml, write_qdpx
from nlp.report import render_report, report_data
from nlp.text.anon_shared import SharedAnonymiser, anonymise_options
from nlp.types import Coding, Corpus, Memo, Response

CODEBOOK = loads_codebook("""
name: tiny
version: 1
themes:
  - id: pay
    label: Late payment
    definition: Payments arrive late.
  - id: trust
    label: Trust
    definition: Trust between partners.
""")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CORPUS = Corpus((Response("r1", "Payment was late again for Anna.", source="a.csv", location=2,
                          metadata={"region": "north"}),
                 Response("r2", "We trust the prime.", source="a.csv", location=3,
                          metadata={"region": "south"}),
                 Response("r3", "", source="a.csv", location=4, flag="empty")))
CODINGS = [Coding("r1", "pay", "model", "model", "suggested", confidence=0.9, created_at=T0),
           Coding("r1", "pay", "ana", "model", "accepted", created_at=T0 + timedelta(1),
                  span=(0, 16), spans=((0, 16),)),
           Coding("r2", "trust", "ana", "researcher", "accepted", created_at=T0),
           Coding("r2", "trust", "ben", "researcher", "rejected", created_at=T0 + timedelta(1))]


def upper(texts):
    return [t.upper() for t in texts]


def test_rows_from_data_with_the_anonymiser_passed_in():
    rows, themes = wide_rows(CODEBOOK, CORPUS, CODINGS, anonymiser=upper)
    assert themes == ["pay", "trust"]
    by_id = {r["response_id"]: r for r in rows}
    assert by_id["r1"]["text"] == "PAYMENT WAS LATE AGAIN FOR ANNA."
    assert by_id["r1"]["theme:pay"] == "accepted" and by_id["r1"]["score:pay"] == 0.9
    # ben decided last: his rejection stands, and the disagreement is named
    assert by_id["r2"]["theme:trust"] == "rejected" and by_id["r2"]["disagreement"] == "trust"
    assert by_id["r2"]["region"] == "south"  # a category is not anonymised
    plain, _ = wide_rows(CODEBOOK, CORPUS, CODINGS)
    assert {r["response_id"]: r["text"] for r in plain}["r1"] == "Payment was late again for Anna."
    long = long_rows(CORPUS, CODINGS, anonymiser=upper)
    ana = next(r for r in long if r["coder"] == "ana" and r["theme_id"] == "pay")
    assert (ana["span"], ana["span_start"], ana["span_end"]) == ("PAYMENT WAS LATE", 0, 16)
    assert ana["stands"] and not next(r for r in long if r["coder"] == "model")["stands"]


def test_rows_written_as_csv_and_jsonl(tmp_path):
    rows, _ = wide_rows(CODEBOOK, CORPUS, CODINGS)
    csv = write_rows(rows, tmp_path / "x.csv", format="csv")
    assert csv.read_text(encoding="utf-8-sig").splitlines()[0].startswith("response_id,text")
    jsonl = write_rows(rows, tmp_path / "x.jsonl", format="jsonl")
    assert len(jsonl.read_text(encoding="utf-8").splitlines()) == len(CORPUS)


def test_qdpx_from_data(tmp_path):
    memo = Memo(1, "theme", "pay", "ana", T0, "Anna again")
    xml, files = qdpx_xml(CODEBOOK, CORPUS, CODINGS, [memo], source_hashes=["h1"],
                          anonymiser=upper, suggestions="all")
    text = xml.decode("utf-8")
    assert "Texts are anonymised." in text and "ANNA AGAIN" in text
    assert sorted(f.decode() for f in files.values())[-1] == "WE TRUST THE PRIME."
    out = write_qdpx(tmp_path / "p.qdpx", xml, files)
    with zipfile.ZipFile(out) as zf:
        assert "project.qde" in zf.namelist() and len(zf.namelist()) == 1 + len(files)
    raw, _ = qdpx_xml(CODEBOOK, CORPUS, CODINGS)
    assert "Texts are NOT anonymised." in raw.decode("utf-8")


def test_report_from_data(tmp_path):
    data = report_data(CODEBOOK, CORPUS, CODINGS, {"r1": {"pay": 0.9, "trust": 0.1}},
                       checks=[("r1", ["pay"], ["pay"])], anonymiser=upper)
    assert data.anonymised and data.n_answers == 2 and data.n_responses == 3
    pay = next(f for f in data.findings if f.theme.theme_id == "pay")
    assert pay.accepted == 1 and pay.quotes[0].text == "PAYMENT WAS LATE AGAIN FOR ANNA."
    assert data.coders == ("ana", "ben") and data.audit
    md = render_report(data, tmp_path, ["md"])[0]
    assert "PAYMENT WAS LATE AGAIN FOR ANNA." in md.read_text(encoding="utf-8")


class DictNumbering:
    """A numbering kept in a dict (the store keeps a project's)."""

    def __init__(self):
        self.saved: dict[str, dict[str, int]] = {}

    def placeholder_numbering(self):
        return {k: dict(v) for k, v in self.saved.items()}

    def save_placeholder_numbering(self, numbering):
        for label, table in numbering.items():
            for key, n in table.items():
                self.saved.setdefault(label, {}).setdefault(key, n)
        return self.placeholder_numbering()


def test_shared_anonymiser_keeps_its_numbering_where_it_is_told(monkeypatch):
    seen = []

    def fake(texts, *, numbering, **options):
        seen.append(options)
        table = numbering.setdefault("PERSON", {})
        return [t.replace("Anna", f"[PERSON_{table.setdefault('anna', len(table) + 1)}]")
                for t in texts]

    fake_module = types.ModuleType("nlp.text.anonymise")  # spaCy stays unloaded
    fake_module.anonymise_texts = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nlp.text.anonymise", fake_module)
    store = DictNumbering()
    deferred = SharedAnonymiser(anonymise_options({"keep": ["Nacro"]}), numbering=store,
                                strict=True, defer=True)
    assert deferred(["Anna rang."]) == ["[PERSON_1] rang."]
    assert store.saved == {}  # deferred: nothing kept until save()
    deferred.save()
    assert store.saved == {"PERSON": {"anna": 1}}
    assert seen == [{"allow_terms": ["Nacro"], "strict": True}]
    assert SharedAnonymiser(numbering=None)(["Anna"]) == ["[PERSON_1]"]  # numbered afresh
