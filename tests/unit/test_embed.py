"""Unit tests of the embed stage: FakeEmbedder, specs, the cache and atomic writes (no model)."""
from __future__ import annotations

import numpy as np
import pytest

from nlp.embed import backends
from nlp import embed
from nlp.embed import (EmbeddingCache, Embedder, FakeEmbedder, Model2VecEmbedder, OnnxEmbedder,
                       SentenceTransformerEmbedder, embed_texts, get_embedder)
from nlp.errors import EmbedderError, NlpError
from nlp.types import text_hash

TEXTS = ["Funding for small charities is too short-term.",
         "Short-term funding makes it hard for small charities to plan.",
         "The consultation period should be longer.",
         "Funding for small charities is too short-term."]


class OtherFake(FakeEmbedder):
    """Same dimension, another model id: its vectors must never be served for FakeEmbedder."""

    @property
    def model_id(self) -> str:
        return "other:32"

    def encode(self, texts, *, batch_size=None, progress=False):
        return -super().encode(texts)


# --- FakeEmbedder ---------------------------------------------------------------------------

def test_fake_is_an_embedder_and_deterministic():
    a, b = FakeEmbedder(), FakeEmbedder()
    assert all(hasattr(a, m) for m in Embedder.__annotations__) and callable(a.encode)
    va, vb = a.encode(TEXTS), b.encode(TEXTS)
    assert va.dtype == np.float32 and va.shape == (4, 32)
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, rtol=1e-6)


def test_fake_similar_texts_are_closer():
    v = FakeEmbedder(64).encode(TEXTS[:3])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_fake_empty_text_is_still_unit_length():
    v = FakeEmbedder().encode(["", "   "])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)


# --- get_embedder ---------------------------------------------------------------------------

def test_specs_map_to_backends_without_loading(monkeypatch):
    monkeypatch.delenv("NLP_EMBEDDER", raising=False)
    default = get_embedder()  # issue 17: int8 MiniLM on ONNX Runtime
    assert isinstance(default, OnnxEmbedder) and default.quantize and default._session is None
    assert default.model_id == "onnx-int8:sentence-transformers/all-MiniLM-L6-v2"
    st = get_embedder("st")
    assert isinstance(st, SentenceTransformerEmbedder) and st._model is None
    assert st.model_id == "st:sentence-transformers/all-MiniLM-L6-v2"
    assert get_embedder("all-MiniLM-L6-v2").model_id == st.model_id  # hub name -> bundled copy
    onnx, int8 = get_embedder("onnx"), get_embedder("onnx-int8")
    assert isinstance(onnx, OnnxEmbedder) and not onnx.quantize and int8.quantize
    assert {onnx.model_id, int8.model_id, st.model_id} == {
        f"{b}:sentence-transformers/all-MiniLM-L6-v2" for b in ("st", "onnx", "onnx-int8")}
    m2v = get_embedder("model2vec")
    assert isinstance(m2v, Model2VecEmbedder)
    assert m2v.model_id == "model2vec:sentence-transformers/all-MiniLM-L6-v2:pca256"
    assert get_embedder("st:sentence-transformers/all-mpnet-base-v2").model_id == \
        "st:sentence-transformers/all-mpnet-base-v2"
    assert get_embedder("sentence-transformers/all-mpnet-base-v2").model_id == \
        "st:sentence-transformers/all-mpnet-base-v2"
    assert get_embedder("fake:64").dim == 64


