"""Pipeline (coding): a project's answers coded by the classify stage, learning from every
decision its researchers have made; the review order and the coders' agreement."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..classify.active import uncertainty
from ..classify.agreement import AgreementReport, agreement
from ..classify.coding import (CHUNK, CodeRun, batch_embedder, embed_run, resolve_model,
                               rounded_scores, score_chunks)
from ..classify.model import Encoded, Scored, ThemeClassifier, subset
from ..classify.review_queue import answers_review_order
from ..embed import Embedder, EmbeddingCache
from ..embed.run import RunProgress, make_runner
from ..project import Project
from ..resolve import resolve_codings
from ..store import Store
from ..store.review_order import write_review_order
from ..store.review_themes import coder_units
from ..types import MODEL_CODER, Codebook, Coding, Corpus

__all__ = ["CodeRun", "ProjectCodeRun", "code_project", "model_cuts", "project_agreement",
           "project_embedder", "project_examples", "store_review_order"]


@dataclass
class ProjectCodeRun(CodeRun):
    """A project's coding run: `CodeRun`, and what it did with answers coded before."""
    rescored: int = 0          # answers that had the model's scores and were scored again
    kept: int = 0              # answers whose earlier scores were kept
    reviewed: int = 0          # answers a researcher has decided on
    new_decisions: bool = False  # researchers decided something since the last run


# The project's last coding run (a store setting): the decisions it learned from (a digest)
# and each theme's cut, so the card can show a score against the cut it was judged by.
LAST_RUN_KEY = "last_code_run"


def _decisions_digest(ids: Sequence[str], themes: Sequence[Sequence[str]]) -> str:
    """One string that changes whenever a researcher's resolved decision changes."""
    pairs = sorted((r, sorted(t)) for r, t in zip(ids, themes))
    return hashlib.sha1(json.dumps(pairs).encode("utf-8")).hexdigest()


def model_cuts(store: Store) -> dict[str, float]:
    """{theme id: the probability cut} of the project's last coding run ({} before one): a
    theme is suggested on an answer when its score reaches the cut (and is near the answer's
    likeliest theme), and an answer's likeliest theme is always suggested."""
    last = store.get_setting(LAST_RUN_KEY) or {}
    cuts: Mapping[str, Any] = last.get("cuts") or {}
    return {str(t): float(c) for t, c in cuts.items()}


def project_examples(store: Store, codebook: Codebook
                     ) -> tuple[list[str], list[list[str]], list[str]]:
    """Answers a researcher has decided on, with the themes they accepted (the others count
    as absent): (texts, theme lists, response ids)."""
    decided = resolve_codings(c for c in store.codings()
                              if c.coder != MODEL_CODER and c.theme_id in codebook.theme_ids)
    by_resp: dict[str, list[str]] = {}
    for (rid, tid), res in decided.items():
        status = res.status
        by_resp.setdefault(rid, [])
        if status == "accepted":
            by_resp[rid].append(tid)
    if not by_resp:
        return [], [], []
    corpus = store.corpus(ids=list(by_resp))
    return corpus.texts, [by_resp[r] for r in corpus.ids], corpus.ids


def project_embedder(project: Project, *, device: str | None = "cpu"
                     ) -> tuple[Embedder, EmbeddingCache]:
    """The project's embedder (its settings' `embedder`, on `device`) and its vector cache."""
    return (batch_embedder(project.settings.embedder, device=device),
            EmbeddingCache(project.cache_dir))


