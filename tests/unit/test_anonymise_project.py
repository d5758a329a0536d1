"""Anonymisation that protects people, not institutions (blank spaCy pipeline: gazetteers,
patterns and rules only): the keep-list and strict mode, one numbering across a project, no
doubled brackets, streets as addresses, and ids and attributions never touched, in exports
and in every report format."""
from __future__ import annotations

import csv
import json

import pytest
import spacy
from filedata import csv_project

from nlp import errors
from nlp.pipeline import export
from nlp.project import open_project
from nlp.pipeline import write_project_report
from nlp.store.decisions import Decision, record_decisions
from nlp.text import anonymise
from nlp.pipeline import NUMBERING_KEY, anonymise_settings, project_anonymiser
from nlp.text.anonymise import KEEP_TERMS, PROGRAMMES, PUBLIC_BODIES, SECTOR_BODIES, Anonymiser

BLANK = spacy.blank("en")


@pytest.fixture(autouse=True)
def blank_pipeline(monkeypatch):
    monkeypatch.setattr(anonymise, "load_pipeline", lambda name=None, components="all": BLANK)
    anonymise._cached.cache_clear()
    yield
    anonymise._cached.cache_clear()


# -- the keep-list -----------------------------------------------------------------------------
def test_keep_list_is_data_with_every_class():
    assert {"Ministry of Justice", "HMPPS", "NPS", "NOMS", "Cabinet Office", "CRC"} \
        <= set(PUBLIC_BODIES)
    assert "Dynamic Framework" in PROGRAMMES and "Clinks" in SECTOR_BODIES
    assert set(PUBLIC_BODIES) | set(PROGRAMMES) | set(SECTOR_BODIES) == set(KEEP_TERMS)


def test_public_bodies_kept_by_default_replaced_in_strict_mode():
    text = "Then the Ministry of Justice and HMPPS told Kwame."
    assert Anonymiser().anonymise(text) == "Then the Ministry of Justice and HMPPS told [PERSON]."
    assert Anonymiser(strict=True).anonymise(text) == \
        "Then the [ORG_1] and [ORG_2] told [PERSON]."


def test_a_projects_own_keep_names_stay_even_in_strict_mode():
    text = "We work with the Lankford Community Trust and Nacro in Wrexham."
    assert Anonymiser(strict=True, allow_terms=["Lankford Community Trust"]).anonymise(text) == \
        "We work with the Lankford Community Trust and [ORG] in [PLACE]."


def test_plural_of_a_kept_name_is_kept():
    assert Anonymiser(allow_terms=["Lankford Trust"]).anonymise(
        "Both Lankford Trusts closed.") == "Both Lankford Trusts closed."


# -- placeholders --------------------------------------------------------------------------------
def test_no_doubled_brackets():
    assert Anonymiser().anonymise("My worker [Kwame] came.") == "My worker [PERSON] came."
    assert Anonymiser(strict=True).anonymise("Probation [HMPPS] staff") == \
        "Probation [ORG] staff"
    assert Anonymiser(strict=True).anonymise("Probation [HMPPS] staff") != \
        "Probation [[ORG]] staff"


def test_placeholders_already_in_the_text_are_left_alone():
    assert Anonymiser().anonymise("[ORG_1] and [PERSON_2] met Kwame.") == \
        "[ORG_1] and [PERSON_2] met [PERSON]."


def test_researchers_pseudonyms_are_not_names():
    assert Anonymiser().anonymise("Organisation H and Participant 12 met Kwame.") == \
        "Organisation H and Participant 12 met [PERSON]."


def test_streets_are_addresses():
    found = [(s.text, s.label) for s in Anonymiser().find(
        "The drop-in on Mill Lane moved to 4 Station Road.")]
    assert found == [("Mill Lane", "ADDRESS"), ("4 Station Road", "ADDRESS")]
    assert Anonymiser().anonymise("The drop-in on Mill Lane closed.") == \
        "The drop-in on [ADDRESS] closed."


