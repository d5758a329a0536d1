"""Output paths that could destroy a project or a user's files (issue 25, class 1).

One guard (nlp.fsio) for every path the toolkit writes: a model folder (`nlp train --out`) is
replaced only when it is new, empty or a model the toolkit saved with nothing else in it
(never a project, never a user's folder); the names the toolkit gives its own files beside an
output (file mode's `.OUT.partial`, a report's parts, the figures) are never written through a
symbolic link. A refused command exits 1 with one paragraph, and the project (its database
byte for byte, project.json) and the user's files are as they were.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from harness import project_state, run_limited, run_nlp
from hostile_files import ANSWER, CODEBOOK_OK, answers_csv, jsonl_bytes


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root` (not following links): file bytes, link targets, folders."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                out[rel] = p.read_bytes()
            else:
                out[rel] = "special"
    return out


def _refused(res, *patterns: str) -> str:
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1, (res.returncode, res.stdout, msg)
    assert "Traceback" not in msg and "unexpected" not in msg, msg
    for p in patterns:
        assert p in msg, msg
    return msg


# --- nlp train --out ----------------------------------------------------------------------------
def _variants(tmp_path: Path, project: Path) -> dict[str, tuple[Path, str]]:
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("my notes")
    (user / "sub").mkdir()
    (user / "sub" / "x.txt").write_text("x")
    afile = tmp_path / "a-file"
    afile.write_text("keep me")
    link = tmp_path / "link-to-project"
    link.symlink_to(project)
    (project / "cache").mkdir(exist_ok=True)
    only_config = tmp_path / "fake-model"  # config.json of something else, nothing more
    only_config.mkdir()
    (only_config / "config.json").write_text('{"model_type": "bert"}')
    return {
        "the project folder": (project, "holds a project"),
        "a link to the project": (link, "holds a project"),
        "the project's cache": (project / "cache" / "model", "holds a project"),
        "a user's folder with files": (user, "it holds 'notes.txt', 'sub'"),
        "a file": (afile, "it is a file, not a folder"),
        "another tool's model folder": (only_config, "not a theme model folder the toolkit"),
    }


@pytest.mark.parametrize("which", ["the project folder", "a link to the project",
                                   "the project's cache", "a user's folder with files",
                                   "a file", "another tool's model folder"])
def test_train_never_replaces_what_is_not_a_model(filled: Path, tmp_path: Path, which: str):
    target, says = _variants(tmp_path, filled)[which]
    before_project, before_tree = project_state(filled), _tree(tmp_path)
    raw = (filled / "project.db").read_bytes()
    res = run_limited("train", "--out", target)
    _refused(res, says)
    assert project_state(filled) == before_project
    assert (filled / "project.db").read_bytes() == raw
    assert _tree(tmp_path) == before_tree  # nothing written, nothing left behind


def _tiny_model():
    from nlp.classify.coding import train_classifier
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder

    cb = loads_codebook(CODEBOOK_OK)
    return train_classifier(cb, ["The tender took nine months.", "The price is too low."],
                            [["slow"], ["money"]], embedder=FakeEmbedder())


def test_a_model_folder_is_replaced_only_when_it_is_a_model(tmp_path: Path):
    from nlp import errors
    from nlp.classify.persist import load_model, save_model

    clf = _tiny_model()
    empty = tmp_path / "empty"
    empty.mkdir()
    save_model(clf, empty, embedder_spec="fake")  # an empty folder may be used
    first = (empty / "config.json").read_bytes()
    save_model(clf, empty, embedder_spec="fake")  # a model of ours is replaced
    assert load_model(empty).theme_ids_ == clf.theme_ids_
    assert json.loads(first)["format"] == json.loads((empty / "config.json").read_bytes())["format"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    (empty / "notes.txt").write_text("mine")  # a model with a user's file in it: kept
    with pytest.raises(errors.OutputError, match="notes.txt"):
        save_model(clf, empty, embedder_spec="fake")
    assert (empty / "notes.txt").read_text() == "mine"
    (empty / "notes.txt").unlink()
    (empty / "config.json").unlink()
    os.mkfifo(empty / "config.json")  # a pipe for config.json: refused, never opened
    with pytest.raises(errors.OutputError):
        save_model(clf, empty, embedder_spec="fake")


def test_a_model_is_saved_through_a_link_to_a_model_folder(tmp_path: Path):
    from nlp.classify.persist import load_model, save_model

    clf = _tiny_model()
    real = tmp_path / "real"
    save_model(clf, real, embedder_spec="fake")
    link = tmp_path / "latest"
    link.symlink_to(real)
    save_model(clf, link, embedder_spec="fake")
    assert link.is_symlink() and load_model(link).theme_ids_ == clf.theme_ids_


# --- file mode: the partial files beside OUT ------------------------------------------------------
@pytest.fixture
def src(tmp_path: Path) -> Path:
    f = tmp_path / "in.jsonl"
    f.write_bytes(jsonl_bytes([{"id": "a", "text": ANSWER}, {"id": "b", "text": "Too slow."}]))
    return f


@pytest.mark.parametrize("name,to", [
    (".out.jsonl.partial", "project.db"),
    (".out.jsonl.partial", "project.json"),
    (".out.jsonl.partial.json", "project.json"),
    (".out.jsonl.partial.json", "project.db"),
    (".out.jsonl.partial", "a user's file"),
    (".out.jsonl.partial", "a folder"),
])
def test_file_mode_never_writes_through_its_partial_files(filled: Path, tmp_path: Path,
                                                         src: Path, name: str, to: str):
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes")
    target = {"project.db": filled / "project.db", "project.json": filled / "project.json",
              "a user's file": mine, "a folder": filled}[to]
    (outdir / name).symlink_to(target)
    before, raw = project_state(filled), (filled / "project.db").read_bytes()
    res = run_limited("code", src, "--out", outdir / "out.jsonl", "--model", "none")
    _refused(res, "symbolic link", name)
    assert project_state(filled) == before and (filled / "project.db").read_bytes() == raw
    assert mine.read_text() == "my notes"
    assert not (outdir / "out.jsonl").exists()


@pytest.mark.parametrize("what", ["a pipe", "a folder"])
def test_file_mode_partial_that_is_not_a_file(tmp_path: Path, src: Path, what: str):
    part = tmp_path / ".out.jsonl.partial"
    os.mkfifo(part) if what == "a pipe" else part.mkdir()
    res = run_limited("code", src, "--out", tmp_path / "out.jsonl", "--model", "none",
                      hang_seconds=120)
    _refused(res, f"this is {what}, not a file")


def test_file_mode_out_into_a_project(filled: Path, src: Path, tmp_path: Path):
    before = project_state(filled)
    for out in (filled / "project.json", filled / "cache" / "x.jsonl",
                filled / "project.db-journal"):
        _refused(run_limited("code", src, "--out", out, "--model", "none"),
                 "one of the project's own files")
    link = tmp_path / "coded.jsonl"
    link.symlink_to(filled / "project.json")
    _refused(run_limited("code", src, "--out", link, "--model", "none"),
             "one of the project's own files")
    assert project_state(filled) == before


def test_file_mode_still_writes_beside_a_regular_out(tmp_path: Path, src: Path):
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    res = run_limited("code", src, "--out", out, "--model", "none")
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["a", "b"]
    assert not list(tmp_path.glob(".out.jsonl.partial*"))


# --- report and figures: the names the toolkit gives its files ------------------------------------
@pytest.mark.parametrize("name", ["report.md", "theme-shares.png"])
@pytest.mark.parametrize("to", ["project.db", "project.json"])
def test_report_never_writes_through_a_link_in_its_folder(filled: Path, tmp_path: Path,
                                                         name: str, to: str):
    out = tmp_path / "report"
    out.mkdir()
    (out / name).symlink_to(filled / to)
    before, raw = project_state(filled), (filled / "project.db").read_bytes()
    res = run_limited("report", "--out", out, "--format", "md", "--no-anonymise",
                      project=filled)
    _refused(res, "symbolic link")
    assert project_state(filled) == before and (filled / "project.db").read_bytes() == raw
    assert (out / name).is_symlink()


def _topics():
    from nlp.topics.model import Topic, TopicResult

    topics = tuple(Topic(topic_id=i, label=f"t{i}", keywords=("a", "b"), size=2, share=0.5,
                         theme_id=None, theme_similarity=None, emergent=True)
                   for i in range(2))
    return TopicResult(topics=topics, response_ids=("r1", "r2", "r3", "r4"),
                       assignments=(0, 0, 1, 1), excluded=(), outlier_share=0.0,
                       unassigned_share=0.0, stability=None, coherence=0.0, diversity=1.0,
                       params={}, embedder="fake", centroids=np.eye(2, 4, dtype=np.float32))


@pytest.mark.parametrize("name", ["topic_sizes.html", "plotly.min.js", "intertopic_map.html"])
@pytest.mark.parametrize("to", ["project.db", "a missing file elsewhere"])
def test_figures_never_write_through_a_link(project: Path, tmp_path: Path, name: str, to: str):
    from nlp import errors
    from nlp.topics.figures import write_figures

    figs = tmp_path / "figs"
    figs.mkdir()
    target = project / "project.db" if to == "project.db" else tmp_path / "elsewhere.txt"
    (figs / name).symlink_to(target)
    before, raw = project_state(project), (project / "project.db").read_bytes()
    with pytest.raises(errors.OutputError, match="symbolic link"):
        write_figures(_topics(), figs, formats=("html",))
    assert project_state(project) == before and (project / "project.db").read_bytes() == raw
    assert not (tmp_path / "elsewhere.txt").exists()


def test_figures_folder_checked_like_any_output(project: Path, tmp_path: Path):
    from nlp import errors
    from nlp.topics.figures import write_figures

    (project / "cache").mkdir(exist_ok=True)
    before = project_state(project)
    with pytest.raises(errors.OutputError, match="project's own files"):
        write_figures(_topics(), project / "cache", formats=("html",))
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(errors.OutputError, match="not a folder"):
        write_figures(_topics(), afile, formats=("html",))
    assert project_state(project) == before and afile.read_text() == "x"
    good = tmp_path / "figs"
    paths = write_figures(_topics(), good, formats=("html",))
    assert {p.name for p in paths} == {"intertopic_map.html", "topic_sizes.html",
                                       "topic_hierarchy.html"}
    assert (good / "plotly.min.js").stat().st_size > 100_000


@pytest.mark.slow
def test_topics_figures_cli_through_a_link_to_the_database(filled: Path, tmp_path: Path):
    """The reported case end to end: `nlp topics --figures DIR` with DIR/topic_sizes.html a
    link to project.db (fits a topic model: slow)."""
    f = tmp_path / "more.csv"
    f.write_bytes(answers_csv(30, start=100))
    assert run_nlp("import", f, project=filled).returncode == 0
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "topic_sizes.html").symlink_to(filled / "project.db")
    res = run_nlp("topics", "--figures", figs, "--no-png", project=filled)
    _refused(res, "symbolic link")
    assert run_nlp("list", project=filled).returncode == 0
