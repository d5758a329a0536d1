"""Topics stage (project): fit, save (JSON + NumPy, no pickle), load, accept emergent themes."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import errors
from ..classify.coding import project_embedder, project_examples
from ..codebook import dumps_codebook, loads_codebook, with_theme
from ..fsio import atomic_write
from ..types import Codebook, Theme
from .metrics import Stability
from .model import Topic, TopicResult, fit_topics

if TYPE_CHECKING:
    from ..project import Project

log = logging.getLogger("nlp.topics")

FORMAT = 1
RESULT_FILE = "topics.json"
CENTROIDS_FILE = "centroids.npy"


def topics_dir(project: Project) -> Path:
    """Where a project's topic model is saved: cache/topics/ beside the database."""
    return project.cache_dir / "topics"


def _atomic_write(path: Path, write) -> None:
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def save_topics(result: TopicResult, directory: str | Path) -> Path:
    """Write `result` to DIR/topics.json and DIR/centroids.npy; returns the JSON path."""
    d = Path(directory)
    data: dict[str, Any] = {
        "format": FORMAT, "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": result.fingerprint, "embedder": result.embedder,
        "codebook": result.codebook, "codebook_version": result.codebook_version,
        "params": dict(result.params), "outlier_share": result.outlier_share,
        "unassigned_share": result.unassigned_share,
        "stability": result.stability.to_dict() if result.stability else None,
        "coherence": result.coherence, "diversity": result.diversity,
        "excluded": list(result.excluded), "topics": [t.to_dict() for t in result.topics],
        "response_ids": list(result.response_ids), "assignments": list(result.assignments)}
    _atomic_write(d / CENTROIDS_FILE,
                  lambda fh: np.save(fh, np.asarray(result.centroids, np.float32),
                                     allow_pickle=False))
    body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    _atomic_write(d / RESULT_FILE, lambda fh: fh.write(body))
    return d / RESULT_FILE


def load_topics(directory: str | Path) -> TopicResult | None:
    """Read a result written by `save_topics` (None if there is none or it is unreadable)."""
    d = Path(directory)
    if not (d / RESULT_FILE).is_file():
        return None
    try:
        data = json.loads((d / RESULT_FILE).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        cents = np.load(d / CENTROIDS_FILE, allow_pickle=False)
        st = data.get("stability")
        return TopicResult(
            topics=tuple(Topic.from_dict(t) for t in data["topics"]),
            response_ids=tuple(data["response_ids"]),
            assignments=tuple(int(x) for x in data["assignments"]),
            excluded=tuple(data.get("excluded", ())), outlier_share=data["outlier_share"],
            unassigned_share=data["unassigned_share"],
            stability=Stability(**st) if st else None, coherence=data["coherence"],
            diversity=data["diversity"], params=data["params"], embedder=data["embedder"],
            codebook=data.get("codebook"), codebook_version=data.get("codebook_version"),
            fingerprint=data.get("fingerprint", ""), centroids=cents)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("Ignoring unreadable topic model in %s (%s); it will be refitted", d, exc)
        return None


def _examples(project, codebook: Codebook) -> dict[str, list[str]]:
    """Answers researchers accepted for each theme (they sharpen the theme vectors)."""
    texts, themes, _ = project_examples(project.store, codebook)
    out: dict[str, list[str]] = {}
    for text, ts in zip(texts, themes):
        for t in ts:
            out.setdefault(t, []).append(text)
    return out


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


@dataclass(frozen=True)
class TopicsView:
    """What `nlp topics` prints: a table and notes under it."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...]
    result: TopicResult
    refitted: bool


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def view_topics(result: TopicResult, *, refitted: bool = False) -> TopicsView:
    """Table rows and notes for a result."""
    rows = []
    for t in result.topics:
        sim = f", {t.theme_similarity:.2f}" if t.theme_similarity is not None else ""
        theme = (f"NEW (nearest {t.theme_id}{sim})" if t.emergent and t.theme_id else
                 "NEW" if t.emergent else
                 f"{t.theme_id} ({t.theme_similarity:.2f})" if sim else f"{t.theme_id} (accepted)")
        rows.append((str(t.topic_id), t.label, ", ".join(t.keywords[:6]), str(t.size),
                     f"{t.share:.1%}", theme, _short(t.quotes[0][1]) if t.quotes else ""))
    p = result.params
    how = (f"consensus k-means, k={p.get('k')}" if p.get("method") == "consensus-kmeans"
           else f"UMAP + HDBSCAN, min cluster size {p.get('hdbscan_min_cluster_size')}")
    notes = [f"{len(result.response_ids)} answers modelled, {len(result.excluded)} non-answers "
             f"left out; {how}; {len(p.get('seeded_themes', []))} codebook themes seeded topics."]
    notes.append(f"Outliers: {result.outlier_share:.1%} before reassignment, "
                 f"{result.unassigned_share:.1%} left unassigned.")
    if result.stability:
        s = result.stability
        notes.append(f"Stability over {s.runs} fits (other seeds, shuffled answers): "
                     f"{s.survival:.0%} of topics survive, mean adjusted Rand index "
                     f"{s.mean_ari:.2f} (worst pair {s.min_ari:.2f}).")
    notes.append(f"Coherence (NPMI) {result.coherence:.3f}; keyword diversity "
                 f"{result.diversity:.2f}.")
    if result.emergent:
        notes.append(f"{len(result.emergent)} emergent topic(s) (NEW) match no codebook "
                     "theme; one can become a theme of the codebook (`accept_topic`).")
    title = (f"Topics ({'fitted now' if refitted else 'saved model'}; codebook "
             f"{result.codebook or '-'} v{result.codebook_version or '-'})")
    return TopicsView(title=title, columns=("#", "Topic", "Keywords", "Answers", "Share",
                                            "Theme (similarity)", "Example quote"),
                      rows=tuple(rows), notes=tuple(notes), result=result, refitted=refitted)


def topics_command(project: Project, *, refit: bool = False, seed: int = 0,
                   progress: bool = False) -> TopicsView:
    """What `nlp topics` runs: the saved model when it is current (same answers, codebook,
    confirmed examples, embedder and seed), else a fresh fit; then the rows to print."""
    saved = None if refit else load_project_topics(project)
    if saved is not None and saved.fingerprint == project_fingerprint(project, seed=seed):
        return view_topics(saved)
    return view_topics(fit_project_topics(project, seed=seed, progress=progress),
                       refitted=True)
