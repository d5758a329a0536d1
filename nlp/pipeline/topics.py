"""Pipeline (topics): a project's topic model fitted by the topics stage, saved beside its
database (cache/topics/), read back, its emergent topics accepted as themes, and its figures."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path

from .. import errors
from ..codebook import dumps_codebook, loads_codebook, with_theme
from ..project import Project
from ..topics import TopicResult, TopicsView, fit_topics, load_topics, save_topics, view_topics
from ..topics.model import match_by_codes
from ..topics.figures import response_groups, write_figures
from ..topics.persist import FORMAT
from ..types import MODEL_CODER, Codebook, Theme
from .coding import project_embedder, project_examples

log = logging.getLogger("nlp.topics")

__all__ = ["accept_emergent", "export_project_figures", "fit_project_topics",
           "load_project_topics", "project_fingerprint", "project_groups", "topics_command",
           "topics_dir"]


def topics_dir(project: Project) -> Path:
    """Where a project's topic model is saved: cache/topics/ beside the database."""
    return project.cache_dir / "topics"


def _examples(project: Project, codebook: Codebook) -> dict[str, list[str]]:
    """Answers researchers accepted for each theme (they sharpen the theme vectors)."""
    texts, themes, _ = project_examples(project.store, codebook)
    out: dict[str, list[str]] = {}
    for text, ts in zip(texts, themes):
        for t in ts:
            out.setdefault(t, []).append(text)
    return out


def _codes(project: Project, codebook: Codebook) -> dict[str, list[str]]:
    """The themes each answer is coded with: a researcher's decisions where there are any,
    else the model's suggestions."""
    _, themes, ids = project_examples(project.store, codebook)
    decided = {rid: list(ts) for rid, ts in zip(ids, themes)}
    model: dict[str, list[str]] = {}
    for c in project.store.codings(coder=MODEL_CODER, status="suggested"):
        if c.response_id not in decided and c.theme_id in codebook.theme_ids:
            model.setdefault(c.response_id, []).append(c.theme_id)
    return {**model, **decided}


def project_fingerprint(project: Project, *, seed: int = 0) -> str:
    """What a saved model depends on: answers, codebook, confirmed examples, embedder, seed."""
    store = project.store
    codebook = store.active_codebook()
    embedder, _ = project_embedder(project)
    corpus = store.corpus()
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, embedder.model_id, codebook.content_hash, seed,
                         sorted((k, sorted(v)) for k, v in _examples(project, codebook).items())],
                        ensure_ascii=False).encode())
    for r in corpus:
        h.update(f"{r.response_id}\t{r.text_hash}\t{r.flag or ''}\n".encode())
    return h.hexdigest()[:20]


def fit_project_topics(project: Project, *, seed: int = 0, stability_runs: int = 5,
                       progress: bool = False) -> TopicResult:
    """Fit topics to the project's answers, guided by its active codebook and the answers
    researchers have confirmed, and save the result in cache/topics/.

    Raises:
        NlpError: fewer than 20 answers.
    """
    store = project.store
    codebook = store.active_codebook()
    embedder, cache = project_embedder(project)
    result = fit_topics(store.corpus(), embedder=embedder, cache=cache, codebook=codebook,
                        examples=_examples(project, codebook), seed=seed,
                        stability_runs=stability_runs, progress=progress)
    result = match_by_codes(result, _codes(project, codebook))
    result = replace(result, fingerprint=project_fingerprint(project, seed=seed))
    save_topics(result, topics_dir(project))
    return result


def load_project_topics(project: Project) -> TopicResult | None:
    """The project's saved topic model, without refitting (None if never fitted)."""
    return load_topics(topics_dir(project))


def accept_emergent(project: Project, topic_id: int, *, theme_id: str, label: str,
                    definition: str) -> Codebook:
    """Add an emergent topic to the codebook as a new theme (a new codebook version, made
    active), with the topic's first three quotes as its include examples.

    Raises:
        ProjectError: no saved topics; NlpError: no such topic;
        CodebookError: the theme id is taken or not a valid id.
    """
    result = load_project_topics(project)
    if result is None:
        raise errors.no_topics()
    try:
        topic = result.topic(int(topic_id))
    except KeyError:
        raise errors.no_topic(topic_id, [str(t.topic_id) for t in result.topics]) from None
    codebook = project.store.active_codebook()
    if theme_id in codebook.theme_ids:
        raise errors.theme_id_taken(theme_id)
    if not topic.emergent:
        log.warning("Topic %s already matches theme %s; adding it as %s anyway", topic_id,
                    topic.theme_id, theme_id)
    theme = Theme(theme_id=theme_id.strip(), label=label.strip(),
                  definition=" ".join(definition.split()),
                  include=tuple(q[1] for q in topic.quotes[:3]))
    new = loads_codebook(dumps_codebook(with_theme(codebook, theme)), source="new theme")
    project.store.add_codebook(new, activate=True)
    topics = tuple(replace(t, theme_id=theme_id, theme_similarity=None, emergent=False)
                   if t.topic_id == topic.topic_id else t for t in result.topics)
    seed = int(result.params.get("seed", 0))
    save_topics(replace(result, topics=topics, codebook_version=str(new.version),
                        fingerprint=project_fingerprint(project, seed=seed)),
                topics_dir(project))
    return new


def topics_command(project: Project, *, refit: bool = False, seed: int = 0,
                   progress: bool = False) -> TopicsView:
    """What `nlp topics` runs: the saved model when it is current (same answers, codebook,
    confirmed examples, embedder and seed), else a fresh fit; then the rows to print."""
    saved = None if refit else load_project_topics(project)
    if saved is not None and saved.fingerprint == project_fingerprint(project, seed=seed):
        return view_topics(saved)
    return view_topics(fit_project_topics(project, seed=seed, progress=progress),
                       refitted=True)


def project_groups(project: Project, by: str = "source") -> dict[str, str]:
    """Group of each project response: "source", "question", "respondent_id", or a metadata
    field (its name, or "meta.NAME")."""
    return response_groups(project.store.corpus(), by)


def export_project_figures(project: Project, directory: str | Path | None = None, *,
                           group_by: str | None = "source", png: bool = True) -> list[Path]:
    """Write the figures of the project's saved topics (default: cache/topics/figures/).

    Raises:
        ProjectError: no saved topics.
    """
    result = load_project_topics(project)
    if result is None:
        raise errors.no_topics()
    groups = project_groups(project, group_by) if group_by else None
    return write_figures(result, directory or topics_dir(project) / "figures", groups=groups,
                         group_name=(group_by or "group").removeprefix("meta."),
                         formats=("html", "png") if png else ("html",),
                         own=directory is None)
