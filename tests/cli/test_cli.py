"""The `nlp` command line: help for every command, exit codes, import/list/show/export."""
import json
import re

import pytest
from typer.testing import CliRunner

from nlp.app.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _commands():
    import typer.main
    return sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command):
    res = run(command, "--help")
    assert res.exit_code == 0
    cmd = __import__("typer.main").main.get_command(app).commands[command]
    assert (cmd.help or "").strip(), f"{command} has no help text"


def test_init_import_list_show_export(tmp_path):
    proj = tmp_path / "p"
    assert run("init", proj).exit_code == 0
    data = tmp_path / "a.csv"
    data.write_text("id,text,group\nr1,Sarah Jones at Nacro never replied to us,A\nr2,N/A,B\n")
    res = run("--project", proj, "import", data)
    assert res.exit_code == 0, res.output
    assert "a.csv" in res.output and "text column: 'text'" in res.output
    res = run("--project", proj, "list")
    assert "r1" in res.output and "2 responses" in res.output
    res = run("--project", proj, "show", "r1")
    assert "Sarah Jones" in res.output and "group: A" in res.output
    out = tmp_path / "out.jsonl"
    res = run("--project", proj, "export", "--format", "jsonl", "--out", out, "--no-anonymise")
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["response_id"] for r in rows] == ["r1", "r2"]


def test_bad_input_exit_1_with_message(tmp_path):
    proj = tmp_path / "p"
    run("init", proj)
    res = run("--project", proj, "import", tmp_path / "missing.csv")
    assert res.exit_code == 1
    assert "missing.csv: no such file" in res.output
    assert "Traceback" not in res.output


def test_no_project_is_exit_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("list")
    assert res.exit_code == 1 and "no consultation-nlp project" in res.output


def test_wrong_usage_is_exit_2():
    assert run("import", "--no-such-flag").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_init_twice_refused(tmp_path):
    run("init", tmp_path / "p")
    res = run("init", tmp_path / "p")
    assert res.exit_code == 1 and "already holds a project" in res.output


def test_show_unknown_id(tmp_path):
    run("init", tmp_path / "p")
    res = run("--project", tmp_path / "p", "show", "nope")
    assert res.exit_code == 1 and "no response 'nope'" in res.output


@pytest.mark.slow
def test_topics_fits_prints_table_reuses_saved_model_and_accepts(tmp_path, monkeypatch):
    monkeypatch.setenv("NLP_EMBEDDER", "fake")
    proj = tmp_path / "p"
    assert run("init", proj).exit_code == 0
    groups = {"money": "reserves funding price cost grant budget payment",
              "talk": "email reply contact meeting phone letter told",
              "kids": "children families school parents youth nursery teenagers"}
    rows = ["id,text"]
    for name, words in groups.items():
        w = words.split()
        rows += [f"{name}{i},We said {w[i % 7]} and {w[(i + 2) % 7]} and {w[(i + 4) % 7]} matter"
                 for i in range(12)]
    data = tmp_path / "a.csv"
    data.write_text("\n".join(rows) + "\n")
    assert run("--project", proj, "import", data).exit_code == 0
    res = run("--project", proj, "topics", "--figures", tmp_path / "fig", "--no-png")
    assert res.exit_code == 0, res.output
    assert "36 answers modelled" in res.output and "fitted now" in res.output
    said = " ".join(res.output.split())
    # coherence read against chance; no Python names, the user's own commands instead
    assert re.search(r"Coherence \(NPMI, -1 to 1\) -?\d\.\d{3} against -?\d\.\d{3} for "
                     r"random sets of 10 of this consultation's words", said)
    assert "accept_topic" not in said and not re.search(r"`[a-z]+_\w+`|\w+_\w+\(", said)
    assert (tmp_path / "fig" / "intertopic_map.html").exists()
    res = run("--project", proj, "topics")
    assert res.exit_code == 0 and "saved model" in res.output
    res = run("--project", proj, "topics", "accept", "999", "--theme-id", "x", "--label", "X",
              "--definition", "x")
    assert res.exit_code == 1 and "no topic 999" in res.output
    res = run("--project", proj, "topics", "accept", "0", "--theme-id", "new_theme",
              "--label", "New theme", "--definition", "Answers about something new.")
    assert res.exit_code == 0, res.output
    from nlp.project import open_project

    p = open_project(proj)
    assert "new_theme" in p.store.active_codebook().theme_ids
    p.close()


def test_topics_on_too_few_answers_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NLP_EMBEDDER", "fake")
    proj = tmp_path / "p"
    run("init", proj)
    data = tmp_path / "a.csv"
    data.write_text("id,text\nr1,One answer about funding\nr2,Another about email\n")
    run("--project", proj, "import", data)
    res = run("--project", proj, "topics")
    assert res.exit_code == 1 and "20" in res.output


def test_code_after_decisions_rescores_the_unreviewed_answers(tmp_path, monkeypatch):
    """After a researcher's decisions, `nlp code` scores again the answers nobody reviewed
    (the reviewed keep their decisions) and says so; with nothing new it says what --all does."""
    monkeypatch.setenv("NLP_EMBEDDER", "fake:64")
    from nlp.project import open_project
    from nlp.store import decisions as dec

    proj = tmp_path / "p"
    assert run("init", proj).exit_code == 0
    texts = ["late payment hurts", "nobody called us back", "the tender was huge",
             "we subsidise the contract", "no reply to emails", "grants not contracts"]
    data = tmp_path / "a.csv"
    data.write_text("id,text\n" + "".join(f"r{i},{x}\n" for i, x in enumerate(texts)))
    assert run("--project", proj, "import", data).exit_code == 0
    res = run("--project", proj, "code", "--model", "none", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert "coded 6 answers" in res.output and "first time" in res.output
    res = run("--project", proj, "code", "--model", "none", "--device", "cpu")
    assert "coded 0 answers" in res.output and "No new decisions" in res.output
    assert "--all scores every answer again" in res.output
    from nlp.pipeline import model_cuts

    p = open_project(proj)
    tid = p.store.active_codebook().theme_ids[0]
    cuts = model_cuts(p.store)  # each theme's cut, for the review card
    assert set(cuts) == set(p.store.active_codebook().theme_ids)
    assert all(0 < c < 1 for c in cuts.values())
    dec.record_decisions(p.store, "r0", [dec.Decision(tid, "accepted")], coder="ana")
    p.close()
    res = run("--project", proj, "code", "--model", "none", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert "coded 5 answers" in res.output and "learned from 1 researcher" in res.output
    assert "the 5 answers no researcher has reviewed were scored again" in " ".join(
        res.output.split())
    p = open_project(proj)
    assert {(c.theme_id, c.status) for c in p.store.codings(coder="ana")} == {
        (tid, "accepted")}
    p.close()
    res = run("--project", proj, "code", "--model", "none", "--device", "cpu")
    assert "coded 0 answers" in res.output and "No new decisions" in res.output
