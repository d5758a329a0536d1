"""Batch coding at scale (issue 17), with the FakeEmbedder: each distinct sentence embedded
once, chunked cache writes, chunked scoring and storing, the device switch and the progress
lines. The tests that start processes (resume after kill -9, a Dask cluster, the CLI, a fresh
interpreter) are in tests/integration/test_batch_processes.py."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from nlp.classify import coding
from nlp.classify.coding import batch_embedder, code_file, embed_run, score_chunks
from nlp.pipeline import code_project
from nlp.embed.run import RunProgress
from nlp.classify.model import encode, segment_answers
from nlp.embed import EmbeddingCache, FakeEmbedder, SentenceTransformerEmbedder
from nlp.types import Corpus, Response

from batchdata import SENTENCES, answers, fake_env, write_input  # noqa: F401 - fake_env: a fixture

# --- embedding: each distinct sentence once, chunk by chunk ---------------------------------

def test_embed_run_gives_what_encode_gives(tmp_path):
    texts = answers(40) + ["", "One. Two. Three. Four words here now. " * 6]
    ref = encode(texts, FakeEmbedder(64))
    got = embed_run(texts, FakeEmbedder(64), cache=EmbeddingCache(tmp_path), chunk=7)
    for name in ("whole", "seg", "seg_owner", "seg_span"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    assert got.texts == ref.texts


def test_in_context_the_answer_runs_once_and_its_sentences_come_from_that_run(tmp_path):
    text = " ".join(SENTENCES[:3])
    fake = FakeEmbedder(64, in_context=True)
    calls = []
    real = fake.encode_in_context
    fake.encode_in_context = lambda t, sp, **kw: calls.append((list(t), sp)) or real(t, sp)
    enc = encode([text, text], fake, cache=EmbeddingCache(tmp_path))
    assert calls == [([text], [[(0, len(SENTENCES[0])),
                                 (len(SENTENCES[0]) + 1, len(SENTENCES[0]) + 1
                                  + len(SENTENCES[1])),
                                 (text.index(SENTENCES[2]), len(text))]])]
    ref = encode([text, text], FakeEmbedder(64), whole="embed")  # answer + sentences apart
    for name in ("whole", "seg", "seg_owner", "seg_span"):
        np.testing.assert_array_equal(getattr(enc, name), getattr(ref, name))
    again = FakeEmbedder(64, in_context=True)
    encode([text], again, cache=EmbeddingCache(tmp_path))
    assert again.texts_encoded == 0  # answer and its sentences cached


def test_mean_whole_is_the_normalised_mean_of_all_sentences():
    text = " ".join(SENTENCES[:3])
    enc = encode([text], FakeEmbedder(64), whole="mean")
    seg = FakeEmbedder(64).encode([s for s in SENTENCES[:3]])
    want = seg.mean(0) / np.linalg.norm(seg.mean(0))
    np.testing.assert_allclose(enc.whole[0], want, rtol=1e-5, atol=1e-6)
    assert len(enc.seg) == 3
    ref = encode([text], FakeEmbedder(64), whole="embed")
    np.testing.assert_allclose(ref.whole[0], FakeEmbedder(64).encode([text])[0], rtol=1e-6)
    np.testing.assert_array_equal(ref.seg, enc.seg)


def test_long_answers_score_their_first_segments():
    text = " ".join(f"Sentence number {i} is long enough to stand." for i in range(20))
    spans, scored = segment_answers([text])
    assert len(spans[0]) == 20 and scored == [12]
    for whole in ("context", "embed", "mean"):
        assert len(encode([text], FakeEmbedder(64, in_context=True), whole=whole).seg) == 12
    enc = encode([text], FakeEmbedder(64), whole="mean")  # the mean is over all of them
    allv = FakeEmbedder(64).encode([text[s:e] for s, e in spans[0]])
    np.testing.assert_allclose(enc.whole[0], allv.mean(0) / np.linalg.norm(allv.mean(0)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ctx", [False, True])
def test_embed_run_in_chunks_gives_what_encode_gives(tmp_path, ctx):
    texts = answers(40) * 2
    ref = encode(texts, FakeEmbedder(64, in_context=ctx))
    fake = FakeEmbedder(64, in_context=ctx)
    got = embed_run(texts, fake, cache=EmbeddingCache(tmp_path), chunk=3)
    for name in ("whole", "seg", "seg_owner", "seg_span"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    if ctx:  # each distinct answer once, with its sentences
        distinct = list(dict.fromkeys(texts))
        segs = sum(min(len(sp), 12) for sp in segment_answers(distinct)[0])
        assert fake.texts_encoded == len(distinct) + segs


def test_each_distinct_text_is_embedded_once_and_cached(tmp_path):
    """Without context: each distinct answer and sentence once (an answer of one sentence is
    that sentence)."""
    texts = answers(60)
    distinct = {t[s:e] for t, sp in zip(texts, segment_answers(texts)[0]) for s, e in sp}
    fake = FakeEmbedder(64)
    embed_run(texts, fake, cache=EmbeddingCache(tmp_path), chunk=5)
    assert fake.texts_encoded == len(distinct | set(texts)) < len(texts) + len(distinct)
    again = FakeEmbedder(64)
    embed_run(texts, again, cache=EmbeddingCache(tmp_path), chunk=5)
    assert again.texts_encoded == 0


class Dies(FakeEmbedder):
    """Dies (like a killed process) on its `after`-th call to encode."""

    def __init__(self, after: int) -> None:
        super().__init__(64)
        self.calls, self.after = 0, after

    def encode(self, texts, **kw):
        self.calls += 1
        if self.calls == self.after:
            raise KeyboardInterrupt
        return super().encode(texts, **kw)


def test_an_interrupted_embedding_keeps_its_chunks(tmp_path):
    texts = answers(60)
    with pytest.raises(KeyboardInterrupt):
        embed_run(texts, Dies(after=4), cache=EmbeddingCache(tmp_path), chunk=5)
    assert EmbeddingCache(tmp_path).count("fake:64") == 15  # three chunks of 5 texts
    rest = FakeEmbedder(64)
    got = embed_run(texts, rest, cache=EmbeddingCache(tmp_path), chunk=5)
    ref = encode(texts, FakeEmbedder(64))
    np.testing.assert_array_equal(got.whole, ref.whole)
    assert rest.texts_encoded == EmbeddingCache(tmp_path).count("fake:64") - 15


# --- the cache: parts, merged -----------------------------------------------------------------

def test_cache_writes_parts_and_merges_them(tmp_path, monkeypatch):
    monkeypatch.setattr(EmbeddingCache, "MAX_PARTS", 3)
    cache, fake = EmbeddingCache(tmp_path), FakeEmbedder(16)
    texts = [f"text number {i}" for i in range(12)]
    sizes = []
    for i in range(0, 12, 2):
        cache.put("fake:16", [f"h{j}" for j in range(i, i + 2)], fake.encode(texts[i:i + 2]))
        sizes.append(len(list((tmp_path / "embeddings").glob("*.npz"))))
    assert sizes == [1, 2, 3, 1, 2, 3]  # the fourth file merged them all into one
    fresh = EmbeddingCache(tmp_path)
    got = fresh.get("fake:16", [f"h{j}" for j in range(12)])
    assert len(got) == 12
    np.testing.assert_array_equal(np.stack([got[f"h{j}"] for j in range(12)]), fake.encode(texts))


def test_two_caches_see_each_others_parts(tmp_path):
    a, b, fake = EmbeddingCache(tmp_path), EmbeddingCache(tmp_path), FakeEmbedder(16)
    a.put("fake:16", ["x"], fake.encode(["x"]))
    b.put("fake:16", ["y"], fake.encode(["y"]))
    a.put("fake:16", ["z"], fake.encode(["z"]))
    assert b.count("fake:16") == a.count("fake:16") == 3


# --- scoring in chunks gives the one-batch result ----------------------------------------------

def test_file_mode_output_does_not_depend_on_the_chunk(fake_env):
    src = write_input(fake_env / "in.jsonl", answers(57))
    outs = []
    for chunk in (10_000, 7, 1):
        out = fake_env / f"out{chunk}.jsonl"
        assert code_file(src, out, model_dir="none", chunk=chunk) == 57
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert not list(fake_env.glob(".out*.partial*"))  # nothing left beside the output


def test_file_mode_matches_scoring_the_file_as_one_batch(fake_env):
    """The pre-issue-17 path: every answer scored in one batch with its own statistics."""
    from nlp.classify.coding import code_responses, resolve_model
    from nlp.codebook import load_codebook
    from nlp.embed import get_embedder

    texts = answers(30)
    src = write_input(fake_env / "in.jsonl", texts)
    code_file(src, fake_env / "out.jsonl", model_dir="none", chunk=4)
    model = resolve_model(load_codebook(), model_dir="none", embedder=get_embedder(None))
    corpus = Corpus(tuple(Response(response_id=f"r{i}", text=t, source="x")
                          for i, t in enumerate(texts)))
    _, scored = code_responses(corpus, model)
    lines = [json.loads(x) for x in (fake_env / "out.jsonl").read_text().splitlines()]
    got = np.array([[ln["scores"][t] for t in model.theme_ids_] for ln in lines])
    np.testing.assert_allclose(got, np.round(scored.proba, 4), atol=2e-4)


def test_small_files_are_scored_as_one_batch(fake_env):
    src = write_input(fake_env / "in.jsonl", answers(6))
    code_file(src, fake_env / "a.jsonl", model_dir="none", chunk=2)
    code_file(src, fake_env / "b.jsonl", model_dir="none", chunk=100)
    assert (fake_env / "a.jsonl").read_bytes() == (fake_env / "b.jsonl").read_bytes()


def test_score_chunks_covers_every_answer_once(fake_env):
    from nlp.classify.coding import resolve_model
    from nlp.codebook import load_codebook
    from nlp.embed import get_embedder

    texts = answers(23)
    model = resolve_model(load_codebook(), model_dir="none", embedder=get_embedder(None))
    enc = encode(texts, model.embedder)
    model.calibrate(enc)
    corpus = Corpus(tuple(Response(response_id=f"r{i}", text=t, source="x")
                          for i, t in enumerate(texts)))
    seen = [rid for _, part, _, _ in score_chunks(corpus, model, enc, chunk=5)
            for rid in part.ids]
    assert seen == list(corpus.ids)
    later = [c for c, *_ in score_chunks(corpus, model, enc, chunk=5, start=3)]
    assert later == [3, 4]


# --- resume: a changed input starts again (the kill -9 test is in tests/integration) ----------

def test_a_changed_input_does_not_resume(fake_env):
    src = write_input(fake_env / "in.jsonl", answers(40))
    out = fake_env / "out.jsonl"
    partial = fake_env / ".out.jsonl.partial"
    partial.write_text("junk from another run\n")
    (fake_env / ".out.jsonl.partial.json").write_text(json.dumps(
        {"key": "another", "chunks": 2, "bytes": 5}))
    code_file(src, out, model_dir="none", chunk=10)
    ref = fake_env / "ref.jsonl"
    code_file(src, ref, model_dir="none", chunk=10)
    assert out.read_bytes() == ref.read_bytes()


# --- project mode: the same path, one transaction per chunk ---------------------------------

def test_project_mode_stores_chunk_by_chunk(fake_env, monkeypatch):
    from nlp.pipeline import import_file
    from nlp.project import init_project, open_project
    from nlp.store import Store

    texts = answers(45)
    src = fake_env / "in.csv"
    src.write_text("id,text\n" + "".join(f"r{i},\"{t}\"\n" for i, t in enumerate(texts)),
                   encoding="utf-8")
    results = []
    for chunk in (10, 10_000):
        root = fake_env / f"p{chunk}"
        init_project(root).close()
        p = open_project(root)
        import_file(p.store, src)
        calls = []
        real = Store.write_model_codings

        def counting(self, scores, *a, **kw):
            calls.append(len(scores))
            return real(self, scores, *a, **kw)

        monkeypatch.setattr(Store, "write_model_codings", counting)
        run = code_project(p, model_dir="none", chunk=chunk)
        monkeypatch.setattr(Store, "write_model_codings", real)
        assert run.coded == 45
        assert calls == ([10, 10, 10, 10, 5] if chunk == 10 else [45])
        results.append((p.store.predictions(),
                        sorted((c.response_id, c.theme_id, c.confidence, c.span)
                               for c in p.store.codings())))
        p.close()
    assert results[0] == results[1]


# --- device ---------------------------------------------------------------------------------

def test_device_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    from nlp import errors

    monkeypatch.setattr(coding, "_torch_sees_cuda", lambda: False)
    with pytest.raises(errors.NlpError, match="torch sees no CUDA GPU"):
        batch_embedder("st", device="cuda")


def test_device_cuda_picks_the_gpu_path_without_loading(monkeypatch):
    monkeypatch.delenv("NLP_EMBEDDER", raising=False)
    monkeypatch.setattr(coding, "_torch_sees_cuda", lambda: True)  # as on a GPU machine
    st = batch_embedder("st", device="cuda")
    assert isinstance(st, SentenceTransformerEmbedder) and st.device == "cuda"
    assert st.batch_size >= 64 and st._model is None
    default = batch_embedder(None, device="cuda")  # the int8 CPU model gives way to its network
    assert isinstance(default, SentenceTransformerEmbedder) and default.device == "cuda"
    onnx = batch_embedder("onnx-int8", device="cuda:1")
    assert onnx.model_id.startswith("onnx-int8:") and onnx.device == "cuda:1"
    assert batch_embedder("fake", device="cpu").model_id == "fake:32"
    from nlp import errors
    with pytest.raises(errors.NlpError, match="unknown device"):
        batch_embedder("fake", device="tpu")


def test_embedders_pickle_as_settings():
    import pickle

    from nlp.embed import get_embedder
    for spec in ("st", "onnx-int8", "fake:8"):
        e = pickle.loads(pickle.dumps(get_embedder(spec)))
        assert e.model_id == get_embedder(spec).model_id


# --- progress -------------------------------------------------------------------------------

def test_progress_lines_show_rate_and_eta(capsys, monkeypatch):
    monkeypatch.setattr(RunProgress, "LOG_EVERY", 0.0)
    bar = RunProgress("Embedding", 100)
    for _ in range(4):
        time.sleep(0.01)
        bar.advance(25)
    bar.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("Embedding: 100/100 texts (")
    assert "/s" in lines[0] and "ETA" in lines[0]