def test_one_numbering_across_texts():
    numbering: dict = {}
    a = Anonymiser()
    out = a.anonymise_many(["Kwame rang Wrexham.", "Then Priya met Kwame.",
                            "Ring 07700 900123."], numbering=numbering)
    assert out == ["[PERSON_1] rang [PLACE_1].", "Then [PERSON_2] met [PERSON_1].",
                   "Ring [PHONE]."]
    assert a.anonymise("Priya again, in Wrexham.", numbering=numbering) == \
        "[PERSON_2] again, in [PLACE_1]."
    json.dumps(numbering)  # a project keeps it in its database


# -- a project -----------------------------------------------------------------------------------
CODEBOOK = """name: anon
version: 1
themes:
  - id: t1
    label: Funding
    definition: Money.
"""
# ids and respondents that look like people and organisations: they must never change.
ROWS = [("Kwame", "Then Nacro told Kwame Mensah that the Ministry of Justice had cut the "
                  "grant for Wrexham.", "Sarah Jones"),
        ("Nacro-2", "Kwame Mensah and Nacro were at Mill Lane when the money ran out.",
         "Nacro"),
        ("Ministry of Justice", "The Dynamic Framework and Clinks said Nacro lost funding.",
         "Clinks"),
        ("Mill Lane", "Probation [NPS] told us about the funding. Priya agreed.", "Wrexham")]


@pytest.fixture
def project(tmp_path):
    p = csv_project(tmp_path, CODEBOOK, ["id", "text", "respondent_id"], ROWS)
    p.store.write_model_codings({r[0]: {"t1": 0.9} for r in ROWS}, {"t1": 0.5}, model_id="t")
    record_decisions(p.store, "Kwame", [Decision("t1", "accepted")], coder="ann")
    yield p
    p.close()


def _md_unescape(s: str) -> str:
    return s.replace("\\", "")


def test_same_name_same_placeholder_in_every_quote_and_export(project, tmp_path):
    out = export(project, tmp_path / "x.csv", format="csv")[0]
    with out.open(encoding="utf-8-sig", newline="") as fh:
        texts = {r["response_id"]: r["text"] for r in csv.DictReader(fh)}
    assert texts["Kwame"].startswith("Then Nacro") is False
    nacro = texts["Nacro-2"].split(" were")[0].split(" and ")[1]
    assert nacro.startswith("[ORG_") and texts["Kwame"].startswith(f"Then {nacro} told")
    assert nacro in texts["Ministry of Justice"]  # same organisation, same placeholder
    kwame = texts["Nacro-2"].split(" and ")[0]
    assert kwame.startswith("[PERSON_") and kwame in texts["Kwame"]
    assert "Ministry of Justice" in texts["Kwame"] and "Dynamic Framework" in \
        texts["Ministry of Justice"] and "Clinks" in texts["Ministry of Justice"]
    assert "[ADDRESS_" in texts["Nacro-2"] and "[PERSON" not in texts["Nacro-2"].split("at")[1]
    assert "Probation [NPS]" in texts["Mill Lane"] and "[[" not in "".join(texts.values())
    # the report numbers them the same way
    md = write_project_report(project, tmp_path / "r", formats=("md",))[0]
    body = _md_unescape(md.read_text(encoding="utf-8"))
    quotes = [line for line in body.splitlines() if line.startswith("> “")]
    assert quotes and any(nacro in q for q in quotes)
    assert not any("Nacro" in q or "Kwame" in q for q in quotes)
    numbering = project.store.get_setting(NUMBERING_KEY)
    assert numbering["ORG"]["nacro"] == int(nacro.strip("[]").split("_")[1])


@pytest.mark.parametrize("fmt", ["md", "html", "docx"])
def test_attributions_keep_ids_that_look_like_names(project, tmp_path, fmt):
    for rid in ("Nacro-2", "Ministry of Justice", "Mill Lane"):
        record_decisions(project.store, rid, [Decision("t1", "accepted")], coder="ann")
    path = write_project_report(project, tmp_path / fmt, formats=(fmt,))[0]
    if fmt == "docx":
        from docx import Document

        body = "\n".join(p.text for p in Document(str(path)).paragraphs)
    else:
        import html

        body = html.unescape(path.read_text(encoding="utf-8"))
        body = _md_unescape(body) if fmt == "md" else body
    refs = [line.split("— ", 1)[1] for line in body.splitlines() if "— " in line]
    refs = [r.split("<")[0] for r in refs]
    assert len(refs) == 4
    for rid, _, who in ROWS:
        assert any(r.startswith(f"{rid}, {who}, answers.csv, row ") for r in refs), (rid, refs)
    assert not any("[" in r for r in refs), refs


