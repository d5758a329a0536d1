"""Classify stage: code responses with a theme model (long runs in chunks; file mode with its
review order). nlp.pipeline codes a project's answers (`code_project`)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from .. import errors
from ..codebook import load_codebook
from ..corpora import available, codebook_path, load
from ..embed import (EmbeddingCache, OnnxEmbedder, SentenceTransformerEmbedder,
                     cache_root, get_embedder)
from ..fsio import (atomic_path, check_output_file, ensure_output_dir, open_input,
                    open_own_file, read_input)
from ..ingest import ImportOptions, read_file
from ..types import MODEL_CODER, Codebook, Coding, Corpus
from .backends import CLASSIFIERS, DEFAULT_CLASSIFIER, ThemeModel
from ..embed.run import RunProgress, make_runner
from .model import OWN_STATISTICS, Encoded, Scored, ThemeClassifier, encode, subset
from .persist import default_model_dir, load_model, read_model_config
from .examples import Examples, read_coded_examples, read_examples  # noqa: F401 (API)
from .review_queue import file_review_order

if TYPE_CHECKING:
    from ..embed import Embedder

log = logging.getLogger(__name__)


@dataclass
class CodeRun:
    """What a coding run did: answers coded, suggestions per theme, the model used."""
    coded: int = 0
    skipped_flagged: int = 0
    per_theme: dict[str, int] = field(default_factory=dict)
    model: str = ""
    examples: int = 0


def bundled_examples(codebook: Codebook) -> tuple[list[str], list[list[str]]]:
    """Training units of a bundled corpus coded with this very codebook (else none)."""
    for name in available():
        try:
            if load_codebook(codebook_path(name)).content_hash != codebook.content_hash:
                continue
        except errors.NlpError:
            continue
        df = load(name)
        return df["text"].tolist(), [list(t) for t in df["themes"]]
    return [], []


def train_classifier(codebook: Codebook, texts: Sequence[str], themes: Sequence[Sequence[str]],
                     *, embedder: Embedder, cache: EmbeddingCache | None = None,
                     backend: str = DEFAULT_CLASSIFIER) -> ThemeModel:
    """Fit a classifier (`backend`, a key of CLASSIFIERS) on examples (the codebook alone when
    there are none)."""
    if backend not in CLASSIFIERS:
        raise errors.unknown_classifier(backend, list(CLASSIFIERS))
    clf = CLASSIFIERS[backend](codebook=codebook, embedder=embedder, cache=cache)
    return clf.fit(list(texts) or None, [list(t) for t in themes] or None)


def _train_theme(codebook: Codebook, texts: Sequence[str], themes: Sequence[Sequence[str]],
                 *, embedder: Embedder, cache: EmbeddingCache | None = None) -> ThemeClassifier:
    """The default classifier fitted on examples: what `resolve_model` gives when it trains."""
    clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
    return clf.fit(list(texts) or None, [list(t) for t in themes] or None)


def resolve_model(codebook: Codebook, *, model_dir: str | Path | None,
                  embedder: Embedder | None = None,
                  cache: EmbeddingCache | None = None, extra_texts: Sequence[str] = (),
                  extra_themes: Sequence[Sequence[str]] = ()) -> ThemeClassifier:
    """The model to code with.

    `model_dir` "none" means definitions alone; a folder loads that model (the codebook must
    match); None uses the shipped model when the codebook is the one it was trained on, else
    definitions alone. Researcher examples (`extra_*`) always retrain: on the bundled corpus
    too when the codebook is the bundled one.
    """
    if extra_texts:
        base_t, base_y = bundled_examples(codebook) if model_dir != "none" else ([], [])
        emb = embedder or get_embedder(None)
        return _train_theme(codebook, [*base_t, *extra_texts], [*base_y, *extra_themes],
                            embedder=emb, cache=cache)
    if model_dir == "none":
        return _train_theme(codebook, [], [], embedder=embedder or get_embedder(None),
                        cache=cache)
    if model_dir is not None:
        return load_model(model_dir, codebook=codebook, embedder=embedder, cache=cache)
    d = default_model_dir()
    if (d / "config.json").exists() and \
            read_model_config(d)["codebook"]["hash"] == codebook.content_hash:
        config = read_model_config(d)
        if embedder is None or getattr(embedder, "model_id", None) == config["embedder_id"]:
            return load_model(d, codebook=codebook, embedder=embedder, cache=cache)
        # Another embedding backend was chosen (NLP_EMBEDDER or the project's setting): the
        # shipped weights mean nothing in its space, so learn the same examples in it.
        log.info("shipped model is for %s, not %s: training on the bundled corpus instead",
                 config["embedder_id"], embedder.model_id)
        base_t, base_y = bundled_examples(codebook)
        return _train_theme(codebook, base_t, base_y, embedder=embedder, cache=cache)
    log.info("no trained model for codebook %s v%s: coding from definitions alone",
             codebook.name, codebook.version)
    return _train_theme(codebook, [], [], embedder=embedder or get_embedder(None),
                        cache=cache)


def code_responses(corpus: Corpus, model: ThemeClassifier, *, progress: bool = False,
                   encoded: Encoded | None = None) -> tuple[list[Coding], Scored]:
    """Code every answer of `corpus` (flagged non-answers get nothing).

    Args:
        encoded: the answers' embeddings when the caller has them already.

    Returns:
        (suggested codings, each with its evidence sentence as `span`; the model's `Scored`
        output aligned with corpus.ids: probabilities, decisions, evidence offsets).
    """
    k = len(model.theme_ids_)
    if not len(corpus):
        return [], Scored(proba=np.zeros((0, k)), chosen=np.zeros((0, k), dtype=bool),
                          evidence=np.zeros((0, k, 2), dtype=np.int64))
    enc = encoded if encoded is not None else encode(corpus.texts, model.embedder,
                                                     cache=model.cache, progress=progress)
    scored = model.score_batch(enc)
    flagged = np.array([r.flag is not None for r in corpus])
    scored.proba[flagged] = 0.0
    scored.chosen[flagged] = False
    codings = [Coding(response_id=rid, theme_id=model.theme_ids_[t], coder=MODEL_CODER,
                      origin="model", status="suggested", confidence=float(scored.proba[i, t]),
                      span=_span(scored.evidence[i, t]))
               for i, rid in enumerate(corpus.ids) for t in np.flatnonzero(scored.chosen[i])]
    return codings, scored


def _span(se: np.ndarray) -> tuple[int, int] | None:
    return (int(se[0]), int(se[1])) if se[0] >= 0 else None


# --- batch runs: chunks, progress, resume, a cluster ---------------------------------------------

CHUNK = 2_000  # answers scored and written together (and embedded between cache writes)


def embed_run(texts: Sequence[str], embedder: Embedder, *, cache: EmbeddingCache | None = None,
              chunk: int = CHUNK, progress: bool = False, runner=None) -> Encoded:
    """`encode` for a long run: `chunk` answers at a time go to the cache as they finish (a
    killed run resumes where it stopped), here or on `runner` (a cluster), with progress."""
    return encode(texts, embedder, cache=cache, progress=progress, chunk=chunk, runner=runner)


def score_chunks(corpus: Corpus, model: ThemeClassifier, enc: Encoded, *, chunk: int = CHUNK,
                 start: int = 0) -> Iterator[tuple[int, Corpus, list[Coding], Scored]]:
    """(chunk number, answers, codings, scores) for consecutive chunks of `corpus` (aligned
    with `enc`), from chunk `start` on. A calibrated model scores each answer alone; an
    uncalibrated one (a batch under OWN_STATISTICS answers) gets the batch in one piece."""
    n = len(corpus)
    if not getattr(model, "calibrated_", False):
        chunk = max(n, 1)
    for c, lo in enumerate(range(0, n, chunk)):
        if c < start:
            continue
        idx = list(range(lo, min(n, lo + chunk)))
        part = Corpus(tuple(corpus[i] for i in idx))
        codings, scored = code_responses(part, model, encoded=subset(enc, idx))
        yield c, part, codings, scored


def _resolve_device(device: str | None) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu" (torch is imported only where an
    NVIDIA driver is present, so a CPU machine pays nothing for the check)."""
    device = (device or "auto").lower()
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise errors.unknown_device(device)
    if device != "auto":
        if device.startswith("cuda") and not _torch_sees_cuda():
            raise errors.no_cuda(device)
        return device
    if not (Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists()):
        return "cpu"
    return "cuda" if _torch_sees_cuda() else "cpu"


