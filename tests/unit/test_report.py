"""The findings draft: numbers, crosstabs, quotes, escaping, anonymisation, the three formats."""
from __future__ import annotations

import sys
import types

import pytest

from nlp import errors
from nlp.pipeline import import_file
from nlp.project import init_project
from nlp.pipeline import build_report_data, write_report
from nlp.report import find_group
from nlp.report.render import md_escape, share_words
from nlp.store.decisions import Decision, record_decisions

CODEBOOK = """name: test-consultation
version: 1
question: What gets in the way of bidding for contracts?
themes:
  - id: late_payment
    label: Late payment
    definition: Invoices paid weeks or months after the work was delivered.
  - id: tender_burden
    label: <b>Tender</b> burden & cost
    definition: The bidding process costs more than the contract is worth.
  - id: silence
    label: Silence
    definition: Nobody ever raises this.
"""

ROWS = [
    ("r1", "The council paid our invoices three months late, which nearly closed us.", "Wales",
     "charity"),
    ("r2", "Invoices sit unpaid for weeks because the prime forgets to pass them on.", "Wales",
     "charity"),
    ("r3", "Payment by results means we wait a year before money arrives. Contact Sarah Jones "
           "on 07700 900123 for details.", "North", "social enterprise"),
    ("r4", "The tender pack ran to 200 pages <script>alert('x')</script> for a £20k contract.",
     "North", "charity"),
    ("r5", "=SUM(A1:A9) We spent more on the bid writer than the contract was worth.", "North",
     "social enterprise"),
    ("r6", "N/A", "North", "charity"),
]


def _csv(rows):
    lines = ["id,text,region,org_type"]
    for r in rows:
        lines.append(",".join('"' + str(c).replace('"', '""') + '"' for c in r))
    return "\n".join(lines) + "\n"


def fake_anonymiser(texts):
    return [t.replace("Sarah Jones", "[PERSON]").replace("07700 900123", "[PHONE]")
            for t in texts]


@pytest.fixture
def project(tmp_path):
    cb = tmp_path / "cb.yaml"
    cb.write_text(CODEBOOK, encoding="utf-8")
    p = init_project(tmp_path / "p", codebook=cb)
    f = tmp_path / "answers.csv"
    f.write_text(_csv(ROWS), encoding="utf-8")
    import_file(p.store, f)
    p.store.write_model_codings({
        "r1": {"late_payment": 0.95}, "r2": {"late_payment": 0.9},
        "r3": {"late_payment": 0.7}, "r4": {"tender_burden": 0.8},
        "r5": {"tender_burden": 0.6, "late_payment": 0.55}}, {}, model_id="t")
    for rid in ("r1", "r2", "r3"):
        record_decisions(p.store, rid, [Decision("late_payment", "accepted", "model")],
                         coder="alice")
    record_decisions(p.store, "r5", [Decision("late_payment", "rejected", "model")],
                     coder="alice")
    record_decisions(p.store, "r4", [Decision("tender_burden", "accepted", "model")],
                     coder="bob")
    yield p
    p.close()


def test_counts_shares_and_suggestions_apart(project):
    data = build_report_data(project, anonymiser=fake_anonymiser)
    assert data.n_responses == 6 and data.n_answers == 5  # the N/A is left out
    f = {x.theme.theme_id: x for x in data.findings}
    assert (f["late_payment"].accepted, f["late_payment"].suggested) == (3, 0)
    assert (f["tender_burden"].accepted, f["tender_burden"].suggested) == (1, 1)
    assert f["late_payment"].share == pytest.approx(3 / 5)
    assert [x.theme.theme_id for x in data.findings][:2] == ["late_payment", "tender_burden"]
    assert data.coders == ("alice", "bob") and data.decisions == 5
    assert data.open_suggestions == 1


def test_crosstab_by_detected_group(project):
    data = build_report_data(project, anonymiser=fake_anonymiser)
    assert data.group_name == "org_type"
    assert data.group_sizes == {"charity": 3, "social enterprise": 2}
    late = next(x for x in data.findings if x.theme.theme_id == "late_payment")
    assert late.by_group == {"charity": (2, 3), "social enterprise": (1, 2)}
    region = build_report_data(project, anonymiser=fake_anonymiser, group_by="region")
    assert region.group_sizes == {"North": 3, "Wales": 2}
    with pytest.raises(errors.NlpError, match="group by"):
        build_report_data(project, anonymiser=fake_anonymiser, group_by="colour")


def test_no_group_when_the_data_has_none():
    from nlp.types import Corpus

    assert find_group(Corpus.from_texts(["a", "b", "c"])) == (None, {})


def test_quotes_are_few_referenced_and_anonymised(project):
    data = build_report_data(project, anonymiser=fake_anonymiser)
    late = next(x for x in data.findings if x.theme.theme_id == "late_payment")
    assert 1 <= len(late.quotes) <= 5 and all(q.accepted for q in late.quotes)
    assert all(q.reference.startswith(q.response_id) and "answers.csv, row" in q.reference
               for q in late.quotes)
    text = " ".join(q.text for q in late.quotes)
    assert "Sarah Jones" not in text and "07700" not in text and "[PERSON]" in text


