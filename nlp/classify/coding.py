"""Pipeline: code responses with a theme model; what the CLI and the app call."""
from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import errors
from ..codebook import load_codebook
from ..corpora import available, codebook_path, load
from ..embed import EmbeddingCache, cache_root, get_embedder
from ..fsio import atomic_path
from ..ingest import ImportOptions, read_file
from ..store.resolve import resolve_codings
from ..types import MODEL_CODER, Codebook, Coding, Corpus
from .active import uncertainty
from .backends import CLASSIFIERS, DEFAULT_CLASSIFIER, ThemeModel
from .model import Encoded, Scored, ThemeClassifier, encode, subset
from .persist import default_model_dir, load_model, read_model_config

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


def project_examples(store, codebook: Codebook) -> tuple[list[str], list[list[str]], list[str]]:
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


def train_classifier(codebook: Codebook, texts: Sequence[str], themes: Sequence[Sequence[str]],
                     *, embedder, cache=None, backend: str = DEFAULT_CLASSIFIER) -> ThemeModel:
    """Fit a classifier (`backend`, a key of CLASSIFIERS) on examples (the codebook alone when
    there are none)."""
    if backend not in CLASSIFIERS:
        raise errors.ModelError(f"unknown classifier backend {backend!r}; use one of "
                                f"{', '.join(CLASSIFIERS)}.")
    clf = CLASSIFIERS[backend](codebook=codebook, embedder=embedder, cache=cache)
    return clf.fit(list(texts) or None, [list(t) for t in themes] or None)


