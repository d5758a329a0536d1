"""The review card's data (score order, hidden 0.00 themes, blind mode) and its safe Markdown
with marks and search hits."""
from __future__ import annotations

from nlp.app.ui import card
from nlp.app.ui.widgets import escape_md
from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.types import MODEL_CODER


def _ctx(project, rid):
    return rv.review_context(project.store, rv.find_item(project.store, rid))


def test_rows_in_score_order_without_zero_scores(project):
    t = project.store.active_codebook().theme_ids
    rows = card.theme_rows(_ctx(project, "a1"), project.store.active_codebook(), "ana")
    # a1: t0 0.91 (suggested), t2 0.55 (suggested), t1 0.2 (near miss); every other 0.0
    assert [(r.theme_id, r.kind) for r in rows] == [
        (t[0], "suggested"), (t[2], "suggested"), (t[1], "possible")]
    assert all(r.score is None or r.score >= card.SHOWN_SCORE for r in rows)
    assert rows[0].definition == project.store.active_codebook().theme(t[0]).definition


def test_blind_mode_hides_other_coders(project):
    t = project.store.active_codebook().theme_ids
    cb = project.store.active_codebook()
    dec.record_decisions(project.store, "a3", [dec.Decision(t[5], "accepted")], coder="ben")
    dec.record_decisions(project.store, "a3", [dec.Decision(t[2], "rejected")], coder="ana")
    seen = card.theme_rows(_ctx(project, "a3"), cb, "ana")
    assert {r.theme_id: r.others for r in seen}[t[5]] == {"ben": "accepted"}
    blind = card.theme_rows(_ctx(project, "a3"), cb, "ana", blind=True)
    assert t[5] not in {r.theme_id for r in blind}  # ben's theme is not even listed
    assert all(not r.others for r in blind)
    assert {r.theme_id: r.mine for r in blind}[t[2]] == "rejected"
    assert MODEL_CODER not in {c for r in blind for c in r.others}


def test_highlight_marks_hits_and_escapes():
    text = "First *bold* part. Second [link](x) part\nthird line"
    md = card.highlight_md(text, marks=[(19, 40)], hits=card.search_hits(text, "PART"))
    assert md.count(":blue-background[**part**]") == 1  # the hit outside the mark
    assert ":orange-background[**part**]" in md  # the hit inside the mark
    assert escape_md("[link](x)") in md and "[link](x)" not in md
    assert escape_md("*bold*") in md
    assert md.endswith("  \n" + escape_md("third line"))
    plain = card.highlight_md(text)
    assert plain == escape_md(text)


def test_sentences_spans_and_evidence():
    text = "We ran it for years. Our reserves now pay for it. Nobody asked us."
    sents = card.sentence_spans(text)
    assert [text[s:e] for s, e in sents] == ["We ran it for years.",
                                             "Our reserves now pay for it. Nobody asked us."]
    ev = (text.index("Our"), text.index("Nobody") - 1)
    picked = card.sentences_in(ev, sents)
    assert picked and text[sents[picked[0]][0]:].startswith("Our")
    joined = card.spans_of([0, 1], sents)
    assert len(joined) == 1 and joined[0][0] == 0


def test_scores_shown_beside_each_theme_cut(project):
    """A score means something only against its own theme's cut: the row says both, and why
    the state differs from what the cut alone would give."""
    t = project.store.active_codebook().theme_ids
    cb = project.store.active_codebook()
    cuts = {tid: 0.5 for tid in t}
    cuts[t[0]] = 0.95   # a1: t0 0.91 suggested though under its cut (the likeliest theme)
    cuts[t[1]] = 0.15   # a1: t1 0.2 a near miss though over its cut (far below t0)
    rows = {r.theme_id: r for r in card.theme_rows(_ctx(project, "a1"), cb, "ana", cuts=cuts)}
    assert rows[t[0]].strength == ("suggested · 0.91 (cut 0.95) · under its cut, but the "
                                   "answer's likeliest theme")
    assert rows[t[2]].strength == "suggested · 0.55 (cut 0.50)"
    assert rows[t[1]].strength == ("possible · 0.20 (cut 0.15) · over its cut, but far below "
                                   "the answer's likeliest theme")
    bare = card.theme_rows(_ctx(project, "a1"), cb, "ana")
    assert bare[0].strength == "suggested · 0.91" and bare[0].cut is None


def test_list_view_shows_each_suggestion_beside_its_cut(project):
    from nlp.app.ui.listview import _row_info

    cb = project.store.active_codebook()
    t = cb.theme_ids
    line, _ = _row_info(project.store, "a1", "ana", cb, False, {t[0]: 0.95, t[2]: 0.5})
    labels = {x.theme_id: x.label for x in cb.themes}
    assert line == f"suggested: {labels[t[0]]} 0.91 (cut 0.95), {labels[t[2]]} 0.55 (cut 0.50)"
    assert _row_info(project.store, "a1", "ana", cb, False)[0].endswith(f"{labels[t[2]]} 0.55")
