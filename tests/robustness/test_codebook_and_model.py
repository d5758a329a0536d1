"""Hostile codebooks (missing fields, duplicate ids, YAML bombs, code-running tags) and model
folders (another codebook's, another embedder's, a pickle inside, damaged files)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from harness import new_project, project_state, run_nlp
from hostile_files import CODEBOOK_OK, YAML_BOMB, csv_bytes, junk

THEMES = """themes:
  - id: slow
    label: Slow process
    definition: The process takes too long.
"""

CODEBOOK_CASES = {
    "missing field (theme definition)": (
        "name: x\nversion: 1\nthemes:\n  - id: slow\n    label: Slow process\n",
        r"theme 1 \(slow\) is missing field 'definition'"),
    "missing field (themes)": ("name: x\nversion: 1\n", r"missing field 'themes'"),
    "missing field (version)": ("name: x\n" + THEMES, r"missing field 'version'"),
    "duplicate theme ids": (
        "name: x\nversion: 1\n" + THEMES + THEMES.split("\n", 1)[1],
        r"duplicate theme id 'slow' \(theme 2\)"),
    "YAML bomb (billion laughs with aliases)": (YAML_BOMB, r"aliases \(\*name\) are not allowed"),
    "a tag that would run code": (
        "name: x\nversion: 1\nthemes: !!python/object/apply:os.system ['touch PWNED']\n",
        r"not valid YAML \(could not determine a constructor"),
    "nested thousands of levels deep": ("[" * 20000, r"nested thousands of levels deep"),
    "not a mapping": ("- just\n- a list\n", r"the top level must be a mapping"),
    "a theme id with spaces": ("name: x\nversion: 1\nthemes:\n  - {id: 'not ok', label: L, "
                               "definition: D}\n", r"id 'not ok' must be letters, digits"),
    "a version that is a list": ("name: x\nversion: [1, 2]\n" + THEMES,
                                 r"'version' must be a text or a number, not a list"),
    "not UTF-8 (binary junk)": (junk(2000), r"not UTF-8 text"),
    "over 2 MB": ("name: x\nversion: 1\n" + THEMES + "# " + "x" * 2_100_000 + "\n",
                  r"too large to be a codebook"),
    "empty file": ("", r"the top level must be a mapping"),
}


@pytest.mark.parametrize("name", list(CODEBOOK_CASES))
def test_bad_codebook_creates_no_project(name: str, tmp_path: Path):
    content, pattern = CODEBOOK_CASES[name]
    cb = tmp_path / "codebook.yaml"
    cb.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    target = tmp_path / "proj"
    res = run_nlp("init", target, "--codebook", cb, cwd=tmp_path)
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in msg and "error: unexpected" not in msg, msg
    assert "codebook.yaml" in msg and re.search(pattern, msg), msg
    assert not target.exists(), "a failed init left a folder behind"
    assert not (tmp_path / "PWNED").exists()


def test_codebook_folder_is_a_clear_error(tmp_path: Path):
    (tmp_path / "cb.yaml").mkdir()
    res = run_nlp("init", tmp_path / "proj", "--codebook", tmp_path / "cb.yaml")
    assert res.returncode == 1 and "is a folder, not a codebook file" in res.stderr


def test_changed_codebook_under_the_same_version_is_refused(project: Path):
    """A codebook edited without a new version number would silently change what old codings
    mean: refused, and the project is unchanged."""
    from nlp import errors
    from nlp.codebook import loads_codebook
    from nlp.project import open_project

    p = open_project(project)
    cb = p.store.active_codebook()
    before = project_state(project)
    changed = loads_codebook(CODEBOOK_OK.replace("name: tiny", f"name: {cb.name}")
                             .replace("version: 1", f"version: {cb.version}"))
    with pytest.raises(errors.CodebookError, match="give the changed codebook a new version"):
        p.store.add_codebook(changed)
    p.close()
    assert project_state(project) == before


# --- model folders ------------------------------------------------------------------------
TRAIN = [("The tender took nine months and the forms ran to eighty pages.", ["slow"]),
         ("We waited a year for a decision on the contract.", ["slow"]),
         ("The contract price does not cover our staff costs.", ["money"]),
         ("Payment comes months late and the fee is far too low.", ["money"]),
         ("Everything about the process was slow and the price too low.", ["slow", "money"]),
         ("Nothing to add about this service at all really.", [])]


@pytest.fixture
def tiny_model(tmp_path: Path):
    """A model trained with the fake embedder on codebook 'tiny' v1, saved to tmp."""
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder
    from nlp.classify.persist import save_model
    from nlp.classify.coding import train_classifier

    cb = loads_codebook(CODEBOOK_OK)
    clf = train_classifier(cb, [t for t, _ in TRAIN], [y for _, y in TRAIN],
                           embedder=FakeEmbedder())
    return save_model(clf, tmp_path / "model", embedder_spec="fake"), cb


def test_model_from_another_codebook_version_is_refused(tiny_model):
    from nlp import errors
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder
    from nlp.classify.persist import load_model

    d, cb = tiny_model
    assert load_model(d, codebook=cb, embedder=FakeEmbedder()).theme_ids_ == ["slow", "money"]
    v2 = loads_codebook(CODEBOOK_OK.replace("version: 1", "version: 2").replace(
        "takes too long.", "takes too long, or asks for too much."))
    with pytest.raises(errors.ModelError,
                       match=r"trained on codebook 'tiny' version 1, but you are coding with "
                             r"'tiny' version 2"):
        load_model(d, codebook=v2, embedder=FakeEmbedder())
    with pytest.raises(errors.ModelError, match=r"embeddings from 'fake:32', not 'fake:64'"):
        load_model(d, codebook=cb, embedder=FakeEmbedder(64))


def test_cli_code_with_another_codebooks_model_changes_nothing(tiny_model, tmp_path: Path):
    d, _ = tiny_model
    cb2 = tmp_path / "v2.yaml"
    cb2.write_text(CODEBOOK_OK.replace("version: 1", "version: 2").replace(
        "takes too long.", "takes too long, or asks for too much."), encoding="utf-8")
    root = new_project(tmp_path / "proj", codebook=cb2)
    answers = tmp_path / "a.csv"
    answers.write_bytes(csv_bytes([["id", "text"], *[[str(i), t] for i, (t, _) in
                                                       enumerate(TRAIN)]]))
    assert run_nlp("import", answers, project=root).returncode == 0
    before = project_state(root)
    res = run_nlp("code", "--model", d, project=root)
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1 and "Traceback" not in msg, msg
    assert "trained on codebook 'tiny' version 1" in msg and "Retrain it" in msg, msg
    assert project_state(root) == before


def test_pickle_inside_a_model_is_never_loaded(tiny_model, tmp_path: Path):
    """weights.npz holding an object array (a pickle) is refused before anything runs it."""
    from nlp import errors
    from nlp.embed import FakeEmbedder
    from nlp.classify.persist import load_model

    d, cb = tiny_model
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    with np.load(d / "weights.npz") as w:
        arrays = {k: w[k] for k in w.files}
    first = next(iter(arrays))
    arrays[first] = np.array([Evil()], dtype=object)
    np.savez(d / "weights.npz", **arrays)
    with pytest.raises(errors.ModelError, match=r"weights\.npz: damaged or incomplete"):
        load_model(d, codebook=cb, embedder=FakeEmbedder())
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["config.json", "weights.npz", "codebook.yaml"])
def test_damaged_model_files_are_clear_errors(tiny_model, damage: str):
    from nlp import errors
    from nlp.embed import FakeEmbedder
    from nlp.classify.persist import load_model

    d, cb = tiny_model
    f = d / damage
    if damage == "codebook.yaml":
        f.unlink()
    else:
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(errors.ModelError, match=re.escape(damage) + r".*damaged"):
        load_model(d, codebook=cb, embedder=FakeEmbedder())
