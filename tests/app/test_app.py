"""The review app's pages through Streamlit's AppTest, asserting on the project database."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.app.ui import jobs
from nlp.app.ui.widgets import escape_md

from appdata import APP, REPO, make_project


def themes(project):
    return project.store.active_codebook().theme_ids


def mine(project, coder="ana"):
    return {(c.response_id, c.theme_id): c.status for c in project.store.codings(coder=coder)}


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


# -- Review queue -------------------------------------------------------------------------------
def test_review_shows_most_informative_first_with_context(app_at, project):
    at = app_at()  # the default page
    assert not at.exception and at.title[0].value == "Review queue"
    text = markdown(at)
    assert escape_md("The tender documents ran to 200 pages") in text  # a4: uncertainty 0.95
    assert escape_md("answer a4 · answers.csv, row 5") in text
    # a table row without a respondent: no other row is its context (import order is not)
    assert "Nobody answered" not in text
    assert at.query_params["item"] == "a4"


def test_source_context_section_and_turns(tmp_path):
    from streamlit.testing.v1 import AppTest

    from nlp.pipeline import import_file
    from nlp.project import init_project

    p = init_project(tmp_path / "p")
    f = tmp_path / "quotes.csv"
    f.write_text("id,text,section,respondent_id\n"
                 "q1,Our reserves pay for the service.,Funding,R1\n"
                 "q2,Nobody asked the people who use it.,Voice,R2\n"
                 "q3,Payment comes three months late.,Funding,R3\n", encoding="utf-8")
    import_file(p.store, f)
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["project_root"] = str(p.root)
    at.session_state["coder"] = "ana"
    at.query_params["item"] = "q3"
    at.run()
    text = markdown(at)
    assert escape_md("Section: Funding") in text
    assert escape_md("… R1: Our reserves pay for the service.") in text  # same section
    assert "Nobody asked" not in text  # another section
    p.close()


def test_user_text_is_escaped_never_html(app_at):
    at = app_at()
    q = next(m.value for m in at.markdown if "tender" in m.value)
    assert "<b>" not in q and r"\<b\>" in q and r"\*\*stars\*\*" in q and r"\[link\]" in q
    assert r"\$x\$" in q
    for path in [APP, *sorted((REPO / "nlp" / "app" / "ui").rglob("*.py"))]:
        assert "unsafe_allow_html" not in path.read_text(encoding="utf-8"), path
        assert "st.html(" not in path.read_text(encoding="utf-8"), path


def test_accept_reject_add_and_undo(app_at, project):
    t = themes(project)
    at = app_at()
    at.button(key=f"acc:a4:{t[3]}").click().run()
    assert mine(project) == {("a4", t[3]): "accepted"}
    [c] = project.store.codings(coder="ana")
    assert (c.origin, c.confidence) == ("model", 0.51)
    at.button(key=f"rej:a4:{t[2]}").click().run()  # a near miss (0.45), rejected
    assert mine(project)[("a4", t[2])] == "rejected"
    pills = next(p for p in at.button_group if p.key.startswith("add:a4:"))
    pills.set_value(t[5]).run()
    assert mine(project)[("a4", t[5])] == "accepted"
    assert project.store.codings(coder="ana", theme_id=t[5])[0].origin == "researcher"
    at.button(key=f"rej:a4:{t[3]}").click().run()  # remove a theme = reject it
    assert mine(project)[("a4", t[3])] == "rejected"
    at.button(key="undo").click().run()
    assert mine(project)[("a4", t[3])] == "accepted"
    at.button(key="undo").click().run()
    at.button(key="undo").click().run()
    at.button(key="undo").click().run()
    assert mine(project) == {}
    assert project.store.replay_events() == project.store.current_state()


def test_accept_all_moves_on_and_undo_comes_back(app_at, project):
    t = themes(project)
    at = app_at()
    at.button(key="accall:a4").click().run()
    assert mine(project) == {("a4", t[3]): "accepted"}
    assert at.query_params["item"] == "a2"  # next most informative
    at.button(key="none:a2").click().run()
    assert mine(project)[("a2", t[1])] == "rejected"
    assert at.query_params["item"] == "a1"
    at.button(key="undo").click().run()  # takes back a2's decision and shows a2 again
    assert ("a2", t[1]) not in mine(project)
    assert at.query_params["item"] == "a2"


def test_next_previous_and_refresh_keeps_the_place(app_at, project):
    at = app_at()
    at.button(key="next").click().run()
    assert at.query_params["item"] == "a2"
    at.button(key="next").click().run()
    assert at.query_params["item"] == "a1"
    at.button(key="prev").click().run()
    assert at.query_params["item"] == "a2"
    # a page refresh: new session, same URL
    from streamlit.testing.v1 import AppTest

    again = AppTest.from_file(str(APP), default_timeout=30)
    again.query_params.update({"item": "a2", "coder": "ana"})
    again.session_state["project_root"] = str(project.root)
    again.run()
    assert escape_md("We used our reserves") in markdown(again)
    assert again.text_input(key="coder_box").value == "ana"


def test_end_of_queue(app_at, project):
    at = app_at()
    for _ in range(5):
        at.button(key="next").click().run()
    assert "Nothing left in this queue" in at.success[0].value


def test_filters_theme_status_and_search(app_at, project):
    t = themes(project)
    at = app_at()
    at.selectbox(key="f_theme").set_value(t[2]).run()
    # the default status ("Not yet reviewed") narrows to the theme's open suggestions
    assert "2 answers in this queue" in markdown(at)  # a1 (0.55) and a3 (0.88)
    assert at.query_params["item"] in ("a1", "a3")
    at.selectbox(key="f_status").set_value("suggested").run()
    assert "2 answers in this queue" in markdown(at)  # a1 (0.55) and a3 (0.88)
    assert at.query_params["item"] == "a1"
    at.button(key=f"acc:a1:{t[2]}").click().run()
    at.button(key="next").click().run()
    assert at.query_params["item"] == "a3"
    assert "1 answer in this queue" in markdown(at)
    at.selectbox(key="f_theme").set_value("").run()
    at.selectbox(key="f_status").set_value("any").run()
    at.text_input(key="f_text").set_value("cash flow").run()
    assert at.query_params["item"] == "a6" and "1 answer in this queue" in markdown(at)
    at.radio(key="f_order").set_value("import").run()
    at.text_input(key="f_text").set_value("").run()
    at.selectbox(key="f_coder").set_value("ana").run()
    assert at.query_params["item"] == "a1"
    at.slider(key="f_band").set_value((0.8, 1.0)).run()
    assert "1 answer in this queue" in markdown(at)  # ana coded a1 only; it scores 0.91
    at.selectbox(key="f_coder").set_value("").run()
    assert "2 answers in this queue" in markdown(at)  # a1 (0.91) and a3 (0.88)


def test_queue_in_import_order_before_the_model_ran(tmp_path):
    from streamlit.testing.v1 import AppTest

    p = make_project(tmp_path / "bare", suggestions=False)
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["project_root"] = str(p.root)
    at.session_state["coder"] = "ana"
    at.run()
    assert at.query_params["item"] == "a1" and "import order until" in markdown(at)
    at.button(key="none:a1").click().run()  # no suggestion: rejects a theme to mark it seen
    assert len(p.store.codings(coder="ana")) == 1 and at.query_params["item"] == "a2"
    p.close()


def test_coder_is_required_and_recorded(app_at, project):
    at = app_at(coder=None)
    assert "Who is coding?" in at.warning[0].value
    at.text_input(key="coder_box").input("Bea").run()
    assert at.query_params["coder"] == "Bea"
    t = themes(project)
    at.button(key=f"acc:a4:{t[3]}").click().run()
    assert mine(project, "Bea") == {("a4", t[3]): "accepted"}


def test_two_researchers_at_once_lose_nothing(app_at, project):
    t = themes(project)
    ana, ben = app_at(coder="ana"), app_at(coder="ben")
    ana.button(key=f"acc:a4:{t[3]}").click().run()
    ben.button(key=f"rej:a4:{t[3]}").click().run()
    ana.button(key=f"rej:a4:{t[2]}").click().run()
    assert mine(project, "ana") == {("a4", t[3]): "accepted", ("a4", t[2]): "rejected"}
    assert mine(project, "ben") == {("a4", t[3]): "rejected"}
    assert escape_md("ben: rejected") in markdown(ana.run())


def test_refresh_runs_in_the_background_once(app_at, project, monkeypatch):
    from nlp import pipeline

    calls = []

    def fake_code_project(p, *, recode_all=False, **_):
        calls.append(recode_all)
        time.sleep(3.0)  # long enough to outlast one page render on a busy machine
        return pipeline.CodeRun(coded=5)

    monkeypatch.setattr(pipeline, "code_project", fake_code_project)
    t = themes(project)
    at = app_at()
    at.session_state["refresh_every"] = 2
    at.button(key=f"acc:a4:{t[3]}").click().run()
    assert calls == [] and jobs.get(str(project.root)) is None
    at.button(key=f"rej:a4:{t[2]}").click().run()  # the second decision starts a refresh
    assert "refresh running" in markdown(at) and "refreshing suggestions" in markdown(at)
    assert at.button(key="refresh").disabled  # running: no second refresh
    from nlp.app.ui.pages.review import start_refresh

    assert not start_refresh(project)  # and the guard refuses one from elsewhere
    jobs.wait(str(project.root), 5)
    assert calls == [True] and jobs.get(str(project.root)).error is None
    assert mine(project) == {("a4", t[3]): "accepted", ("a4", t[2]): "rejected"}


# -- Project ------------------------------------------------------------------------------------
def test_project_create_and_open(tmp_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page("nlp/app/ui/pages/project.py").run()
    at.text_input(key="project_path").input(str(tmp_path / "new")).run()
    at.button(key="create_project").click().run()
    assert (tmp_path / "new" / "project.json").exists()
    assert at.session_state["project_root"] == str((tmp_path / "new").resolve())
    assert not at.exception


def test_project_import_from_path_and_upload_with_errors(app_at, project, tmp_path):
    at = app_at("project")
    before = project.store.count_responses()
    f = tmp_path / "more.csv"
    f.write_text("id,text\nm1,Commissioners ignored our feedback\nm2,N/A\n", encoding="utf-8")
    at.text_input(key="import_path").input(str(f)).run()
    at.button(key="import_file").click().run()
    assert project.store.count_responses() == before + 2
    summary = at.dataframe[-1].value
    assert list(summary["imported"]) == [2] and list(summary["flagged"]) == [1]
    at.text_input(key="import_path").input(str(tmp_path / "missing.csv")).run()
    at.button(key="import_file").click().run()
    assert "no such file" in at.error[0].value
    at.file_uploader(key="uploads").set_value(
        [("up.csv", b"id,text\nu1,uploaded answer about tenders\n", "text/csv")]).run()
    at.button(key="import_uploads").click().run()
    assert project.store.count_responses() == before + 3
    assert (project.root / "uploads" / "up.csv").exists()


def test_project_codebook_and_coding_run(app_at, project, monkeypatch):
    from nlp import pipeline
    from nlp.codebook import dumps_codebook, loads_codebook

    at = app_at("project")
    cb = project.store.active_codebook()
    other = loads_codebook(dumps_codebook(cb).replace(f"version: {cb.version}", "version: 77"))
    at.file_uploader(key="codebook_upload").set_value(
        ("cb.yaml", dumps_codebook(other).encode(), "text/yaml")).run()
    at.button(key="add_codebook").click().run()
    assert str(project.store.active_codebook().version) == "77"

    def fake(p, *, recode_all=False, **_):
        return pipeline.CodeRun(coded=5, per_theme={"bid_candy": 1})

    monkeypatch.setattr(pipeline, "code_project", fake)
    at.button(key="code_all").click().run()
    jobs.wait(str(project.root), 5)
    at.run()
    assert any("Coded in" in p.proto.text for p in at.get("progress"))


# -- Themes, Topics, Codebook, Agreement, Export ------------------------------------------------
def test_themes_counts_crosstab_and_quotes(app_at, project):
    t = themes(project)
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "accepted")], coder="ana")
    at = app_at("themes")
    df = at.dataframe[0].value
    row = df[df["theme"] == project.store.active_codebook().theme(t[0]).label].iloc[0]
    assert (row["accepted"], row["suggested"]) == (1, 0)
    box = at.selectbox(key="xt_by")
    assert box.options == ["Imported file", "Question", "Respondent", "field group"]
    box.set_value("meta:group").run()
    assert not at.exception
    assert "charity" in at.dataframe[1].value.columns
    at.selectbox(key="q_theme").set_value(t[2]).run()
    at.radio(key="q_status").set_value("suggested").run()
    assert "2 answers" in markdown(at)


def test_group_by_names_a_source_field_apart_from_the_imported_file(tmp_path):
    from nlp.app.ui.pages.themes import group_label
    from nlp.pipeline import import_file
    from nlp.project import init_project

    p = init_project(tmp_path / "p")
    f = tmp_path / "units.csv"
    f.write_text("id,text,source,section\nu1,An answer,000_13c9.txt,Methods\n", encoding="utf-8")
    import_file(p.store, f)
    from nlp.store.review_themes import group_options

    labels = [group_label(o) for o in group_options(p.store)]
    assert len(labels) == len(set(labels)) and "Imported file" in labels
    assert "field source" in labels and "field section" in labels
    p.close()


def test_topics_page_explains_when_missing(app_at):
    at = app_at("topics")
    assert at.info and ("topic" in at.info[0].value.lower())


def _saved_topics(project):
    """A topic result as `nlp topics` saves it: one topic matches a theme, one is emergent."""
    import numpy as np

    from nlp.pipeline import topics_dir
    from nlp.topics import Stability, Topic, TopicResult, save_topics

    t0 = themes(project)[0]
    topics = (
        Topic(topic_id=0, label="Bid, prime, partner", keywords=("bid", "prime", "partner"),
              size=3, share=0.6, theme_id=t0, theme_similarity=0.71, emergent=False,
              quotes=(("a1", "The prime named us in their bid."),)),
        Topic(topic_id=1, label="Tender page, document", keywords=("tender page", "document"),
              size=2, share=0.4, theme_id=t0, theme_similarity=0.3, emergent=True,
              quotes=(("a4", "The tender documents ran to 200 pages"),
                      ("a3", "Nobody answered our clarification questions."))),
    )
    cents = np.eye(2, 8, dtype=np.float32)
    result = TopicResult(topics=topics, response_ids=("a1", "a2", "a3", "a4", "a6"),
                         assignments=(0, 0, 1, 1, 0), excluded=("a5",), outlier_share=0.0,
                         unassigned_share=0.0,
                         stability=Stability(runs=5, survival=1.0, mean_ari=0.9, min_ari=0.8,
                                             centroid_similarity=0.99),
                         coherence=0.1, diversity=0.9,
                         params={"method": "consensus-kmeans", "match_cut": 0.5},
                         embedder="fake", coherence_baseline=-0.4, centroids=cents)
    save_topics(result, topics_dir(project))


def test_topics_page_shows_saved_model_and_adds_emergent_theme(app_at, project):
    _saved_topics(project)
    at = app_at("topics")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["topic"]) == ["Bid, prime, partner", "Tender page, document"]
    assert list(table["theme"])[1] == "NEW"
    said = markdown(at)
    assert "similarity reaches 0.50" in said and "against -0.400 for random sets" in said
    assert "Tender documents ran to 200 pages".lower() in markdown(at).lower().replace("\\", "")
    form = at.get("form")[0]
    assert form.text_input[0].value == "tender_page_document"
    form.text_input[0].input("tender_burden")
    form.button[0].click()
    at.run()
    cb = project.store.active_codebook()
    assert "tender_burden" in cb.theme_ids
    assert cb.theme("tender_burden").include[0].startswith("The tender documents")
    assert not at.exception


def test_codebook_edit_and_rename_carry_codings(app_at, project):
    t = themes(project)
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "accepted")], coder="ana")
    at = app_at("codebook")
    form = at.get("form")[0]
    form.text_input[0].input("Bid candy (renamed label)")
    form.button[0].click()
    at.run()
    cb = project.store.active_codebook()
    assert cb.version == 4 and cb.theme(t[0]).label == "Bid candy (renamed label)"
    rename = next(f for f in at.get("form")
                  if any(x.label == "New id (blank: keep)" for x in f.text_input))
    rename.selectbox[0].set_value(t[0])
    rename.text_input[0].input("candy")
    rename.button[0].click()
    at.run()
    assert "candy" in project.store.active_codebook().theme_ids
    assert mine(project) == {("a1", "candy"): "accepted"}
    assert project.store.events()[-1]["actor"] == "ana"


def test_agreement_page_lists_disagreements_and_adjudicates(app_at, project):
    t = themes(project)
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "accepted")], coder="ana")
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "rejected")], coder="ben")
    dec.record_decisions(project.store, "a3", [dec.Decision(t[2], "accepted")], coder="ben")
    at = app_at("agreement", coder="cat")
    df = at.dataframe[0].value
    assert "kappa ana / ben" in df.columns and "Krippendorff alpha" in df.columns
    assert {"alpha interval", "interval ana / ben"} <= set(df.columns)
    labels = {th.label for th in project.store.active_codebook().themes}
    assert set(df["theme"]) < labels  # themes nobody applied are left out...
    assert "Not scored" in markdown(at)  # ...and named apart
    assert "Disagreements" in at.subheader[0].value
    at.button(key=f"ag_yes:a1:{t[0]}").click().run()
    assert mine(project, "cat") == {("a1", t[0]): "accepted"}
    at.toggle(key="ag_model").set_value(False).run()
    assert not at.exception
    at.toggle(key="blind_box").set_value(True).run()
    assert "Blind mode is on" in at.info[0].value and not at.dataframe


@pytest.mark.parametrize("fmt,layout", [("csv", "wide"), ("xlsx", "long")])
def test_export_download(app_at, project, fmt, layout):
    import pandas as pd

    t = themes(project)
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "accepted")], coder="ana")
    at = app_at("export")
    at.radio(key="ex_format").set_value(fmt).run()
    at.radio(key="ex_layout").set_value(layout).run()
    assert escape_md("the latest decision wins") in markdown(at)  # the rule, stated
    at.checkbox(key="ex_anon").uncheck().run()
    at.button(key="ex_go").click().run()
    [dl] = at.download_button
    path = next((project.root / "exports").glob(f"*.{fmt}"))
    df = pd.read_csv(path) if fmt == "csv" else pd.read_excel(path)
    if layout == "wide":
        assert df.loc[df["response_id"] == "a1", f"theme:{t[0]}"].item() == "accepted"
    else:
        assert {"coder", "theme_id", "status"} <= set(df.columns) and "ana" in set(df["coder"])
    assert path.name in dl.label


def test_export_page_writes_a_refi_qda_project(app_at, project):
    import zipfile

    t = themes(project)
    dec.record_decisions(project.store, "a1", [dec.Decision(t[0], "accepted")], coder="ana")
    at = app_at("export")
    assert len(at.radio(key="ex_format").options) == 6
    at.radio(key="ex_format").set_value("qdpx").run()
    at.checkbox(key="ex_anon").uncheck().run()
    at.button(key="ex_go").click().run()
    assert not at.exception
    path = next((project.root / "exports").glob("*.qdpx"))
    with zipfile.ZipFile(path) as z:
        qde = z.read("project.qde").decode("utf-8")
    assert "ana" in qde and project.store.active_codebook().theme(t[0]).label in qde


def test_no_project_points_to_the_project_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert "No project open" in at.info[0].value


def test_appserver_command(monkeypatch, tmp_path):
    from nlp.app.server import app_command

    cmd = app_command(tmp_path, port=8600)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[-2:] == ["--project", str(tmp_path.resolve())] and "8600" in cmd
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"  # no "Deploy" to a cloud
    assert re.search(r"app\.py$", cmd[4])
    monkeypatch.setenv("NLP_APP_HOST", "0.0.0.0")
    assert "0.0.0.0" in app_command(tmp_path)
    assert "10.0.0.1" in app_command(tmp_path, host="10.0.0.1")
    assert Path(cmd[4]) == APP


# -- sentence coding, relabel, blind mode, keys ------------------------------------------------
def test_code_picked_sentences_and_the_whole_answer(app_at, project):
    t = themes(project)
    text = dict((i, x) for i, x, _ in __import__("appdata").ANSWERS)["a4"]
    at = app_at()
    assert at.button(key="scope").label == "Code sentences"
    at.button(key="scope").click().run()
    pick = next(p for p in at.button_group if p.key == "sents:a4")
    assert pick.value == []  # no evidence stored for a4: nothing preselected
    pick.set_value([1]).run()
    at.button(key=f"acc:a4:{t[3]}").click().run()
    [c] = project.store.codings(coder="ana")
    from nlp.app.ui.card import sentence_spans

    s, e = sentence_spans(text)[1]
    assert c.spans == ((s, e),) and text[s:e] == "<b>bold</b> **stars** [link](http://x) $x$"
    assert "Green: sentences you coded" in markdown(at)
    at.button(key="scope").click().run()  # back to the whole answer
    at.button(key=f"acc:a4:{t[2]}").click().run()
    assert project.store.codings(coder="ana", theme_id=t[2])[0].spans == ()


def test_evidence_sentence_is_preselected(tmp_path):
    from streamlit.testing.v1 import AppTest

    from appdata import make_demo_project

    p = make_demo_project(tmp_path / "demo")
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["project_root"] = str(p.root)
    at.session_state["coder"] = "ana"
    at.session_state["sentence_scope"] = True
    at.run()
    rid = at.query_params["item"]
    item = rv.find_item(p.store, rid)
    ctx = rv.review_context(p.store, item)
    pick = next(b for b in at.button_group if b.key == f"sents:{rid}")
    model = {t: sp["model"][0] for t, sp in ctx.spans.items() if "model" in sp}
    assert model and pick.value  # the top suggestion's evidence sentence is picked
    top = max(model, key=lambda t: ctx.scores[t])
    from nlp.app.ui.card import sentence_spans

    sents = sentence_spans(item.text)
    assert {sents[i] for i in pick.value} == {model[top]}
    at.button(key=f"acc:{rid}:{top}").click().run()
    assert p.store.codings(coder="ana", theme_id=top)[0].spans == (model[top],)
    p.close()


def _accept_then_move(at, project, old, new):
    """Accept `old` on answer a4, then move it to `new` with the relabel controls."""
    at.button(key=f"acc:a4:{old}").click().run()
    at.selectbox(key="mv_from:a4").set_value(old).run()
    at.selectbox(key="mv_to:a4").set_value(new).run()
    at.button(key="mv:a4").click().run()
    assert mine(project) == {("a4", old): "rejected", ("a4", new): "accepted"}


def test_relabel_is_one_action_and_one_undo(app_at, project):
    t = themes(project)
    at = app_at()
    _accept_then_move(at, project, t[3], t[6])
    at.button(key="undo").click().run()
    assert mine(project) == {("a4", t[3]): "accepted"}
    assert escape_md("Undid 2 change(s)") in at.info[0].value


def test_after_a_relabel_the_drop_downs_do_not_both_show_the_new_theme(app_at, project):
    t = themes(project)
    at = app_at()
    _accept_then_move(at, project, t[3], t[6])
    moved_from, moved_to = at.selectbox(key="mv_from:a4"), at.selectbox(key="mv_to:a4")
    assert moved_to.value is None  # ready for the next move, not showing the last one
    assert moved_from.value != moved_to.value


def test_relabel_in_whole_answer_mode_stores_a_whole_answer_coding(tmp_path):
    """The model's evidence sentence is not the researcher's pick: in whole-answer mode the
    new theme is coded on the whole answer; in sentence mode on the picked sentences."""
    from streamlit.testing.v1 import AppTest

    from appdata import make_demo_project
    from nlp.app.ui.card import sentence_spans

    p = make_demo_project(tmp_path / "demo")
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state["project_root"] = str(p.root)
    at.session_state["coder"] = "ana"
    at.run()
    rid = at.query_params["item"]
    ctx = rv.review_context(p.store, rv.find_item(p.store, rid))
    model = {t: sp["model"][0] for t, sp in ctx.spans.items() if "model" in sp}
    src = next(iter(model))  # a suggestion with an evidence sentence
    dst = next(t for t in p.store.active_codebook().theme_ids if t not in ctx.decisions)
    at.selectbox(key=f"mv_from:{rid}").set_value(src).run()
    at.selectbox(key=f"mv_to:{rid}").set_value(dst).run()
    at.button(key=f"mv:{rid}").click().run()
    [c] = p.store.codings(coder="ana", theme_id=dst)
    assert c.status == "accepted" and c.spans == ()  # the whole answer
    at.button(key="undo").click().run()
    at.button(key="scope").click().run()  # sentence mode: the picked sentences
    pick = next(b for b in at.button_group if b.key == f"sents:{rid}")
    sents = sentence_spans(ctx.item.text)
    pick.set_value([len(sents) - 1]).run()
    at.selectbox(key=f"mv_from:{rid}").set_value(src).run()
    at.selectbox(key=f"mv_to:{rid}").set_value(dst).run()
    at.button(key=f"mv:{rid}").click().run()
    [c] = p.store.codings(coder="ana", theme_id=dst)
    assert c.status == "accepted" and c.spans == (sents[-1],)
    p.close()


def test_card_shows_each_score_beside_its_theme_cut(app_at, project):
    from nlp.pipeline.coding import LAST_RUN_KEY

    t = themes(project)
    cuts = {tid: 0.5 for tid in t}
    cuts[t[3]] = 0.6  # a4: t3 0.51 suggested as the likeliest theme, under its own cut
    project.store.set_setting(LAST_RUN_KEY, {"cuts": cuts})
    at = app_at()
    shown = [c.value for c in at.caption]
    assert ("suggested · 0.51 (cut 0.60) · under its cut, but the answer's likeliest theme"
            in shown)
    assert "possible · 0.45 (cut 0.50)" in shown  # a4's near miss, t2


def test_blind_mode_hides_other_coders_and_keeps_my_queue(app_at, project):
    from streamlit.testing.v1 import AppTest

    t = themes(project)
    dec.record_decisions(project.store, "a4", [dec.Decision(t[3], "rejected")], coder="ben")
    at = app_at()
    assert at.query_params["item"] == "a2"  # not blind: ben reviewed a4, so it is done
    at.toggle(key="blind_box").set_value(True).run()
    assert at.query_params["blind"] == "1"
    # a bookmark with ?blind=1: the queue is "not yet reviewed by me", others are hidden
    blind = AppTest.from_file(str(APP), default_timeout=30)
    blind.query_params.update({"coder": "ana", "blind": "1"})
    blind.session_state["project_root"] = str(project.root)
    blind.run()
    assert blind.query_params["item"] == "a4" and blind.toggle(key="blind_box").value
    assert "ben" not in markdown(blind) and "Blind mode" in markdown(blind)
    assert blind.selectbox(key="f_coder").disabled
    seeing = app_at()
    seeing.button(key="prev").click().run()
    dec.record_decisions(project.store, "a2", [dec.Decision(t[1], "accepted")], coder="ben")
    seeing.run()
    assert escape_md("ben: accepted") in markdown(seeing)  # not blind: ben shows


def test_keyboard_shortcuts_on_the_card(app_at, project):
    t = themes(project)
    at = app_at()
    assert at.button(key="next").proto.shortcut == "n"
    assert at.button(key="undo").proto.shortcut == "u"
    assert at.button(key=f"acc:a4:{t[3]}").proto.shortcut == "1"  # the top score: 0.51
    assert at.button(key=f"rej:a4:{t[3]}").proto.shortcut == "alt+1"
    assert at.button(key=f"acc:a4:{t[2]}").proto.shortcut == "2"
    assert "Keys:" in markdown(at)


def test_list_view_search_hits_and_bulk_decisions_with_one_undo(app_at, project):
    t = themes(project)
    at = app_at()
    at.button_group(key="view_box").set_value("list").run()
    at.selectbox(key="f_status").set_value("any").run()
    at.text_input(key="f_text").set_value("our").run()
    text = markdown(at)
    assert text.count(":blue-background[**our**]") == 3  # a2, a3 and a6
    assert "3 answers in this queue" in text
    at.checkbox(key="sel:a2").check().run()
    at.checkbox(key="sel:a6").check().run()
    at.selectbox(key="bulk_theme").set_value(t[1]).run()
    at.button(key="bulk_accept").click().run()
    assert mine(project) == {("a2", t[1]): "accepted", ("a6", t[1]): "accepted"}
    assert not at.checkbox(key="sel:a2").value  # the selection is cleared after
    at.button(key="sel_all").click().run()
    at.button(key="bulk_reject").click().run()
    assert mine(project) == {("a2", t[1]): "rejected", ("a3", t[1]): "rejected",
                             ("a6", t[1]): "rejected"}
    at.button(key="undo").click().run()
    assert mine(project) == {("a2", t[1]): "accepted", ("a6", t[1]): "accepted"}
    at.button(key="open:a6").click().run()
    assert at.query_params["item"] == "a6" and at.button(key="accall:a6")


def test_memos_on_an_answer_a_theme_and_the_project(app_at, project):
    from nlp.store.memos import add_memo, list_memos

    t = themes(project)
    add_memo(project.store, "answer", "a4", "ben's doubt about this one", author="ben")
    at = app_at()
    at.text_area(key="memo_text:answer:a4").input("Borderline: tender length, not process").run()
    at.button(key="memo_save:answer:a4").click().run()
    [m] = list_memos(project.store, "answer", "a4", author="ana")
    assert m.text == "Borderline: tender length, not process"
    assert escape_md("ben's doubt") in markdown(at)
    at.session_state["blind"] = True
    at.run()
    assert escape_md("ben's doubt") not in markdown(at)  # blind: only my own memos
    assert escape_md("Borderline: tender length") in markdown(at)
    at = app_at("themes")
    at.selectbox(key="q_theme").set_value(t[2]).run()
    at.text_area(key=f"memo_text:theme:{t[2]}").input("Overlaps with poor process").run()
    at.button(key=f"memo_save:theme:{t[2]}").click().run()
    assert [m.text for m in list_memos(project.store, "theme", t[2])] == [
        "Overlaps with poor process"]
    at = app_at("project")
    at.text_area(key="memo_text:project:").input("Second coding round starts Monday").run()
    at.button(key="memo_save:project:").click().run()
    assert [m.author for m in list_memos(project.store, "project")] == ["ana"]
    at.text_input(key="memo_search").input("monday").run()
    assert "1 memo(s)" in markdown(at)


def test_coded_sentences_are_highlighted_in_lists(app_at, project):
    t = themes(project)
    text = rv.find_item(project.store, "a2").text
    end = text.index(" because")
    dec.record_decisions(project.store, "a2", [dec.Decision(t[1], "accepted", spans=[(0, end)])],
                        coder="ana")
    at = app_at("themes")
    at.selectbox(key="q_theme").set_value(t[1]).run()
    at.radio(key="q_status").set_value("accepted").run()
    coded = ":green-background[" + escape_md(text[:end]) + "]"
    assert coded in markdown(at)
    at = app_at()
    at.button_group(key="view_box").set_value("list").run()
    at.selectbox(key="f_status").set_value("any").run()
    assert coded in markdown(at)