def _torch_sees_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def batch_embedder(spec: str | None = None, *, device: str | None = "auto"):
    """The embedder of a run on `device` ("auto", "cpu", "cuda", "cuda:N").

    On the CPU: `spec` (else $NLP_EMBEDDER, else the default). On a GPU: a sentence-transformers
    spec runs there with batches of 64; the default int8 ONNX model (a CPU model) gives way to
    its full-precision network in sentence-transformers on the GPU (model id `st:...`); an
    explicit `onnx`/`onnx-int8` spec stays ONNX (on ONNX Runtime's CUDA provider where
    onnxruntime-gpu is installed).
    """
    dev = _resolve_device(device)
    emb = get_embedder(spec)
    if dev == "cpu":
        return emb
    given = (spec or os.environ.get("NLP_EMBEDDER") or "").strip().split(":", 1)[0]
    if isinstance(emb, SentenceTransformerEmbedder):
        emb.device, emb.batch_size = dev, max(emb.batch_size, 64)  # a GPU wants big batches
        return emb
    if isinstance(emb, OnnxEmbedder):
        if given in ("onnx", "onnx-int8"):
            emb.device = dev
            return emb
        st = SentenceTransformerEmbedder(emb.model)
        st.device, st.batch_size = dev, 64
        log.info("device %s: embedding with %s instead of %s", dev, st.model_id, emb.model_id)
        return st
    log.warning("%s has no GPU path: it runs on the CPU", emb.model_id)
    return emb


