"""Integration test of the shipped theme model (models/vcs-commissioning) with the real MiniLM."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CLEAR = {
    "We have had to dip into our reserves to keep the contract running, because the price the "
    "council pays does not cover what the service costs us.": "subsidising_contracts",
    "We sent clarification questions to the procurement team and never got a reply, and nobody "
    "told us the outcome of the tender.": "poor_communication",
    "Officers apply the EU procurement rules far more strictly than they need to and re-tender "
    "a service that works every three years.": "eu_rules_risk_aversion",
    "The tender documents ran to hundreds of pages of jargon and we had to pay a bid "
    "writer.": "disproportionate_process",
}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from nlp.embed import EmbeddingCache
    from nlp.classify.persist import default_model_dir, load_model

    assert (default_model_dir() / "config.json").exists(), "the shipped model is missing"
    return load_model(cache=EmbeddingCache(tmp_path_factory.mktemp("cls-cache")))


def test_shipped_model_is_small_and_pickle_free():
    from nlp.classify.persist import default_model_dir

    d = default_model_dir()
    assert sum(p.stat().st_size for p in d.iterdir()) < 3_000_000
    with np.load(d / "weights.npz", allow_pickle=False) as w:
        assert all(w[k].dtype != object for k in w.files)
    cfg = json.loads((d / "config.json").read_text())
    # Trained in the default embedder's space, so coding never retrains at start-up.
    from nlp.embed import get_embedder

    assert cfg["embedder_id"] == get_embedder(None).model_id == \
        "onnx-int8:sentence-transformers/all-MiniLM-L6-v2"
    assert cfg["codebook"]["name"] == "vcs-commissioning"


def test_clear_answers_get_their_theme(model):
    texts = list(CLEAR)
    themes = model.themes_of(model.predict_proba(texts))
    assert texts and len(themes) == len(texts)  # one verdict per answer: zip must not truncate
    for text, got in zip(texts, themes, strict=True):
        assert CLEAR[text] in got, (text, got)


def test_an_answer_about_nothing_gets_none_of_the_named_themes(model):
    p = model.predict_proba(["The workshop took place in a community hall on a Tuesday morning."])
    got = set(model.themes_of(p)[0])
    assert not got & {"bid_candy", "subsidising_contracts", "poor_communication",
                      "eu_rules_risk_aversion"}


def test_bid_candy_scores_above_unrelated_answers(model):
    i = model.theme_ids_.index("bid_candy")
    p = model.predict_proba([
        "The prime named us as a delivery partner in its bid, then we never heard from them "
        "again and got no referrals.",
        "We have had to dip into our reserves to keep the contract running.",
        "Working together with the council and other charities made the service better."])
    assert p[0, i] > 2 * max(p[1, i], p[2, i])


def test_refuses_another_codebook_or_embedder():
    from nlp.codebook import load_codebook, loads_codebook
    from nlp.embed import FakeEmbedder
    from nlp.errors import ModelError
    from nlp.classify.persist import load_model

    cb = load_codebook()
    other = loads_codebook("name: vcs-commissioning\nversion: 4\nthemes:\n  - id: bid_candy\n"
                           "    label: Bid candy\n    definition: something else\n")
    with pytest.raises(ModelError, match="trained on codebook 'vcs-commissioning' version 3"):
        load_model(codebook=other, embedder=FakeEmbedder(384))
    with pytest.raises(ModelError, match="trained on embeddings from"):
        load_model(codebook=cb, embedder=FakeEmbedder(384))


def test_file_mode_codes_offline_with_the_shipped_model(tmp_path, monkeypatch):
    from nlp.classify.coding import code_file

    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                           for i, t in enumerate(CLEAR)), encoding="utf-8")
    out = tmp_path / "coded.jsonl"
    assert code_file(src, out) == len(CLEAR)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(len(CLEAR))]
    assert sorted(r["review_rank"] for r in rows) == list(range(1, len(CLEAR) + 1))
    for row, theme in zip(rows, CLEAR.values(), strict=True):
        assert set(row) == {"id", "themes", "scores", "review_rank"}  # CLI.md's output
        assert len(row["scores"]) == 12 and theme in row["themes"]
