"""Atomic imports and typed values (issue 15, finding 5): a command over several files stores
all of them or none (a .qdpx included); badly typed REFI-QDA values, JSON nested 100,000 deep
and a damaged model config.json are clear errors naming the file and the element or field."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import project_state, run_nlp
from hostile_files import ANSWER, CODEBOOK_OK, answers_csv, jsonl_bytes, qdpx_bytes


def _refused(res, *patterns: str) -> str:
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1, (res.stdout, msg)
    assert "Traceback" not in msg and "unexpected" not in msg, msg
    for p in patterns:
        assert re.search(p, msg), msg
    return msg


def good_qdpx() -> bytes:
    return qdpx_bytes([{"name": "int-1", "text": "The forms ran to eighty pages.", "coded": True}])


def bad_qdpx() -> bytes:
    return qdpx_bytes([{"name": "int-2", "text": ANSWER, "coded": True,
                        "values": [("age", "IntegerValue", "abc")]}])


@pytest.mark.parametrize("order", ["csv then bad qdpx", "bad qdpx then csv",
                                   "good qdpx then bad qdpx"])
def test_several_files_with_a_bad_qdpx_store_nothing(order: str, project: Path, tmp_path: Path):
    new, good, bad = tmp_path / "new.csv", tmp_path / "good.qdpx", tmp_path / "bad.qdpx"
    new.write_bytes(answers_csv(5))
    good.write_bytes(good_qdpx())
    bad.write_bytes(bad_qdpx())
    files = {"csv then bad qdpx": [new, bad], "bad qdpx then csv": [bad, new],
             "good qdpx then bad qdpx": [good, bad]}[order]
    before = project_state(project)
    _refused(run_nlp("import", *files, project=project), r"bad\.qdpx")
    assert project_state(project) == before


def test_csv_and_qdpx_land_together(project: Path, tmp_path: Path):
    new, good = tmp_path / "new.csv", tmp_path / "good.qdpx"
    new.write_bytes(answers_csv(5))
    good.write_bytes(good_qdpx())
    res = run_nlp("import", new, good, project=project)
    assert res.returncode == 0, res.stderr
    from nlp.project import open_project

    p = open_project(project)
    try:
        assert p.store.count_responses() == 6
        assert {c.response_id for c in p.store.codings()} == {"int-1"}
    finally:
        p.close()


VALUES = {
    "IntegerValue abc": ([("age", "IntegerValue", "abc")],
                         r"source 'x', variable 'age': the IntegerValue 'abc' is not a whole"),
    "FloatValue inf": ([("score", "FloatValue", "inf")],
                       r"variable 'score': the FloatValue 'inf' is not a finite number"),
    "FloatValue NaN": ([("score", "FloatValue", "NaN")], r"is not a finite number"),
    "5,000-digit integer": ([("n", "IntegerValue", "9" * 5000)],
                            r"variable 'n': the IntegerValue '9999.*is not a whole number"),
    "BooleanValue maybe": ([("ok", "BooleanValue", "maybe")], r"is not true or false"),
    "5,000-digit row number": ([("row", "IntegerValue", "7" * 5000)], r"variable 'row'"),
}


@pytest.mark.parametrize("name", list(VALUES))
def test_badly_typed_variable_values(name: str, project: Path, tmp_path: Path):
    values, pattern = VALUES[name]
    f = tmp_path / "typed.qdpx"
    f.write_bytes(qdpx_bytes([{"name": "x", "text": ANSWER, "coded": True, "values": values}]))
    before = project_state(project)
    _refused(run_nlp("import", f, project=project), r"typed\.qdpx", pattern)
    assert project_state(project) == before


@pytest.mark.parametrize("confidence", ["1.2.3", "99999", "1.5"])
def test_bad_confidence(confidence: str, project: Path, tmp_path: Path):
    text = "The forms ran to eighty pages."
    desc = f"coder: Dana\nslow_process: accepted, confidence {confidence}"
    f = tmp_path / "conf.qdpx"
    f.write_bytes(qdpx_bytes([{"name": "x", "text": text, "selections": [(0, len(text), desc)]}]))
    before = project_state(project)
    _refused(run_nlp("import", f, project=project),
             rf"coding 'slow_process' of 'x': the confidence '{re.escape(confidence)}' is not "
             r"a number between 0 and 1")
    assert project_state(project) == before


def test_good_values_are_typed(project: Path, tmp_path: Path):
    f = tmp_path / "ok.qdpx"
    f.write_bytes(qdpx_bytes([{"name": "x", "text": ANSWER, "coded": True, "values": [
        ("age", "IntegerValue", " 42 "), ("score", "FloatValue", "0.5"),
        ("member", "BooleanValue", "true"), ("row", "IntegerValue", "1" + "0" * 18)]}]))
    res = run_nlp("import", f, project=project)
    assert res.returncode == 0, res.stderr
    from nlp.project import open_project

    p = open_project(project)
    try:
        r = p.store.corpus()[0]
        assert r.metadata["age"] == 42 and r.metadata["score"] == 0.5
        assert r.metadata["member"] is True and r.location is None  # out of range: no row
    finally:
        p.close()


@pytest.mark.parametrize("what", ["nested 100,000 deep", "a 5,000-digit number"])
def test_json_lines_that_python_cannot_parse(what: str, project: Path, tmp_path: Path):
    f = tmp_path / "deep.jsonl"
    bad = ('{"id": 2, "text": ' + "[" * 100_000 + "]" * 100_000 + "}" if "deep" in what
           else '{"id": 2, "text": "x", "n": ' + "9" * 5000 + "}")
    f.write_bytes(jsonl_bytes([{"id": 1, "text": ANSWER}]) + bad.encode() + b"\n")
    before = project_state(project)
    _refused(run_nlp("import", f, project=project), r"deep\.jsonl, line 2: not a JSON object")
    assert project_state(project) == before


CONFIGS = {
    "a list": ([1, 2], r"the top level is a list"),
    "no embedder_id": ({"drop": "embedder_id"}, r"field 'embedder_id' is missing"),
    "theme_ids a text": ({"theme_ids": "slow"}, r"field 'theme_ids' is missing or not a list"),
    "codebook a list": ({"codebook": []}, r"field 'codebook'"),
    "params with an unknown key": ({"params": {"evil": 1}}, r"field 'params'"),
    "prior_intercept a text": ({"prior_intercept": "x"}, r"field 'prior_intercept'"),
    "nested 100,000 deep": ("deep", r"config\.json: damaged"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_damaged_model_config(name: str, tmp_path: Path):
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder
    from nlp.classify.persist import save_model
    from nlp.classify.coding import train_classifier

    cb = loads_codebook(CODEBOOK_OK)
    clf = train_classifier(cb, ["The tender took nine months.", "The price is too low."],
                           [["slow"], ["money"]], embedder=FakeEmbedder())
    d = save_model(clf, tmp_path / "model", embedder_spec="fake")
    change, pattern = CONFIGS[name]
    config = json.loads((d / "config.json").read_text())
    if change == "deep":
        text = "[" * 100_000 + "]" * 100_000
    elif isinstance(change, dict):
        if "drop" in change:
            config.pop(change["drop"])
        else:
            config.update(change)
        text = json.dumps(config)
    else:
        text = json.dumps(change)
    (d / "config.json").write_text(text)
    cbf = tmp_path / "cb.yaml"
    cbf.write_text(CODEBOOK_OK, encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl_bytes([{"id": "a", "text": "The tender took nine months."}]))
    _refused(run_nlp("code", src, "--out", tmp_path / "out.jsonl", "--model", d,
                     "--codebook", cbf), pattern)
