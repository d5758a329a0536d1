"""Ids that repeat across files (issue 15, finding 7): a second wave or a second question
exported to its own file numbers its answers from 1 again. Both import; the second file's
answers are keyed FILE-STEM:ID, keep the file's own id (`id_in_file`), and stay traceable;
re-importing stays idempotent, and an edited copy of the same file is still refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import project_state, run_nlp
from hostile_files import ANSWER, csv_bytes, jsonl_bytes, xlsx_bytes


def wave(n: int, label: str) -> list[list[str]]:
    return [["id", "text"], *[[str(i), f"{label}: {ANSWER} ({i})"] for i in range(1, n + 1)]]


def _corpus(project: Path):
    from nlp.project import open_project

    p = open_project(project)
    try:
        return {r.response_id: r for r in p.store.corpus()}
    finally:
        p.close()


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "in one command"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_a_second_wave_numbered_from_one_imports(fmt: str, together: bool, project: Path,
                                                  tmp_path: Path):
    def write(name: str, rows: list[list[str]]) -> Path:
        f = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            f.write_bytes(csv_bytes(rows))
        elif fmt == "xlsx":
            f.write_bytes(xlsx_bytes({"S": rows}))
        else:
            f.write_bytes(jsonl_bytes([dict(zip(rows[0], r)) for r in rows[1:]]))
        return f

    w1, w2 = write("wave1", wave(40, "first wave")), write("wave2", wave(30, "second wave"))
    if together:
        res = run_nlp("import", w1, w2, project=project)
        assert res.returncode == 0, res.stderr
    else:
        assert run_nlp("import", w1, project=project).returncode == 0
        res = run_nlp("import", w2, project=project)
        assert res.returncode == 0, res.stderr
    assert "stored as 'wave2:ID'" in " ".join(res.stdout.split())
    got = _corpus(project)
    assert len(got) == 70
    assert got["3"].text.startswith("first wave") and got["3"].source == w1.name
    r = got["wave2:3"]
    assert r.text.startswith("second wave") and r.source == w2.name
    assert r.metadata["id_in_file"] == "3"  # traceable: file, its own id, row or line
    assert r.location == (3 if fmt == "jsonl" else 4)
    show = run_nlp("show", "wave2:3", project=project)
    assert show.returncode == 0 and "id_in_file: 3" in show.stdout
    # Idempotent: either file again adds nothing and changes nothing.
    before = project_state(project)
    for f in (w2, w1):
        again = run_nlp("import", f, project=project)
        assert again.returncode == 0 and project_state(project) == before


def test_cumulative_export_skips_what_is_there(project: Path, tmp_path: Path):
    """A later export holding the earlier answers (same ids, same texts) plus new ones: the
    old rows are skipped as present, the new ones keep their plain ids."""
    first, later = tmp_path / "march.csv", tmp_path / "april.csv"
    first.write_bytes(csv_bytes(wave(20, "w")))
    later.write_bytes(csv_bytes(wave(25, "w")))
    assert run_nlp("import", first, project=project).returncode == 0
    res = run_nlp("import", later, project=project)
    assert res.returncode == 0, res.stderr
    got = _corpus(project)
    assert len(got) == 25 and "25" in got and not any(":" in k for k in got)


def test_id_prefix_sets_the_key(project: Path, tmp_path: Path):
    w1, w2 = tmp_path / "a.csv", tmp_path / "b.csv"
    w1.write_bytes(csv_bytes(wave(5, "first")))
    w2.write_bytes(csv_bytes(wave(5, "second")))
    assert run_nlp("import", w1, project=project).returncode == 0
    res = run_nlp("import", w2, "--id-prefix", "w2-", project=project)
    assert res.returncode == 0, res.stderr
    got = _corpus(project)
    assert got["w2-1"].text.startswith("second") and got["w2-1"].metadata["id_in_file"] == "1"
    assert "1" in got and len(got) == 10


def test_an_edited_copy_of_the_same_file_is_refused(project: Path, tmp_path: Path):
    f = tmp_path / "answers.csv"
    f.write_bytes(csv_bytes(wave(5, "first")))
    assert run_nlp("import", f, project=project).returncode == 0
    rows = wave(5, "first")
    rows[3][1] = "An answer the respondent changed afterwards, at some length."
    f.write_bytes(csv_bytes(rows))
    before = project_state(project)
    res = run_nlp("import", f, project=project)
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1 and "answers.csv, row 4: id '3' is already in the project" in msg
    assert "--id-prefix" in msg
    assert project_state(project) == before


def test_keyed_answers_survive_a_refi_qda_round_trip(project: Path, tmp_path: Path):
    w1, w2 = tmp_path / "wave1.csv", tmp_path / "wave2.csv"
    w1.write_bytes(csv_bytes(wave(3, "first")))
    w2.write_bytes(csv_bytes(wave(3, "second")))
    assert run_nlp("import", w1, w2, project=project).returncode == 0
    out = tmp_path / "p.qdpx"
    assert run_nlp("export", "--format", "qdpx", "--out", out, "--no-anonymise",
                   project=project).returncode == 0
    other = tmp_path / "other"
    assert run_nlp("init", other).returncode == 0
    assert run_nlp("import", out, project=other).returncode == 0
    assert set(_corpus(other)) == set(_corpus(project))
