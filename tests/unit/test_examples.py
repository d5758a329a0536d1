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
    assert set(rows[0]) == {"id", "themes", "scores", "review_rank"}  # CLI.md's output
    assert sorted(r["review_rank"] for r in rows) == list(range(1, 11))


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


def test_examples_with_ids_keep_their_themes_and_rank_the_rest(tmp_path, monkeypatch):
    """An input answer whose id is among the examples keeps the researcher's themes and gets
    no review_rank; every other line is ranked 1..n, each rank once."""
    monkeypatch.setenv("NLP_EMBEDDER", "fake:256")
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "cache"))
    cb = tmp_path / "cb.yaml"
    cb.write_text(CB_YAML, encoding="utf-8")
    texts = ["Our reserves paid for it.", "Nobody replied to our email.",
             "The funding was cut and nobody told us.", "We met on a Tuesday.",
             "The budget price rose.", "No reply from anyone.", "Children played outside.",
             "It rained all week.", "Money ran out early.", "They never contacted us.",
             "A short answer here.", "The hall was cold."]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                           for i, t in enumerate(texts)), encoding="utf-8")
    ex = tmp_path / "ex.jsonl"
    # r3 is about a meeting, but the researcher coded it D: that decision stands in OUT.
    decided = {"r0": ["A"], "r3": ["D"], "r7": []}
    ex.write_text("".join(json.dumps({"id": i, "text": texts[int(i[1:])], "themes": y}) + "\n"
                          for i, y in decided.items()), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert code_file(src, out, codebook_path=cb, model_dir="none", examples=ex) == 12
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    for rid, themes in decided.items():
        assert rows[rid]["themes"] == themes and "review_rank" not in rows[rid]
        assert set(rows[rid]["scores"]) == {"A", "D"}
    ranked = [r["review_rank"] for rid, r in rows.items() if rid not in decided]
    assert sorted(ranked) == list(range(1, 10))
    assert all(isinstance(k, int) for k in ranked)
    # Deterministic: the same run writes the same file.
    first = out.read_bytes()
    out.unlink()
    code_file(src, out, codebook_path=cb, model_dir="none", examples=ex)
    assert out.read_bytes() == first


def test_duplicated_examples_are_one_example_with_the_majority_themes(tmp_path):
    p = tmp_path / "ex.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "1", "text": "no comment", "themes": ["A"]},
        {"id": "2", "text": "no comment", "themes": ["A", "D"]},
        {"id": "3", "text": "no comment", "themes": ["A"]},
        {"text": "nobody replied", "themes": ["D"]}]), encoding="utf-8")
    from nlp.classify.coding import read_coded_examples
    ex = read_coded_examples(p, CB)
    assert ex.texts == ["no comment", "nobody replied"] and ex.rows == 4
    assert ex.themes == [["A"], ["D"]]
    assert ex.by_id == {"1": ["A"], "2": ["A", "D"], "3": ["A"]}  # each decision as given


def test_a_sample_over_the_cap_is_cut_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NLP_MAX_EXAMPLES", "5")
    p = tmp_path / "ex.jsonl"
    p.write_text("".join(json.dumps({"text": f"answer {i}", "themes": ["A"]}) + "\n"
                         for i in range(40)), encoding="utf-8")
    from nlp.classify.coding import read_coded_examples
    with caplog.at_level("WARNING"):
        ex = read_coded_examples(p, CB)
    assert len(ex.texts) == 5 and len(set(ex.texts)) == 5 and ex.rows == 40
    assert "40 distinct examples" in caplog.text and "ex.jsonl" in caplog.text
    assert read_coded_examples(p, CB).texts == ex.texts  # the same sample every time
    monkeypatch.setenv("NLP_MAX_EXAMPLES", "lots")
    with pytest.raises(errors.NlpError, match="NLP_MAX_EXAMPLES"):
        read_coded_examples(p, CB)
