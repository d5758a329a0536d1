"""Batch coding with the real default embedder (int8 MiniLM on ONNX Runtime): answers run once
with their sentences pooled in context, vectors independent of batch and thread, a 2-worker
Dask cluster byte-identical to the local run, and 100,000 answers in one run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp.classify.model import encode
from nlp.embed import EmbeddingCache, OnnxEmbedder, get_embedder

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

ANSWERS = [
    "Funding for small charities is too short-term. We cannot plan services a year ahead.",
    "The tender was two hundred pages long; nobody in a small organisation can read that.",
    "Commissioners never explained why we lost. We would like feedback on bids.",
    "Service users should design services.",
    "Large providers win because they employ bid writers. Small local groups lose out. "
    "Payment in arrears is another problem for us.",
    "Prison family services " * 90 + ". A last sentence beyond the model's 256 tokens.",
]


@pytest.fixture(scope="module")
def int8():
    return OnnxEmbedder(quantize=True)


def test_in_context_answers_are_their_own_vectors(int8):
    from nlp.classify.model import segment_answers

    spans, scored = segment_answers(ANSWERS)
    spans = [sp[:k] for sp, k in zip(spans, scored)]
    W, S = int8.encode_in_context(ANSWERS, spans)
    np.testing.assert_allclose(W, int8.encode(ANSWERS), atol=1e-6)  # exactly `encode`'s
    np.testing.assert_allclose(np.linalg.norm(S, axis=1), 1.0, atol=1e-5)
    alone = int8.encode([t[s:e] for t, sp in zip(ANSWERS, spans) for s, e in sp])
    cos = (S * alone).sum(1)
    assert cos.min() > 0.6 and np.median(cos) > 0.8  # a sentence in context, near itself
    # the last sentence of the long answer lies beyond the 256 tokens: embedded on its own
    np.testing.assert_allclose(S[-1], alone[-1], atol=1e-6)


def test_vectors_do_not_depend_on_neighbours_or_threads(int8):
    one = OnnxEmbedder(quantize=True, threads=1)
    np.testing.assert_array_equal(int8.encode(ANSWERS), one.encode(ANSWERS))
    np.testing.assert_array_equal(int8.encode(ANSWERS[:2]), int8.encode(ANSWERS)[:2])
    np.testing.assert_array_equal(int8.encode(ANSWERS[::-1])[::-1], int8.encode(ANSWERS))


def test_default_is_the_int8_model_in_context(monkeypatch, tmp_path):
    monkeypatch.delenv("NLP_EMBEDDER", raising=False)
    emb = get_embedder()
    assert emb.model_id == "onnx-int8:sentence-transformers/all-MiniLM-L6-v2"
    calls = []
    real = emb.encode_in_context
    emb.encode_in_context = lambda t, sp, **kw: calls.append(len(t)) or real(t, sp, **kw)
    enc = encode(ANSWERS * 2, emb, cache=EmbeddingCache(tmp_path))
    assert calls == [len(ANSWERS)]  # each distinct answer, once
    assert len(enc) == 2 * len(ANSWERS)


def _input(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": " ".join(
        rng.choice(ANSWERS[:5], int(rng.integers(1, 3)), replace=False)) + f" ({i})"}) + "\n"
        for i in range(n)), encoding="utf-8")
    return path


def test_cluster_run_is_byte_identical_with_the_real_model(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from nlp.classify.coding import code_file

    monkeypatch.delenv("NLP_EMBEDDER", raising=False)
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "local-cache"))
    src = _input(tmp_path / "in.jsonl", 120)
    code_file(src, tmp_path / "local.jsonl", chunk=25)
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "cluster-cache"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        code_file(src, tmp_path / "cluster.jsonl", chunk=25, cluster=client)
    assert (tmp_path / "cluster.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_100k_answers_code_in_one_run(tmp_path, capsys):
    """100,000 answers in one run, with progress (the fake embedder; the real model's time and
    peak memory at this size are evaluation/bench_batch.py's figures)."""
    texts = [f"Answer {i} says funding is short. It also says the tender was long for "
             f"group {i % 977}." for i in range(100_000)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                           for i, t in enumerate(texts)), encoding="utf-8")
    env = {**os.environ, "NLP_EMBEDDER": "fake:384", "NLP_CACHE_DIR": str(tmp_path / "c"),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "nlp", "code", str(src), "--out",
                             str(tmp_path / "out.jsonl"), "--model", "none"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read()[-2000:]
    with capsys.disabled():
        print(f"\n100,000 answers (fake embedder): peak RSS {usage.ru_maxrss / 1024:.0f} MB")
    assert sum(1 for _ in open(tmp_path / "out.jsonl")) == 100_000
    assert b"ETA" in proc.stderr.read()