def test_write_report_all_formats(project, tmp_path):
    paths = write_report(project, tmp_path / "out", anonymiser=fake_anonymiser)
    names = [p.name for p in paths]
    assert names == ["report.docx", "report.md", "report.html", "theme-shares.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths[1].read_text(encoding="utf-8")
    assert "## 2 / Findings" in md and "### 2.1 / Late payment" in md
    assert "Three in five responses (60%, 3 of 5) raised Late payment" in md
    assert "Themes not raised" in md and "Silence" in md
    assert "![Bar chart" in md and "theme-shares.png" in md
    assert "Emergent topics" not in md
    assert not list((tmp_path / "out").glob(".*part"))  # no temporary files left behind


def topic(label, size, keywords, examples):
    """An emergent topic as the topic stage makes it."""
    from nlp.topics import Topic

    return Topic(topic_id=size, label=label, keywords=tuple(keywords), size=size, share=0.1,
                 theme_id=None, theme_similarity=None, emergent=True,
                 quotes=tuple((f"r{i}", x) for i, x in enumerate(examples)))


def test_html_escapes_all_user_text(project, tmp_path):
    out = write_report(project, tmp_path / "o", formats=("html",), anonymiser=fake_anonymiser,
                       topics=[topic("<img src=x onerror=alert(1)>", 2, ["<i>k</i>"],
                                     ["<b>bold</b>"])])
    page = out[0].read_text(encoding="utf-8")
    # a quote prints as plain text (no markup, escaped or not); labels are escaped
    assert "<script>" not in page and "script&gt;" not in page
    assert "200 pages for a £20k contract" in page
    assert "<b>Tender</b>" not in page and "&lt;b&gt;Tender&lt;/b&gt; burden &amp; cost" in page
    assert "<img src=x" not in page and "<i>k</i>" not in page and "<b>bold</b>" not in page
    assert page.count("<img ") == 1  # the chart alone, inlined
    assert 'src="data:image/png;base64,' in page


def test_markdown_escapes_user_text():
    assert md_escape("*bold* [link](http://x) <b> | #") == \
        "\\*bold\\* \\[link\\](http://x) &lt;b&gt; \\| \\#"


def test_docx_opens_and_has_the_parts(project, tmp_path):
    from docx import Document

    path = write_report(project, tmp_path / "o", formats=("docx",),
                        anonymiser=fake_anonymiser)[0]
    doc = Document(str(path))
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert heads[:3] == ["1 / About this draft", "2 / Findings", "2.1 / Late payment"]
    assert doc.paragraphs[0].text == "p: What gets in the way of bidding for contracts?"
    assert len(doc.tables) == 2 and len(doc.inline_shapes) == 1
    assert doc.tables[0].rows[1].cells[0].text == "Late payment"
    quotes = [p.text for p in doc.paragraphs if p.style.name == "Quote"]
    assert quotes and all(q.startswith("“") for q in quotes)


def test_emergent_topics_listed_after_the_themes(project, tmp_path):
    topics = [topic("Digital portals", 4, ["portal", "online"], ["The portal was down"]),
              topic("Sarah Jones fan club", 2, ["x"], ["Sarah Jones said so"])]
    md = write_report(project, tmp_path / "o", formats=("md",), anonymiser=fake_anonymiser,
                      topics=topics)[0].read_text(encoding="utf-8")
    assert md.index("## 3 / Emergent topics") > md.index("### 2.1 / Late payment")
    assert "**Digital portals** (4 answers): portal, online" in md
    assert "\\[PERSON\\] said so" in md and "Sarah Jones" not in md


def test_topics_from_the_topic_stage_show_their_quote_texts(project, tmp_path):
    from nlp.topics import Topic

    t = Topic(topic_id=3, label="Digital portals", keywords=("portal", "online"), size=4,
              share=0.2, theme_id=None, theme_similarity=None, emergent=True,
              quotes=(("r4", "The online portal kept crashing before the deadline"),))
    md = write_report(project, tmp_path / "o", formats=("md",), anonymiser=fake_anonymiser,
                      topics=[t])[0].read_text(encoding="utf-8")
    assert "portal kept crashing" in md and "('r4'" not in md


def test_reports_anonymise_by_default(project, tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("nlp.text.anonymise")
    fake.anonymise_texts = lambda texts, **kw: calls.append(len(texts)) or fake_anonymiser(texts)
    monkeypatch.setitem(sys.modules, "nlp.text.anonymise", fake)
    md = write_report(project, tmp_path / "a", formats=("md",))[0].read_text(encoding="utf-8")
    assert calls and "Sarah Jones" not in md
    raw = write_report(project, tmp_path / "b", formats=("md",), anonymise=False)[0]
    text = raw.read_text(encoding="utf-8")
    assert len(calls) == 1 and "Sarah Jones" in text and "NOT anonymised" in text


def test_formats_as_a_comma_separated_string(project, tmp_path):
    paths = write_report(project, tmp_path / "o", formats="md,html", anonymise=False)
    assert [p.name for p in paths][:2] == ["report.md", "report.html"]


def test_unknown_format(project, tmp_path):
    with pytest.raises(errors.NlpError, match="pdf"):
        write_report(project, tmp_path / "o", formats=("pdf",), anonymise=False)


def test_share_words():
    assert share_words(0.35) == "just over a third of"
    assert share_words(0.48) == "almost half of"
    assert share_words(0.2) == "one in five"
    assert share_words(0.03) == "a small minority of"
    assert share_words(1.0) == "all"


@pytest.mark.slow
def test_report_with_the_real_anonymiser(project, tmp_path):
    md = write_report(project, tmp_path / "o", formats=("md",))[0].read_text(encoding="utf-8")
    assert "07700 900123" not in md and "Sarah Jones" not in md
