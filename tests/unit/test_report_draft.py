"""The findings draft as a colleague reads it: its title, respondents' words only, one quote
per answer, no markup in quotes, labels as the codebook writes them, plain quote styling."""
from __future__ import annotations

import json
import re

import pytest

from nlp.pipeline import import_file, write_report
from nlp.project import init_project
from nlp.store.decisions import Decision, record_decisions

QUESTION = ("Thinking about the last three years, what has made it harder or easier for your "
            "organisation to bid for public contracts, and what would you change?")
CODEBOOK = f"""name: cb-2024-07
version: 1
question: {QUESTION}
themes:
  - id: regulation
    label: Industry Regulation Criticism
    definition: Rules that weigh on providers.
  - id: payment
    label: Late payment
    definition: Invoices paid late.
"""
ROWS = [  # id, text, kind
    ("q1", "The rules are limited<sup>12</sup> and the paperwork keeps growing every year.",
     "quote"),
    ("q2", "We were paid four months late and the regulator's forms doubled our costs.",
     "quote"),
    ("q3", "Regulation is written for big firms, never for a small charity like ours.", "quote"),
    ("p1", "Participants broadly criticised the regulatory framework as burdensome.",
     "report_prose"),
    ("p2", "The report's authors note that payment delays were widely reported.",
     "report_prose"),
]


def _anon(texts):
    return list(texts)


@pytest.fixture
def project(tmp_path):
    cb = tmp_path / "cb.yaml"
    cb.write_text(CODEBOOK, encoding="utf-8")
    p = init_project(tmp_path / "Bidding review", codebook=cb)
    f = tmp_path / "units.csv"
    f.write_text("id,text,kind\n" + "".join(
        ",".join(json.dumps(c) for c in r) + "\n" for r in ROWS), encoding="utf-8")
    import_file(p.store, f)
    for rid in ("q1", "q2", "q3", "p1"):
        record_decisions(p.store, rid, [Decision("regulation", "accepted")], coder="ana")
    for rid in ("q2", "p2"):
        record_decisions(p.store, rid, [Decision("payment", "accepted")], coder="ana")
    yield p
    p.close()


@pytest.fixture
def rendered(project, tmp_path):
    paths = write_report(project, tmp_path / "out", formats=("md", "html", "docx"),
                         anonymiser=_anon)
    return {p.suffix: p for p in paths}


def _quotes_md(md: str) -> list[str]:
    return re.findall(r"^> “(.*)”$", md, flags=re.M)


def test_title_is_the_project_name_and_a_short_question_label(rendered):
    md = rendered[".md"].read_text(encoding="utf-8")
    title = md.splitlines()[0]
    assert title.startswith("# Bidding review: Thinking about the last three years")
    assert title.endswith("…") and QUESTION not in title and "cb-2024-07" not in title
    assert QUESTION in md  # the whole question, in a sentence below


def test_question_label_keeps_a_short_question_whole():
    from nlp.report.data import question_label

    assert question_label("What gets in the way of bidding?") == "What gets in the way of bidding?"
    assert question_label("Why? Tell us more about it.") == "Why?"


def _refs(md: str) -> list[str]:
    return re.findall(r"^> — (\S+?),", md, flags=re.M)


def test_report_prose_is_never_quoted_as_a_respondent(rendered):
    md = rendered[".md"].read_text(encoding="utf-8")
    assert _refs(md) and not {"p1", "p2"} & set(_refs(md))
    assert "Participants broadly criticised" not in md
    assert "2 passages of report prose" in md


def test_each_answer_is_quoted_once_in_the_report(rendered):
    refs = _refs(rendered[".md"].read_text(encoding="utf-8"))
    assert "q2" in refs and len(refs) == len(set(refs))  # q2 raises both themes


def test_quotes_print_without_markup(rendered):
    md = rendered[".md"].read_text(encoding="utf-8")
    html = rendered[".html"].read_text(encoding="utf-8")
    assert any(q.startswith("The rules are limited and") for q in _quotes_md(md))
    for text in (md, html):
        assert "<sup" not in text and "&lt;sup" not in text
        assert "limited and the paperwork" in text


def test_topic_examples_print_without_markup():
    from nlp.report.data import TopicSummary
    from nlp.topics import Topic

    t = Topic(topic_id=1, label="fees", keywords=("fees",), size=2, share=0.1, theme_id=None,
              theme_similarity=None, emergent=True,
              quotes=(("r1", "Fees are high<sup>4</sup>, <em>very</em> high."),))
    assert TopicSummary.of(t).examples == ("Fees are high, very high.",)


def test_labels_are_printed_as_written(rendered):
    md = rendered[".md"].read_text(encoding="utf-8")
    assert "raised Industry Regulation Criticism" in md
    assert "industry Regulation" not in md and "late payment" not in md


def test_quotes_are_plain_not_bold_italic(rendered):
    from docx import Document

    md = rendered[".md"].read_text(encoding="utf-8")
    assert _quotes_md(md) and "***" not in md
    html = rendered[".html"].read_text(encoding="utf-8")
    css = re.search(r"\.q\{([^}]*)\}", html)
    assert css is not None and "bold" not in css.group(1)
    doc = Document(str(rendered[".docx"]))
    quotes = [p for p in doc.paragraphs if p.style.name == "Quote"]
    assert quotes and not any(r.bold for p in quotes for r in p.runs)
