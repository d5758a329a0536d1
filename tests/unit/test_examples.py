"""`--examples`: a researcher's hand-coded sample as JSONL (a `themes` list) or CSV (ids
separated by ';'), checked against the codebook row by row; and the file mode's output."""
import json

import pytest

from nlp import errors
from nlp.codebook import loads_codebook
from nlp.classify.coding import code_file, read_examples

CB_YAML = """
name: t
version: 1
themes:
  - id: A
    label: Money
    definition: funding budget reserves cost price money
  - id: D
    label: Communication
    definition: communication reply email told contact
"""
CB = loads_codebook(CB_YAML)


def test_jsonl_with_a_themes_list(tmp_path):
    p = tmp_path / "ex.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"text": "our reserves paid", "themes": ["A", "D"]},
        {"text": "nobody replied", "themes": ["D"]},
        {"text": "nothing to say", "themes": []}]), encoding="utf-8")
    texts, themes = read_examples(p, CB)
    assert texts == ["our reserves paid", "nobody replied", "nothing to say"]
    assert themes == [["A", "D"], ["D"], []]


def test_csv_with_semicolon_separated_ids(tmp_path):
    p = tmp_path / "ex.csv"
    p.write_text('text,themes\n"our reserves paid",A;D\n"nobody replied",D\n"nothing",\n',
                 encoding="utf-8")
    assert read_examples(p, CB)[1] == [["A", "D"], ["D"], []]


@pytest.mark.parametrize("name,body", [
    ("ex.jsonl", '{"text": "fine", "themes": ["A"]}\n{"text": "bad", "themes": ["A", "Z"]}\n'),
    ("ex.csv", 'text,themes\nfine,A\nbad,A;Z\n'),
])
def test_unknown_theme_is_refused_naming_the_row(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    with pytest.raises(errors.InputError) as exc:
        read_examples(p, CB)
    msg = str(exc.value)
    row = "row 3" if name.endswith(".csv") else "row 2"  # CSV: the header is row 1
    assert "'Z'" in msg and row in msg and name in msg


def test_file_mode_learns_from_jsonl_examples_and_writes_evidence(tmp_path, monkeypatch):
    monkeypatch.setenv("NLP_EMBEDDER", "fake:256")
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "cache"))
    cb = tmp_path / "cb.yaml"
    cb.write_text(CB_YAML, encoding="utf-8")
    ex = tmp_path / "ex.jsonl"
    ex.write_text("\n".join(json.dumps({"text": t, "themes": y}) for t, y in [
        ("our reserves paid for the service", ["A"]), ("nobody replied to our email", ["D"]),
        ("the funding was cut and nobody told us", ["A", "D"])]), encoding="utf-8")
    src = tmp_path / "in.csv"
    others = ["We met on a Tuesday.", "The weather was fine.", "A short answer here.",
              "Our reserves ran out.", "No reply from anyone.", "The budget price rose.",
              "Children played outside.", "It rained all week."]
    src.write_text("id,text\n1,The hall was cold. Our reserves paid because the funding "
                   "was cut.\n2,Nobody replied to our email or told us anything.\n"
                   + "".join(f"{i + 3},{t}\n" for i, t in enumerate(others)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert code_file(src, out, codebook_path=cb, model_dir="none", examples=ex) == 10
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert rows[0]["themes"][0] == "A" and rows[1]["themes"][0] == "D"
    assert set(rows[0]) == {"id", "themes", "scores"}  # the output CLI.md fixes


def test_each_suggestion_carries_its_evidence_sentence():
    from nlp.classify import ThemeClassifier
    from nlp.embed import FakeEmbedder
    from nlp.classify.coding import code_responses
    from nlp.types import Corpus, Response

    text = "The hall was cold. Our reserves paid because the funding was cut."
    others = ["Nobody replied to our email.", "We met on a Tuesday.", "The weather was fine.",
              "Our reserves ran out.", "No reply from anyone.", "The budget price rose.",
              "Children played outside.", "It rained all week.", "A short answer here."]
    corpus = Corpus(tuple(Response(response_id=str(i), text=t)
                          for i, t in enumerate([text, *others])))
    model = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    codings, scored = code_responses(corpus, model)
    first = [c for c in codings if c.response_id == "0"]
    assert first and first[0].theme_id == "A"
    s, e = first[0].span
    assert text[s:e] == "Our reserves paid because the funding was cut."
    assert scored.chosen.shape == (10, 2)