def resolve_model(codebook: Codebook, *, model_dir: str | Path | None, embedder=None,
                  cache=None, extra_texts: Sequence[str] = (),
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
        return train_classifier(codebook, [*base_t, *extra_texts], [*base_y, *extra_themes],
                                embedder=emb, cache=cache)
    if model_dir == "none":
        return train_classifier(codebook, [], [], embedder=embedder or get_embedder(None),
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
        return train_classifier(codebook, base_t, base_y, embedder=embedder, cache=cache)
    log.info("no trained model for codebook %s v%s: coding from definitions alone",
             codebook.name, codebook.version)
    return train_classifier(codebook, [], [], embedder=embedder or get_embedder(None),
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


def project_embedder(project):
    return get_embedder(project.config.get("embedder")), EmbeddingCache(project.cache_dir)


def code_project(project, *, recode_all: bool = False, model_dir: str | Path | None = None,
                 progress: bool = False) -> CodeRun:
    """Code the project's answers not yet coded (all with `recode_all`), learning first from
    every decision researchers have made. One transaction writes all suggestions."""
    store = project.store
    codebook = store.active_codebook()
    embedder, cache = project_embedder(project)
    ex_t, ex_y, _ = project_examples(store, codebook)
    model = resolve_model(codebook, model_dir=model_dir or project.config.get("model"),
                          embedder=embedder, cache=cache, extra_texts=ex_t, extra_themes=ex_y)
    everything = store.corpus()
    every_answer = everything.answers()
    # The whole consultation sets the prior's statistics, so answers coded now and answers
    # coded in a later run are judged on one scale; each answer is embedded once.
    enc_all = encode(every_answer.texts, embedder, cache=cache, progress=progress)
    model.calibrate(enc_all)
    done = set() if recode_all else set(store.predictions())
    corpus = Corpus(tuple(r for r in everything if r.response_id not in done))
    answers = corpus.answers()
    run = CodeRun(skipped_flagged=len(corpus) - len(answers), examples=len(ex_t),
                  model=str(model_dir or project.config.get("model") or "default"))
    todo = [i for i, r in enumerate(every_answer) if r.response_id not in done]
    codings, scored = code_responses(answers, model, encoded=subset(enc_all, todo))
    scores = {rid: {t: round(float(p), 4) for t, p in zip(model.theme_ids_, row)}
              for rid, row in zip(answers.ids, scored.proba)}
    unc = dict(zip(answers.ids, uncertainty(scored.proba, model.thresholds_).tolist()))
    suggested: dict[str, list[str]] = {}
    for c in codings:
        suggested.setdefault(c.response_id, []).append(c.theme_id)
    store.write_model_codings(scores, dict(zip(model.theme_ids_, model.thresholds_.tolist())),
                              model_id=run.model, uncertainty=unc, suggested=suggested,
                              evidence={(c.response_id, c.theme_id): c.span for c in codings
                                        if c.span is not None})
    run.coded = len(answers)
    run.per_theme = {t: int(scored.chosen[:, i].sum()) for i, t in enumerate(model.theme_ids_)}
    return run


def _theme_list(raw: Any) -> list[str]:
    """A `themes` cell: a list (JSONL), a JSON list as text, or ids separated by ';' (or
    ','). A list that a reader turned into text (its Python form) is read back as data."""
    if isinstance(raw, (list, tuple)):
        vals = list(raw)
    elif raw is None or (isinstance(raw, float) and raw != raw):
        vals = []
    else:
        s = str(raw).strip()
        if s.startswith("["):
            try:
                vals = json.loads(s)
            except json.JSONDecodeError:
                vals = ast.literal_eval(s)  # "['A', 'D']": literals only, never code
            if not isinstance(vals, list):
                raise ValueError("not a list")
        else:
            vals = s.replace(",", ";").split(";")
    return [str(v).strip() for v in vals if str(v).strip()]


def read_examples(path: str | Path, codebook: Codebook | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """A researcher's hand-coded sample: JSONL or CSV with `text` and `themes` (a list in
    JSONL; in CSV, ids separated by ';').

    Raises:
        InputError: a row whose themes cannot be read, or (with `codebook`) names a theme
            the codebook does not have; the message names the row.
    """
    p = Path(path)
    res = read_file(p, ImportOptions(text_col="text", kind="table"))
    texts, themes = [], []
    known = set(codebook.theme_ids) if codebook is not None else None
    for r in res.responses:
        try:
            vals = _theme_list(r.metadata.get("themes"))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise errors.InputError(p, "'themes' is neither a list nor ids separated by ';'.",
                                    row=r.location) from None
        if known is not None:
            bad = [t for t in vals if t not in known]
            if bad:
                raise errors.InputError(p, f"theme {bad[0]!r} is not in the codebook "
                                        f"{codebook.name!r} (its ids: "
                                        f"{', '.join(sorted(known))}).", row=r.location)
        texts.append(r.text)
        themes.append(vals)
    return texts, themes


def code_file(input_path: str | Path, out_path: str | Path, *, codebook_path=None,
              model_dir: str | Path | None = None, examples: str | Path | None = None,
              progress: bool = False) -> int:
    """File mode of `nlp code`: one {"id", "themes", "scores"} JSON line per input row.

    Returns:
        Lines written.
    """
    codebook = load_codebook(codebook_path)
    res = read_file(input_path, ImportOptions(text_col="text", id_col="id", kind="table"))
    corpus = Corpus(tuple(res.responses))
    ex_t, ex_y = read_examples(examples, codebook) if examples else ([], [])
    cache = EmbeddingCache(cache_root())
    model = resolve_model(codebook, model_dir=model_dir, embedder=get_embedder(None),
                          cache=cache, extra_texts=ex_t, extra_themes=ex_y)
    codings, scored = code_responses(corpus, model, progress=progress)
    by_id: dict[str, list[Coding]] = {}
    for c in codings:
        by_id.setdefault(c.response_id, []).append(c)
    with atomic_path(out_path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for rid, row in zip(corpus.ids, scored.proba):
            mine = sorted(by_id.get(rid, []), key=lambda c: -(c.confidence or 0))
            fh.write(json.dumps({
                "id": rid,
                "themes": [c.theme_id for c in mine],
                "scores": {t: round(float(p), 4) for t, p in zip(model.theme_ids_, row)},
            }, ensure_ascii=False) + "\n")
    return len(corpus)
