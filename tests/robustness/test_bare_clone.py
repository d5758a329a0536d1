"""The test suite passes on a plain clone (issue 15, finding 8): nothing may read files that
only CI's checkout has beside it (../shared). The repository's tracked files are copied into
an empty folder (what `git clone` gives a new user) and the tests that used to read
../shared/seeds run there. CI also runs the whole suite in such a clone (.ci/run)."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import BASE_ENV, REPO

NEEDLE = "../" + "shared"  # spelled in two so this file does not match itself


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.fail("the bare-clone test needs the repository's git metadata")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def _beside(tree: ast.AST) -> list[int]:
    """Lines building a path to ../shared: `X.parent / "shared"`, or a "../shared" string
    used in code (docstrings and comments aside)."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    lines = []
    for n in ast.walk(tree):
        if (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
                and isinstance(n.right, ast.Constant) and n.right.value == "shared"):
            lines.append(n.lineno)
        elif (isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
              and NEEDLE in n.value):
            lines.append(n.lineno)
    return lines


def test_no_test_or_library_code_reads_beside_the_clone():
    """Only the evaluation harness (documented: it needs the reports) and the optional check
    of the shipped passages against the reports (NLP_SEEDS_DIR, skipped where they are
    absent) may look in ../shared."""
    hits = []
    for rel in _tracked():
        if not rel.endswith(".py") or rel.startswith("evaluation/"):
            continue
        text = (REPO / rel).read_text(encoding="utf-8")
        lines = text.splitlines()
        for n in _beside(ast.parse(text)):
            if "SEEDS" not in lines[n - 1]:
                hits.append(f"{rel}:{n}: {lines[n - 1].strip()}")
    assert not hits, "\n".join(hits)


def test_the_tests_that_read_shared_seeds_pass_in_a_bare_copy(tmp_path: Path):
    empty = tmp_path / "empty"
    clone = empty / "consultation-nlp"
    for rel in _tracked():
        src = REPO / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    assert [p.name for p in empty.iterdir()] == ["consultation-nlp"]
    env = {**BASE_ENV, "PYTHONPATH": str(clone)}
    env.pop("NLP_SEEDS_DIR", None)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/unit/test_corpora.py"], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert re.search(r"\d+ passed", res.stdout), res.stdout  # exit 5 (nothing ran) fails too
    # The PDF report test's project (its LibreOffice conversion runs in the main suite).
    script = ("import sys, tempfile; from pathlib import Path; "
              "sys.path.insert(0, 'tests/integration'); import test_report_pdf as t; "
              "p = t.bundled_like_project(Path(tempfile.mkdtemp())); "
              "print(p.store.count_responses(), len(p.store.codings()))")
    res = subprocess.run([sys.executable, "-c", script], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    answers, codings = map(int, res.stdout.split())
    assert answers >= 200 and codings > 0