def rounded_scores(model, row: np.ndarray) -> dict[str, float]:
    """One answer's probabilities by theme id, as stored and written (4 decimals)."""
    return {t: round(float(p), 4) for t, p in zip(model.theme_ids_, row)}


def model_fingerprint(model) -> str:
    """A digest of everything a fitted (and calibrated) model decides with: its fitted
    attributes (names ending in "_") and parameters."""
    h = hashlib.sha256()
    for name in sorted(vars(model)):
        if not name.endswith("_") or name.startswith("_"):
            continue
        v = getattr(model, name)
        h.update(name.encode())
        if isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr(v).encode())
    return h.hexdigest()


def _file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open_input(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lines(model, part: Corpus, codings: list[Coding], scored: Scored,
           ranks: dict[str, int] | None = None,
           decided: dict[str, list[str]] | None = None) -> bytes:
    """One JSON line per answer; an answer in `decided` (the researcher's examples) keeps
    those themes and has no rank, every other one gets its `review_rank` from `ranks`."""
    by_id: dict[str, list[Coding]] = {}
    for c in codings:
        by_id.setdefault(c.response_id, []).append(c)
    out = []
    for rid, row in zip(part.ids, scored.proba):
        mine = sorted(by_id.get(rid, []), key=lambda c: -(c.confidence or 0))
        line: dict[str, Any] = {"id": rid, "themes": [c.theme_id for c in mine],
                                "scores": rounded_scores(model, row)}
        if decided is not None and rid in decided:
            line["themes"] = list(decided[rid])
        elif ranks is not None:
            line["review_rank"] = ranks[rid]
        out.append(json.dumps(line, ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


def code_file(input_path: str | Path, out_path: str | Path, *, codebook_path=None,
              model_dir: str | Path | None = None, examples: str | Path | None = None,
              progress: bool = False, chunk: int = CHUNK, device: str | None = "cpu",
              cluster=None, embedder: Embedder | None = None,
              on_chunk: Callable[[int], None] | None = None) -> int:
    """File mode of `nlp code`: one {"id", "themes", "scores", "review_rank"} JSON line per
    input row. An answer whose id is among the examples' ids keeps the examples' themes and
    has no `review_rank`; every other answer is ranked 1..n in the review order (1 = review
    first; every AUDIT_EVERY-th a random check, see `nlp.classify.active`).

    The run is the project mode's: every distinct sentence embedded once, chunk by chunk into
    the user cache (here or on `cluster`); the whole file sets the prior's statistics; the
    answers are scored `chunk` at a time and each chunk's lines are committed to a partial file
    beside OUT (`.OUT.partial`, with its state in `.OUT.partial.json`) that becomes OUT at the
    end. A killed run, started again with the same input and model, goes on from the last
    chunk committed; the result is byte for byte the uninterrupted run's.

    Args:
        device: "cpu", "cuda" or "auto" (see `batch_embedder`).
        cluster: a Dask scheduler address (tcp://HOST:8786) or a `distributed.Client`.
        embedder: use this embedder (default: `batch_embedder(None, device=device)`).
        on_chunk: called with each chunk's number once it is committed (tests).

    Returns:
        Lines written.
    """
    codebook = load_codebook(codebook_path)
    final = check_output_file(out_path)
    partial = final.with_name(f".{final.name}.partial")
    state_path = final.with_name(f".{final.name}.partial.json")
    # The partial files are the toolkit's own names beside OUT: checked like OUT, and never
    # written through a symbolic link (a link there to project.db must not be truncated).
    for own in (partial, state_path):
        check_output_file(own, follow=False)
    res = read_file(input_path, ImportOptions(text_col="text", id_col="id", kind="table"))
    corpus = Corpus(tuple(res.responses))
    ex = read_coded_examples(examples, codebook) if examples else Examples()
    cache = EmbeddingCache(cache_root())
    emb = embedder if embedder is not None else batch_embedder(None, device=device)
    model = resolve_model(codebook, model_dir=model_dir, embedder=emb, cache=cache,
                          extra_texts=ex.texts, extra_themes=ex.themes)
    runner = make_runner(emb, cluster)
    try:
        enc = embed_run(corpus.texts, emb, cache=cache, chunk=chunk, progress=progress,
                        runner=runner)
    finally:
        runner.close()
    if len(corpus) >= OWN_STATISTICS:  # else the batch is scored whole, as it always was
        model.calibrate(enc)
    # Every chunk is scored first (cheap beside embedding): the review order ranks the
    # whole file, and the examples' ids say which answers a researcher has decided on.
    parts = list(score_chunks(corpus, model, enc, chunk=chunk))
    proba = np.concatenate([sc.proba for _, _, _, sc in parts]) if parts else \
        np.zeros((0, len(model.theme_ids_)))
    decided = {rid: ex.by_id[rid] for rid in corpus.ids if rid in ex.by_id}
    ranks = file_review_order(corpus, model, enc, proba, ex)
    key = hashlib.sha256(json.dumps([_file_digest(input_path), emb.model_id,
                                     model_fingerprint(model), chunk, len(corpus),
                                     sorted(decided.items())])
                         .encode()).hexdigest()
    start, offset = 0, 0
    try:
        state = json.loads(read_input(state_path, limit=1 << 16))
        if state.get("key") == key and partial.is_file() and \
                partial.stat().st_size >= int(state["bytes"]):
            start, offset = int(state["chunks"]), int(state["bytes"])
            log.info("resuming %s after chunk %d (%d bytes)", final, start, offset)
    except (errors.InputError, ValueError, KeyError, TypeError):
        pass
    ensure_output_dir(final.parent)
    bar = RunProgress("Coding", len(corpus), enabled=progress, unit="answers")
    bar.advance(min(len(corpus), start * chunk) if len(corpus) >= OWN_STATISTICS else 0)
    try:
        with open_own_file(partial, append=bool(start)) as fh:
            fh.truncate(offset)
            fh.seek(offset)
            for c, part, codings, scored in parts[start:]:
                fh.write(_lines(model, part, codings, scored, ranks, decided))
                fh.flush()
                os.fsync(fh.fileno())
                with atomic_path(state_path, follow=False) as tmp:
                    tmp.write_text(json.dumps({"key": key, "chunks": c + 1,
                                               "bytes": fh.tell()}), encoding="utf-8")
                bar.advance(len(part))
                if on_chunk is not None:
                    on_chunk(c)
    finally:
        bar.close()
    check_output_file(final)  # something may have appeared under the name meanwhile
    check_output_file(partial, follow=False)
    os.chmod(partial, 0o644)
    os.replace(partial, final)
    state_path.unlink(missing_ok=True)
    return len(corpus)
