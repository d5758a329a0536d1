"""Issue 25, class 4: `nlp code --examples` with a huge sample obeys the import limits and
stays cheap. Each run is the real command in a child process held to 60 s of CPU and 1.5 GB of
address space by the kernel (RLIMIT_CPU, RLIMIT_AS): the limits are the subject, not a wall
clock (the wall-clock guard only catches a hang)."""
from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from harness import BASE_ENV, NLP, REPO

CPU_S = 60
MEMORY = 1536 * 1024 * 1024
THEMES = ["poor_communication", "underfunding_and_payment_risk", "local_commissioning"]
WORDS = "service staff waiting funding parking library bus school road safety cost".split()
pytestmark = pytest.mark.slow


def run_capped(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))

    threads = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return subprocess.run([*NLP, *map(str, args)], capture_output=True, text=True, cwd=REPO,
                          env={**BASE_ENV, **threads, **(env or {})}, preexec_fn=cap,
                          timeout=900)


def _rows(n: int, distinct: int, ids: bool):
    for i in range(n):
        j = i % distinct
        words = " ".join(WORDS[(j * 7 + w) % len(WORDS)] for w in range(8))
        row = {"text": f"{words} {j}", "themes": [THEMES[t] for t in range(j % 3)]}
        if ids:
            row = {"id": f"e{i}", **row}
        yield row


def write_examples(path: Path, n: int, distinct: int, ids: bool = True) -> Path:
    if path.suffix == ".csv":
        lines = ["id,text,themes" if ids else "text,themes"]
        lines += [(f"{r['id']}," if ids else "") + f"{r['text']},{';'.join(r['themes'])}"
                  for r in _rows(n, distinct, ids)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in _rows(n, distinct, ids)),
                        encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "in.csv"
    src.write_text("id,text\ne1,our reserves paid\nx2,nobody replied\nx3,the hall was cold\n",
                   encoding="utf-8")
    return src, REPO / "corpora" / "vcs-commissioning" / "codebook.yaml"


@pytest.mark.parametrize("name,distinct,sampled", [
    ("distinct.jsonl", 100_000, True),  # 100,000 different answers: a warned sample
    ("distinct.csv", 100_000, True),
    ("duplicates.jsonl", 40, False),  # the same 40 answers 2,500 times each: 40 examples
])
def test_a_huge_example_set_is_cheap(tmp_path, inputs, name, distinct, sampled):
    src, cb = inputs
    ex = write_examples(tmp_path / name, 100_000, distinct)
    out = tmp_path / "out.jsonl"
    res = run_capped("code", src, "--out", out, "--codebook", cb, "--examples", ex,
                     env={"NLP_CACHE_DIR": str(tmp_path / "cache")})
    err = " ".join(res.stderr.split())
    assert res.returncode == 0, err[-2000:]
    assert ("learning from a random 5000" in err) == sampled, err[-2000:]
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["e1", "x2", "x3"]
    # e1 is an example's id: the researcher's themes stand, no rank; the others are ranked.
    assert "review_rank" not in rows[0] and rows[0]["themes"] == ["poor_communication"]
    assert sorted(r["review_rank"] for r in rows[1:]) == [1, 2]


@pytest.mark.parametrize("name", ["over.jsonl", "over.csv"])
def test_an_example_file_over_the_import_limits_is_refused_naming_it(tmp_path, inputs, name):
    src, cb = inputs
    ex = write_examples(tmp_path / name, 2_000, 2_000)
    out = tmp_path / "out.jsonl"
    res = run_capped("code", src, "--out", out, "--codebook", cb, "--examples", ex,
                     env={"NLP_MAX_ROWS": "1000", "NLP_CACHE_DIR": str(tmp_path / "cache")})
    err = " ".join(res.stderr.split())
    assert res.returncode == 1, err
    assert name in err and "1,000 rows" in err and "Traceback" not in err, err
    assert not out.exists()
