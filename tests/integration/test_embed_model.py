"""Integration tests of the embed stage with the real bundled all-MiniLM-L6-v2 (offline)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from nlp.embed import (EmbeddingCache, OnnxEmbedder, SentenceTransformerEmbedder, embed_texts,
                       get_embedder)

pytestmark = pytest.mark.slow

SENTENCES = [
    "Funding for small charities is too short-term to plan services.",
    "Short-term grants make it hard for small voluntary groups to plan ahead.",
    "The weather in Cardiff was sunny all week.",
    "Commissioners should involve service users in designing services.",
    "",
    "x",
    "Prison family services " * 80,  # longer than the model's 256 tokens: truncated alike
]


@pytest.fixture(scope="module")
def st():
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def st_vectors(st):
    return st.encode(SENTENCES)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("nlp-cache")


def test_minilm_shape_and_norm(st, st_vectors):
    assert st.model_id == "st:sentence-transformers/all-MiniLM-L6-v2"
    assert st.dim == 384
    assert st_vectors.shape == (len(SENTENCES), 384) and st_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(st_vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer(st_vectors):
    sim = st_vectors @ st_vectors.T
    assert sim[0, 1] > 0.6
    assert sim[0, 1] > sim[0, 2] + 0.3
    assert sim[0, 1] > sim[0, 3]


def test_batches_do_not_change_vectors(st, st_vectors):
    one_by_one = np.vstack([st.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose(one_by_one, st_vectors, atol=1e-4)


def test_cache_with_real_model(st, tmp_path):
    cache = EmbeddingCache(tmp_path)
    first = embed_texts(SENTENCES[:4], embedder=st, cache=cache)
    assert cache.last_stats.embedded == 4
    again = embed_texts(SENTENCES[:4], embedder=st, cache=cache)
    assert cache.last_stats.embedded == 0
    np.testing.assert_array_equal(first, again)


def test_loads_offline_in_a_fresh_process():
    code = ("from nlp.embed import get_embedder; e = get_embedder('st'); "
            "v = e.encode(['hello there']); print(e.model_id, v.shape)")
    dead = "http://127.0.0.1:9"  # any network call fails fast
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "NLP_EMBEDDER": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "st:sentence-transformers/all-MiniLM-L6-v2 (1, 384)" in out.stdout


needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx/onnxruntime not installed (pip install 'consultation-nlp[fast]')")


@needs_onnx
def test_onnx_matches_sentence_transformers(st_vectors, model_cache):
    onnx = OnnxEmbedder(cache_dir=model_cache)
    assert onnx.model_id == "onnx:sentence-transformers/all-MiniLM-L6-v2"
    for batch_size in (1, 3, 8):
        v = onnx.encode(SENTENCES, batch_size=batch_size)
        cos = (v * st_vectors).sum(axis=1)
        assert cos.min() > 0.9999, (batch_size, cos)
    assert (model_cache / "models").is_dir()


@needs_onnx
def test_onnx_int8_is_close(st_vectors, model_cache):
    int8 = OnnxEmbedder(quantize=True, cache_dir=model_cache)
    v = int8.encode(SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert (v * st_vectors).sum(axis=1).min() > 0.95
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.3
    # built once: a second embedder reuses the folder
    again = OnnxEmbedder(quantize=True, cache_dir=model_cache)
    assert again.model_dir() == int8.model_dir()


@needs_onnx
def test_onnx_refuses_a_model_with_no_length_limit(monkeypatch, tmp_path):
    """A sentence-transformers model that sets no max_seq_length cannot be exported (nothing
    to truncate texts at): a clear error, before the export runs."""
    import sentence_transformers

    from nlp import errors

    class NoLimit(sentence_transformers.SentenceTransformer):
        max_seq_length = None  # over the property: as a model with no limit reads

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", NoLimit)
    with pytest.raises(errors.EmbedderError, match="no maximum sequence length"):
        OnnxEmbedder(cache_dir=tmp_path).model_dir()
    assert not any((tmp_path / "models").glob("*/model.onnx"))


@pytest.mark.skipif(importlib.util.find_spec("model2vec") is None
                    or importlib.util.find_spec("skeletoken") is None,
                    reason="model2vec not installed (pip install 'consultation-nlp[fast]')")
def test_model2vec_distils_and_encodes(model_cache, monkeypatch):
    monkeypatch.setenv("NLP_CACHE_DIR", str(model_cache))
    m2v = get_embedder("model2vec")
    v = m2v.encode(SENTENCES[:4])
    assert m2v.dim == 256 and v.shape == (4, 256) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2]


def test_missing_model_is_a_clear_error():
    from nlp.errors import EmbedderError

    with pytest.raises(EmbedderError, match="cannot load the sentence-transformers model"):
        get_embedder("st:nobody/no-such-model").encode(["x"])