def test_default_falls_back_to_st_without_onnxruntime(monkeypatch):
    monkeypatch.delenv("NLP_EMBEDDER", raising=False)
    real = embed.importlib.util.find_spec
    monkeypatch.setattr(embed.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert isinstance(get_embedder(), SentenceTransformerEmbedder)


def test_spec_from_environment_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("NLP_EMBEDDER", "fake:8")
    assert get_embedder().model_id == "fake:8"
    assert get_embedder(str(tmp_path)).model_id == f"st:{tmp_path.resolve()}"


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(EmbedderError, match="unknown embedder 'nope:x'") as info:
        get_embedder("nope:x")
    assert isinstance(info.value, NlpError)
    with pytest.raises(EmbedderError):
        get_embedder("fake:big")


def test_cache_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path))
    assert backends.cache_root() == tmp_path
    monkeypatch.delenv("NLP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert backends.cache_root() == tmp_path / "x" / "consultation-nlp"


def test_slugs_are_safe_and_distinct():
    a, b = backends.slug("st:/a/b"), backends.slug("st:a-b")
    assert a != b and all(c.isalnum() or c in "._-" for c in a + b)


# --- batching -------------------------------------------------------------------------------

def test_batches_keep_input_order():
    texts = ["a" * n for n in (3, 10, 1, 7, 5)]
    seen: list[int] = []

    def fake_batch(batch):
        seen.append(len(batch))
        return np.array([[len(t), 1.0] for t in batch])

    out = backends.encode_batches(texts, fake_batch, dim=2, batch_size=2, progress=True,
                                  label="test")
    lengths = out[:, 0] / out[:, 1]
    np.testing.assert_allclose(lengths, [3, 10, 1, 7, 5], rtol=1e-5)
    assert seen == [2, 2, 1]
    assert backends.encode_batches([], fake_batch, dim=2, batch_size=2, progress=False,
                                   label="t").shape == (0, 2)


# --- embed_texts and the cache --------------------------------------------------------------

def test_second_run_embeds_nothing(tmp_path):
    fake, cache = FakeEmbedder(), EmbeddingCache(tmp_path)
    first = embed_texts(TEXTS, embedder=fake, cache=cache)
    s = cache.last_stats
    assert (s.total, s.distinct, s.embedded, s.cached) == (4, 3, 3, 0)
    assert fake.texts_encoded == 3  # the duplicate was embedded once
    again = embed_texts(TEXTS, embedder=fake, cache=EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(first, again)
    assert fake.texts_encoded == 3
    second = EmbeddingCache(tmp_path)
    embed_texts(TEXTS, embedder=fake, cache=second)
    assert second.last_stats.embedded == 0 and second.last_stats.cached == 3


def test_order_duplicates_and_partial_hits(tmp_path):
    fake, cache = FakeEmbedder(), EmbeddingCache(tmp_path)
    embed_texts(TEXTS[:2], embedder=fake, cache=cache)
    texts = [TEXTS[2], TEXTS[0], TEXTS[2], "new text", TEXTS[1]]
    out = embed_texts(texts, embedder=fake, cache=cache)
    assert cache.last_stats.embedded == 2 and cache.last_stats.cached == 2
    np.testing.assert_allclose(out, FakeEmbedder().encode(texts), rtol=1e-6)
    np.testing.assert_array_equal(out[0], out[2])
    assert cache.count(fake.model_id) == 4


def test_without_cache_and_empty_input(tmp_path):
    fake = FakeEmbedder(16)
    out = embed_texts(TEXTS, embedder=fake)
    assert out.shape == (4, 16) and fake.texts_encoded == 3
    cache = EmbeddingCache(tmp_path)
    empty = embed_texts([], embedder=fake, cache=cache)
    assert empty.shape == (0, 16) and empty.dtype == np.float32
    assert cache.last_stats.embedded == 0
    assert not (tmp_path / "embeddings").exists()


def test_non_text_is_rejected():
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        embed_texts(["a", None], embedder=FakeEmbedder())


def test_model_ids_are_isolated(tmp_path):
    cache = EmbeddingCache(tmp_path)
    a = embed_texts(TEXTS, embedder=FakeEmbedder(), cache=cache)
    b = embed_texts(TEXTS, embedder=OtherFake(), cache=cache)
    assert cache.last_stats.embedded == 3  # nothing served from fake:32's file
    np.testing.assert_allclose(a, -b, rtol=1e-6)
    files = sorted(p.name for p in (tmp_path / "embeddings").iterdir())
    assert len(files) == 2 and files[0].startswith("fake-32") and files[1].startswith("other-32")
    assert cache.count("fake:32") == cache.count("other:32") == 3


def test_cache_file_is_plain_arrays(tmp_path):
    cache = EmbeddingCache(tmp_path)
    embed_texts(TEXTS, embedder=FakeEmbedder(), cache=cache)
    with np.load(cache.path_for("fake:32"), allow_pickle=False) as z:
        assert str(z["model_id"]) == "fake:32"
        assert z["vectors"].dtype == np.float32 and z["vectors"].shape == (3, 32)
        assert set(z["keys"].tolist()) == {text_hash(t) for t in TEXTS}


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    cache, fake = EmbeddingCache(tmp_path), FakeEmbedder()
    embed_texts(TEXTS[:2], embedder=fake, cache=cache)
    path = cache.path_for(fake.model_id)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(embed.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        embed_texts(TEXTS, embedder=fake, cache=cache)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_damaged_file_is_ignored_and_rewritten(tmp_path, caplog):
    cache, fake = EmbeddingCache(tmp_path), FakeEmbedder()
    path = cache.path_for(fake.model_id)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    out = embed_texts(TEXTS, embedder=fake, cache=cache)
    assert "damaged embedding cache" in caplog.text
    assert cache.last_stats.embedded == 3 and out.shape == (4, 32)
    assert EmbeddingCache(tmp_path).count(fake.model_id) == 3


def test_long_runs_write_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "CHECKPOINT", 2)
    writes: list[int] = []
    real_put = EmbeddingCache.put

    def counting_put(self, model_id, hashes, vectors):
        writes.append(len(hashes))
        real_put(self, model_id, hashes, vectors)

    monkeypatch.setattr(EmbeddingCache, "put", counting_put)
    texts = [f"answer number {i}" for i in range(5)]
    out = embed_texts(texts, embedder=FakeEmbedder(), cache=EmbeddingCache(tmp_path))
    assert writes == [2, 2, 1]
    np.testing.assert_allclose(out, FakeEmbedder().encode(texts), rtol=1e-6)


# --- atomic builds of derived models --------------------------------------------------------

def test_build_once_is_atomic_and_reused(tmp_path):
    target = tmp_path / "models" / "m"
    calls: list[int] = []

    def failing(d):
        (d / "half.bin").write_bytes(b"x")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        backends.build_once(target, failing, "test model")
    assert not target.exists() and list(target.parent.iterdir()) == []

    def good(d):
        calls.append(1)
        (d / "model.bin").write_bytes(b"ok")
        return {"backend": "test"}

    assert backends.build_once(target, good, "test model") == target
    assert backends.build_once(target, good, "test model") == target
    assert calls == [1] and (target / "model.bin").read_bytes() == b"ok"
    assert (target / backends.BUILD_MARKER).is_file()