def test_project_settings_keep_list_strict_and_own_terms(project, tmp_path):
    (project.root / "keep.txt").write_text("# ours\nNacro\n", encoding="utf-8")
    project.config["anonymise"] = {"strict": True, "keep_file": "keep.txt",
                                   "replace": {"Priya": "PERSON"}}
    project.save_config()
    p = open_project(project.root)
    try:
        assert anonymise_settings(p) == {"strict": True, "allow_terms": ["Nacro"],
                                         "extra_terms": {"Priya": "PERSON"}}
        out = project_anonymiser(p)([ROWS[0][1], ROWS[3][1]])
        assert out == ["Then Nacro told [PERSON_1] that the [ORG_1] had cut the grant for "
                       "[PLACE_1].", "Probation [ORG_2] told us about the funding. [PERSON_2] "
                       "agreed."]
        assert project_anonymiser(p, strict=False)(["the Ministry of Justice"]) == \
            ["the Ministry of Justice"]
    finally:
        p.close()


@pytest.mark.parametrize("section,match", [
    ({"strikt": True}, "unknown anonymise"),
    ({"strict": "yes"}, "strict"),
    ({"keep": "Nacro"}, "keep"),
    ({"replace": ["Priya"]}, "replace"),
    ({"keep_file": "missing.txt"}, "cannot read"),
])
def test_bad_project_settings_are_clear_errors(project, section, match):
    project.config["anonymise"] = section
    with pytest.raises(errors.SettingsError, match=match):
        anonymise_settings(project)


def test_strict_mode_from_the_command_line(project, tmp_path):
    from typer.testing import CliRunner

    from nlp.app.cli import app

    def run(*args):
        res = CliRunner().invoke(app, ["--project", str(project.root), *map(str, args)])
        assert res.exit_code == 0, res.output
        return res

    run("export", "--format", "jsonl", "--out", tmp_path / "kept.jsonl")
    run("export", "--format", "jsonl", "--out", tmp_path / "strict.jsonl", "--strict-anonymise")
    kept = {r["response_id"]: r["text"] for r in map(
        json.loads, (tmp_path / "kept.jsonl").read_text(encoding="utf-8").splitlines())}
    strict = {r["response_id"]: r["text"] for r in map(
        json.loads, (tmp_path / "strict.jsonl").read_text(encoding="utf-8").splitlines())}
    assert "Ministry of Justice" in kept["Kwame"] and "Ministry of Justice" not in strict["Kwame"]
    for out, flags in (("r", []), ("rs", ["--strict-anonymise"])):
        run("report", "--out", tmp_path / out, "--format", "md", *flags)
    quotes = {out: [line for line in (tmp_path / out / "report.md").read_text(encoding="utf-8")
                    .splitlines() if line.startswith("> “")] for out in ("r", "rs")}
    assert any("Ministry of Justice" in q for q in quotes["r"])
    assert quotes["rs"] and not any("Ministry of Justice" in q for q in quotes["rs"])


def test_a_deferred_anonymiser_stores_its_numbering_only_when_saved(project):
    """Exports store new placeholder numbers once their file is written: a failed export
    leaves the project unchanged, and calls within one export share one numbering."""
    from nlp.pipeline import project_anonymiser

    assert project.store.get_setting(NUMBERING_KEY, None) is None
    anon = project_anonymiser(project, defer=True)
    first = anon(["Kwame Mensah rang Nacro."])[0]
    second = anon(["Nacro and Kwame Mensah met Priya Shah."])[0]
    person = first.split(" rang")[0]
    assert person.startswith("[PERSON_") and person in second  # one numbering in the export
    assert project.store.get_setting(NUMBERING_KEY, None) is None  # nothing stored yet
    anon.save()
    saved = project.store.get_setting(NUMBERING_KEY)
    assert saved["PERSON"]["kwame mensah"] == int(person.strip("[]").split("_")[1])
    # an immediate anonymiser reads what was saved: the same name, the same number
    assert project_anonymiser(project)(["Kwame Mensah again."])[0].startswith(person)
