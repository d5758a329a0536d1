"""User text in console messages is printed as written: ids, file and folder names, --sheet
values, REFI-QDA source names and codebook names holding console markup ("[/x]", "[bold]",
":smile:") neither crash a command (a crash after the import committed left exit 1 and a changed
project) nor vanish from its messages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import project_state, run_nlp
from hostile_files import CODEBOOK_OK, csv_bytes, qdpx_bytes, xlsx_bytes

TAG = "[/x][bold]:smile:"  # in a path: folder "…[" holding "x][bold]:smile:…"


def _under_tag(tmp: Path, name: str) -> Path:
    """A path whose text holds TAG ("[/x]" needs the folder separator)."""
    d = tmp / "d ["
    d.mkdir(exist_ok=True)
    return d / f"x][bold]:smile: {name}"


def _flat(s: str) -> str:
    return " ".join(s.split())


def _clean(res) -> None:
    assert "Traceback" not in res.stderr and "MarkupError" not in res.stderr, res.stderr
    assert "unexpected" not in res.stderr, res.stderr


def test_project_folder_and_codebook_name_with_markup(tmp_path: Path):
    cb = tmp_path / "cb.yaml"
    cb.write_text(CODEBOOK_OK.replace("name: tiny", "name: '[/x] tiny [bold]'"), encoding="utf-8")
    root = _under_tag(tmp_path, "proj")
    res = run_nlp("init", root, "--codebook", cb)
    _clean(res)
    assert res.returncode == 0, res.stderr
    assert TAG in _flat(res.stdout) and "[/x] tiny [bold]" in res.stdout


def test_import_summary_with_markup_in_file_name_and_ids(project: Path, tmp_path: Path):
    f = _under_tag(tmp_path, "answers.csv")
    f.write_bytes(csv_bytes([["id", "text"], ["[/x]", "The tender took nine months [/b]."],
                             ["[bold]2", "Payment came [red]late[/red]."]]))
    res = run_nlp("import", f, project=project)
    _clean(res)
    assert res.returncode == 0, res.stderr  # it committed: it must say so, not crash
    assert f.name in _flat(res.stdout)
    assert "[bold]" in f.name and "[bold]" in res.stdout  # did not vanish
    res = run_nlp("show", "[/x]", project=project)
    _clean(res)
    assert res.returncode == 0 and "[/x]" in res.stdout and "[/b]" in res.stdout
    res = run_nlp("list", project=project)
    assert "[bold]2" in res.stdout and "[red]late[/red]" in res.stdout


def test_errors_with_markup_in_user_text(project: Path, tmp_path: Path):
    before = project_state(project)
    folder = _under_tag(tmp_path, "folder.csv")
    folder.mkdir()
    res = run_nlp("import", folder, project=project)
    _clean(res)
    assert res.returncode == 1 and TAG in _flat(res.stderr) and "is a folder" in res.stderr
    book = tmp_path / "book.xlsx"
    book.write_bytes(xlsx_bytes({"S": [["id", "text"], [1, "An answer of some words."]]}))
    res = run_nlp("import", book, "--sheet", "[/x]", project=project)
    _clean(res)
    assert res.returncode == 1 and "no sheet '[/x]'" in res.stderr
    res = run_nlp("show", "[/nope]", project=project)
    _clean(res)
    assert res.returncode == 1 and "[/nope]" in res.stderr
    assert project_state(project) == before


def test_qdpx_source_name_with_markup(project: Path, tmp_path: Path):
    f = tmp_path / "p.qdpx"
    f.write_bytes(qdpx_bytes([{"name": "[/x] missing", "path": "gone.txt"},
                              {"name": "[/y] answer", "text": "The forms ran to eighty pages.",
                               "coded": True}]))
    res = run_nlp("import", f, project=project)
    _clean(res)
    assert res.returncode == 0, res.stderr
    assert "skipped source '[/x] missing'" in _flat(res.stdout)


MARKUP = st.lists(st.sampled_from(["[", "]", "/", "[/x]", "[bold]", "[/]", "[link=http://e]",
                                   ":smile:", "\\", "[red]", "x", " ", "é", "1"]),
                  min_size=1, max_size=8).map("".join).filter(lambda s: s.strip() != "")


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rid=MARKUP, name=MARKUP, value=MARKUP)
def test_markup_like_ids_names_and_values_print_as_written(tmp_path_factory, rid, name, value):
    """In-process CLI (typer's runner): import, list, show and a failing --sheet."""
    from typer.testing import CliRunner

    from nlp.app.cli import app
    from nlp.project import init_project

    tmp = tmp_path_factory.mktemp("m")
    init_project(tmp / "p").close()
    safe = re.sub(r"[/\\]", "_", name).strip() or "x"
    f = tmp / f"{safe}.csv"
    f.write_bytes(csv_bytes([["id", "text", "group"], [rid.strip(), f"An answer {value}", value]]))
    runner = CliRunner()
    res = runner.invoke(app, ["--project", str(tmp / "p"), "import", str(f)])
    assert res.exit_code == 0, res.output
    assert _flat(f.name) in _flat(res.output)
    res = runner.invoke(app, ["--project", str(tmp / "p"), "show", rid.strip()])
    assert res.exit_code == 0, res.output
    assert _flat(f"An answer {value}".strip()) in _flat(res.output)
    book = tmp / "b.xlsx"
    book.write_bytes(xlsx_bytes({"S": [["id", "text"], [1, "An answer of some words."]]}))
    res = runner.invoke(app, ["--project", str(tmp / "p"), "import", str(book), "--sheet", name])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"no sheet {name!r}" in res.output or "no sheet" in res.output