def code_project(project: Project, *, recode_all: bool = False, model_dir: str | Path | None = None,
                 progress: bool = False, chunk: int = CHUNK, device: str | None = "cpu",
                 cluster: Any = None) -> ProjectCodeRun:
    """Code the project's answers not yet coded (all with `recode_all`), learning first from
    every decision researchers have made.

    Every answer of the project is embedded first (each distinct sentence once, chunk by
    chunk into the cache, here or on `cluster`) and sets the prior's statistics; then the
    answers to code are scored and stored `chunk` at a time, one transaction each. A killed
    run keeps its embeddings and the chunks it stored: run it again to go on from there (a
    killed re-scoring after new decisions starts that re-scoring again).

    Args:
        model_dir: a model folder, "none" (definitions alone) or None (the project's setting,
            else the shipped model); see nlp.classify.coding.resolve_model.
        device: "cpu", "cuda" or "auto" (see nlp.classify.coding.batch_embedder).
        cluster: a Dask scheduler address (tcp://HOST:8786) or a `distributed.Client`.
    """
    store = project.store
    codebook = store.active_codebook()
    embedder, cache = project_embedder(project, device=device)
    ex_t, ex_y, ex_ids = project_examples(store, codebook)
    model = resolve_model(codebook, model_dir=model_dir or project.settings.model,
                          embedder=embedder, cache=cache, extra_texts=ex_t, extra_themes=ex_y)
    everything = store.corpus()
    every_answer = everything.answers()
    # The whole consultation sets the prior's statistics, so answers coded now and answers
    # coded in a later run are judged on one scale; each answer is embedded once.
    runner = make_runner(embedder, cluster)
    try:
        enc_all = embed_run(every_answer.texts, embedder, cache=cache, chunk=chunk,
                            progress=progress, runner=runner)
    finally:
        runner.close()
    model.calibrate(enc_all)
    digest = _decisions_digest(ex_ids, ex_y)
    last = store.get_setting(LAST_RUN_KEY)
    predicted = set(store.predictions())
    reviewed = set(ex_ids)
    new_decisions = bool(predicted) and (
        last.get("decisions") != digest if last else bool(ex_ids))
    if recode_all:
        done: set[str] = set()
    elif new_decisions:
        done = predicted & reviewed   # answers no researcher reviewed are scored again
    else:
        done = predicted
    if not predicted:  # a first run: a killed one resumes (same decisions, chunks stored)
        store.set_setting(LAST_RUN_KEY, {"decisions": digest, "cuts": {}})
    corpus = Corpus(tuple(r for r in everything if r.response_id not in done))
    answers = corpus.answers()
    again = len(predicted & set(answers.ids))
    run = ProjectCodeRun(skipped_flagged=len(corpus) - len(answers), examples=len(ex_t),
                         model=str(model_dir or project.settings.model or "default"),
                         rescored=again, kept=len(predicted) - again, reviewed=len(reviewed),
                         new_decisions=new_decisions)
    todo = [i for i, r in enumerate(every_answer) if r.response_id not in done]
    enc = subset(enc_all, todo)
    per_theme = np.zeros(len(model.theme_ids_), dtype=int)
    bar = RunProgress("Coding", len(answers), enabled=progress, unit="answers")
    try:
        for _, part, codings, scored in score_chunks(answers, model, enc, chunk=chunk):
            _store_chunk(store, model, run.model, part, codings, scored)
            per_theme += scored.chosen.sum(0)
            bar.advance(len(part))
    finally:
        bar.close()
    run.coded = len(answers)
    run.per_theme = {t: int(per_theme[i]) for i, t in enumerate(model.theme_ids_)}
    store.set_setting(LAST_RUN_KEY, {
        "decisions": digest,
        "cuts": {t: round(float(c), 4) for t, c in zip(model.theme_ids_, model.thresholds_)}})
    store_review_order(store, model, every_answer, enc_all, ex_ids, ex_y, model_id=run.model)
    return run


def _store_chunk(store: Store, model: ThemeClassifier, model_name: str, part: Corpus,
                 codings: list[Coding], scored: Scored) -> None:
    """One chunk's scores and suggestions, in one transaction."""
    scores = {rid: rounded_scores(model, row) for rid, row in zip(part.ids, scored.proba)}
    unc = dict(zip(part.ids, uncertainty(scored.proba, model.thresholds_).tolist()))
    suggested: dict[str, list[str]] = {}
    for c in codings:
        suggested.setdefault(c.response_id, []).append(c.theme_id)
    store.write_model_codings(scores, dict(zip(model.theme_ids_, model.thresholds_.tolist())),
                              model_id=model_name, uncertainty=unc, suggested=suggested,
                              evidence={(c.response_id, c.theme_id): c.span for c in codings
                                        if c.span is not None})


def store_review_order(store: Store, model: ThemeClassifier, answers: Corpus, enc: Encoded,
                       reviewed_ids: Sequence[str],
                       reviewed_themes: Sequence[Sequence[str]], *, model_id: str) -> None:
    """Rank every answer no researcher has decided on for review (`review_order`, with its
    random checks) by the model's current scores, and store the order."""
    if not len(answers):
        return
    ranks, checks = answers_review_order(model, answers, enc, reviewed_ids, reviewed_themes)
    write_review_order(store, ranks, checks, model_id=model_id)


def project_agreement(store: Store, *, include_model: bool = True, bootstrap: int = 1000,
                      seed: int = 0) -> AgreementReport:
    """Agreement between the project's coders (the model counting as one) on the active
    codebook's themes; see `nlp.classify.agreement.agreement`."""
    return agreement(coder_units(store, include_model=include_model),
                     store.active_codebook().theme_ids, bootstrap=bootstrap, seed=seed)
