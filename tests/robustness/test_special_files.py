"""Special and huge files (issue 25, class 3): a pipe, a device, a socket or a sparse file of
gigabytes given wherever the toolkit reads a user's file (an import, a codebook, file-mode
input, --examples, a model's files, a keep-list).

Every reader goes through one checked reader (`nlp.fsio.open_input` / `read_input`): the file
type and size are checked with os.stat before the file is opened, and it is read in bounded
pieces. Each command runs in a child held to 1.5 GB and 60 s of CPU (`run_limited`); a pipe
that were opened would block for ever using no CPU, so those runs have a short hang guard. It
ends with one clear paragraph naming the file and the problem, and a project is unchanged.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from harness import project_state, run_limited
from hostile_files import ANSWER, CODEBOOK_OK, answers_csv, jsonl_bytes

GB = 1024 ** 3
HANG = 120  # a reader that opened a pipe would wait for ever; fail well before that


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _link(to: str) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.symlink_to(to)
        return path
    return make


def _socket(path: Path) -> Path:
    # A socket's path must be short (108 bytes): made in a short folder, linked from `path`.
    d = Path(tempfile.mkdtemp(prefix="nlps", dir="/tmp"))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d / "s"))
    _SOCKETS.append((s, d))
    path.symlink_to(d / "s")
    return path


def _sparse(path: Path) -> Path:
    with open(path, "wb") as fh:  # 3 GB that take no disk: reading it would cost 3 GB
        fh.truncate(3 * GB)
    return path


def _fifo_behind_link(path: Path) -> Path:
    os.mkfifo(path.with_name("real-" + path.name))
    path.symlink_to(path.with_name("real-" + path.name))
    return path


_SOCKETS: list = []


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while _SOCKETS:
        s, d = _SOCKETS.pop()
        s.close()
        shutil.rmtree(d, ignore_errors=True)


SPECIAL = {
    "fifo": (_fifo, r"is a pipe, not a regular file"),
    "/dev/zero": (_link("/dev/zero"), r"is a device, not a regular file"),
    "/dev/urandom": (_link("/dev/urandom"), r"is a device, not a regular file"),
    "socket": (_socket, r"is a socket, not a regular file"),
    "sparse 3 GB": (_sparse, r"3\.0 GB, over the limit|too large"),
    "link to a fifo": (_fifo_behind_link, r"is a pipe, not a regular file"),
}
# Every kind for the readers users reach most; three kinds for each of the others.
ALL = list(SPECIAL)
SOME = ["fifo", "/dev/zero", "sparse 3 GB"]


def _err(res) -> str:
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1, (res.returncode, res.stdout, msg)
    assert "Traceback" not in msg and "unexpected" not in msg, msg
    assert len(res.stderr.strip().splitlines()) <= 6, msg  # one paragraph, not a dump
    return msg


def _check(res, kind: str, name: str) -> None:
    import re

    msg = _err(res)
    assert name in msg, msg
    assert re.search(SPECIAL[kind][1], msg), msg


# --- imports into a project ---------------------------------------------------------------------
@pytest.mark.parametrize("suffix,kind", [(".csv", k) for k in ALL]
                         + [(s, k) for s in (".xlsx", ".qdpx", ".docx") for k in SOME])
def test_import_of_a_special_file(project: Path, tmp_path: Path, suffix: str, kind: str):
    f = SPECIAL[kind][0](tmp_path / f"answers{suffix}")
    before = project_state(project)
    res = run_limited("import", f, project=project, hang_seconds=HANG)
    _check(res, kind, f.name)
    assert project_state(project) == before


# --- file mode: the input, the codebook, the examples ------------------------------------------
@pytest.fixture
def src(tmp_path: Path) -> Path:
    f = tmp_path / "in.jsonl"
    f.write_bytes(jsonl_bytes([{"id": "a", "text": ANSWER}]))
    return f


@pytest.fixture
def codebook(tmp_path: Path) -> Path:
    f = tmp_path / "cb.yaml"
    f.write_text(CODEBOOK_OK, encoding="utf-8")
    return f


@pytest.mark.parametrize("kind", ALL)
def test_file_mode_input_codebook_and_examples(tmp_path: Path, src: Path, codebook: Path,
                                               kind: str):
    out = tmp_path / "out.jsonl"
    make = SPECIAL[kind][0]
    special_in = make(tmp_path / "special-in.jsonl")
    res = run_limited("code", special_in, "--out", out, "--codebook", codebook,
                      "--model", "none", hang_seconds=HANG)
    _check(res, kind, special_in.name)
    special_cb = make(tmp_path / "special-cb.yaml")
    res = run_limited("code", src, "--out", out, "--codebook", special_cb, "--model", "none",
                      hang_seconds=HANG)
    _check(res, kind, special_cb.name)
    special_ex = make(tmp_path / "special-ex.jsonl")
    res = run_limited("code", src, "--out", out, "--codebook", codebook, "--examples",
                      special_ex, "--model", "none", hang_seconds=HANG)
    _check(res, kind, special_ex.name)
    assert not out.exists()


@pytest.mark.parametrize("kind", SOME)
def test_init_with_a_special_codebook(tmp_path: Path, kind: str):
    cb = SPECIAL[kind][0](tmp_path / "codebook.yaml")
    res = run_limited("init", tmp_path / "p", "--codebook", cb, hang_seconds=HANG)
    msg = _err(res)
    assert "is a folder" not in msg, msg  # a pipe was once called a folder
    _check(res, kind, cb.name)
    assert not (tmp_path / "p").exists()


# --- a model's files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    from nlp.classify.coding import train_classifier
    from nlp.classify.persist import save_model
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder

    cb = loads_codebook(CODEBOOK_OK)
    clf = train_classifier(cb, ["The tender took nine months.", "The price is too low."],
                           [["slow"], ["money"]], embedder=FakeEmbedder())
    return save_model(clf, tmp_path_factory.mktemp("m") / "model", embedder_spec="fake")


@pytest.mark.parametrize("member", ["config.json", "weights.npz", "codebook.yaml",
                                    "lexical.json"])
@pytest.mark.parametrize("kind", SOME + ["socket"])
def test_model_file_that_is_special(saved_model: Path, tmp_path: Path, src: Path,
                                    codebook: Path, member: str, kind: str):
    model = tmp_path / "model"
    shutil.copytree(saved_model, model)
    (model / member).unlink()
    SPECIAL[kind][0](model / member)
    out = tmp_path / "out.jsonl"
    res = run_limited("code", src, "--out", out, "--model", model, "--codebook", codebook,
                      hang_seconds=HANG)
    _check(res, kind, member)
    assert not out.exists()


# --- a keep-list named in project.json ------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL)
def test_keep_list_that_is_special(project: Path, tmp_path: Path, kind: str):
    f = tmp_path / "answers.csv"
    f.write_bytes(answers_csv(3))
    assert run_limited("import", f, project=project).returncode == 0
    keep = SPECIAL[kind][0](tmp_path / "keep.txt")
    config = json.loads((project / "project.json").read_text(encoding="utf-8"))
    config["anonymise"] = {"keep_file": str(keep)}
    (project / "project.json").write_text(json.dumps(config), encoding="utf-8")
    before = project_state(project)
    out = tmp_path / "coded.csv"
    res = run_limited("export", "--format", "csv", "--out", out, project=project,
                      hang_seconds=HANG)
    _check(res, kind, "keep.txt")
    assert "anonymise.keep_file" in res.stderr
    assert project_state(project) == before and not out.exists()


# --- the one reader, in process -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ALL)
def test_read_input_refuses_before_reading(tmp_path: Path, kind: str):
    from nlp import errors
    from nlp.fsio import read_input

    f = SPECIAL[kind][0](tmp_path / "f.csv")
    with pytest.raises(errors.InputError) as info:
        read_input(f)
    import re

    assert re.search(SPECIAL[kind][1], str(info.value)), str(info.value)


def test_read_input_reads_a_regular_file_and_names_the_limit(tmp_path: Path, monkeypatch):
    from nlp import errors
    from nlp.fsio import read_input

    f = tmp_path / "a.csv"
    f.write_bytes(b"x" * (3 * 1024 * 1024 + 5))  # more than one piece
    assert read_input(f) == f.read_bytes()
    monkeypatch.setenv("NLP_MAX_FILE_MB", "2")
    with pytest.raises(errors.InputError, match=r"3\.0 MB, over the limit of 2\.0 MB.*"
                                                r"NLP_MAX_FILE_MB"):
        read_input(f)
    with pytest.raises(errors.InputError, match="no such file"):
        read_input(tmp_path / "missing.csv")
    d = tmp_path / "folder.csv"
    d.mkdir()
    with pytest.raises(errors.InputError, match="is a folder, not a file"):
        read_input(d)
    assert stat.S_ISDIR(d.stat().st_mode)
