"""Topics stage (figures): intertopic map, topic sizes, hierarchy, topics per group (plotly).

Every figure is drawn from a saved `TopicResult` alone (no refit). HTML export works offline
(plotly.js is written once beside the pages); PNG export needs the optional `kaleido` package
and a Chrome or Chromium it can drive.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist
from sklearn.manifold import smacof

from .. import errors
from ..fsio import atomic_path, atomic_write, ensure_output_dir
from ..types import Corpus

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .model import TopicResult

log = logging.getLogger("nlp.topics")

MATCHED, EMERGENT = "#4C78A8", "#E45756"
MAX_GROUPS = 30
FIGURES = ("intertopic_map", "topic_sizes", "topic_hierarchy", "topics_per_group")


def _name(t) -> str:
    return f"{t.topic_id}: {t.label}"


def _hover(t) -> str:
    theme = ("NEW (emergent)" if t.emergent else f"{t.theme_id} ({t.theme_similarity:.2f})"
             if t.theme_similarity is not None else f"{t.theme_id} (accepted)")
    return (f"<b>{_name(t)}</b><br>{t.size} answers ({t.share:.1%})<br>theme: {theme}<br>"
            f"{', '.join(t.keywords[:8])}")


def topic_coordinates(result: "TopicResult") -> np.ndarray:
    """2-D positions of the topics: metric MDS (SMACOF) of the distances between their
    centroids, started from their first two principal components (deterministic: PCA signs are
    fixed so each component's largest loading is positive)."""
    C = np.asarray(result.centroids, dtype=np.float64)
    k = len(C)
    if k == 0:
        return np.zeros((0, 2))
    Z = C - C.mean(axis=0)
    U, S, Vt = np.linalg.svd(Z, full_matrices=False)
    signs = np.sign(Vt[np.arange(len(Vt)), np.argmax(np.abs(Vt), axis=1)])
    coords = (U * S) * signs
    out = np.zeros((k, 2))
    out[:, :min(2, coords.shape[1])] = coords[:, :2]
    if k < 4:
        return out

    D = np.sqrt(np.clip(2.0 - 2.0 * C @ C.T, 0.0, None))  # Euclidean between unit centroids
    np.fill_diagonal(D, 0.0)
    return np.asarray(smacof(D, n_components=2, init=out, n_init=1, metric=True,
                             random_state=0)[0])


def intertopic_map(result: "TopicResult") -> "go.Figure":
    """Topics as bubbles (area ~ answers), placed so that similar topics sit close; red ones
    match no codebook theme."""
    import plotly.graph_objects as go

    xy = topic_coordinates(result)
    fig = go.Figure()
    for emergent, colour, name in ((False, MATCHED, "matches a theme"),
                                   (True, EMERGENT, "emergent (no theme)")):
        idx = [i for i, t in enumerate(result.topics) if t.emergent == emergent]
        if not idx:
            continue
        sizes = np.array([result.topics[i].size for i in idx], dtype=float)
        fig.add_trace(go.Scatter(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers+text", name=name,
            text=[str(result.topics[i].topic_id) for i in idx], textposition="middle center",
            marker=dict(size=12 + 48 * np.sqrt(sizes / max(1, max(t.size for t in result.topics))),
                        color=colour, opacity=0.6, line=dict(width=1, color="white")),
            hovertext=[_hover(result.topics[i]) for i in idx], hoverinfo="text"))
    fig.update_layout(title="Intertopic map (distances between topic centroids, MDS)",
                      xaxis=dict(title="", zeroline=False, showticklabels=False),
                      yaxis=dict(title="", zeroline=False, showticklabels=False),
                      template="plotly_white", height=600, width=800)
    return fig


def topic_sizes(result: "TopicResult") -> "go.Figure":
    """Answers per topic, largest at the top; red bars match no codebook theme."""
    import plotly.graph_objects as go

    topics = sorted(result.topics, key=lambda t: t.size)
    fig = go.Figure(go.Bar(
        x=[t.size for t in topics], y=[_name(t) for t in topics], orientation="h",
        marker_color=[EMERGENT if t.emergent else MATCHED for t in topics],
        text=[f"{t.share:.0%}" for t in topics], textposition="outside",
        hovertext=[_hover(t) for t in topics], hoverinfo="text"))
    fig.update_layout(title=f"Topic sizes ({len(result.response_ids)} answers; red: emergent)",
                      xaxis_title="answers", template="plotly_white",
                      height=max(300, 28 * len(topics) + 120), width=900,
                      margin=dict(l=20, r=40))
    return fig


def topic_hierarchy(result: "TopicResult") -> "go.Figure":
    """Dendrogram of topics (average linkage over cosine distances of their centroids)."""
    import plotly.figure_factory as ff

    C = np.asarray(result.centroids, dtype=np.float64)
    names = [_name(t) for t in result.topics]
    if len(C) < 2:
        import plotly.graph_objects as go

        return go.Figure().update_layout(title="Topic hierarchy (needs two topics or more)")
    fig = ff.create_dendrogram(C, orientation="left", labels=names,
                               distfun=lambda x: pdist(x, metric="cosine"),
                               linkagefun=lambda d: linkage(d, method="average"))
    fig.update_layout(title="Topic hierarchy (cosine distance between topic centroids)",
                      template="plotly_white", height=max(300, 28 * len(names) + 120),
                      width=1000, xaxis_title="cosine distance")
    return fig


def topics_per_group(result: "TopicResult", groups: Mapping[str, str], *,
                     group_name: str = "group") -> "go.Figure":
    """Share of each group's answers in each topic (stacked bars, one per group).

    Args:
        result: the topics.
        groups: group of each response id (answers without one are left out).
        group_name: what the groups are, for the title.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    pairs = [(groups[r], a) for r, a in zip(result.response_ids, result.assignments)
             if r in groups and groups[r] not in (None, "")]
    sizes = Counter(g for g, _ in pairs)
    kept = [g for g, _ in sizes.most_common(MAX_GROUPS)]
    counts = Counter(pairs)
    palette = qualitative.Dark24 + qualitative.Light24
    fig = go.Figure()
    for i, t in enumerate(result.topics):
        shares = [counts[(g, t.topic_id)] / sizes[g] for g in kept]
        fig.add_trace(go.Bar(
            y=kept, x=shares, name=_name(t)[:40], orientation="h",
            marker_color=palette[i % len(palette)],
            customdata=[counts[(g, t.topic_id)] for g in kept],
            hovertemplate=f"{_name(t)}<br>%{{y}}: %{{customdata}} answers (%{{x:.0%}})"
                          "<extra></extra>"))
    left = len(sizes) - len(kept)
    fig.update_layout(barmode="stack", template="plotly_white",
                      title=f"Topics per {group_name}" +
                            (f" (largest {MAX_GROUPS} groups; {left} more)" if left else ""),
                      xaxis=dict(title="share of the group's answers", tickformat=".0%"),
                      legend=dict(traceorder="normal"), width=1100,
                      height=max(300, 32 * len(kept) + 160, 22 * len(result.topics) + 140))
    return fig


def write_figure(fig: "go.Figure", stem: str | Path, *,
                 formats: Sequence[str] = ("html", "png"), own: bool = False) -> list[Path]:
    """Write `fig` as STEM.html (plotly.js written once beside it, so it opens offline) and/or
    STEM.png. Every file goes through the output guard (`nlp.fsio`), never through a symbolic
    link; `own` marks the project's own figures folder (its cache), else the folder is the
    user's output folder and checked like any output.

    Raises:
        NotReadyError: PNG asked for and kaleido (or the browser it drives) is missing.
        OutputError: a name there is a link, a folder or a project's file.
    """
    stem = Path(stem)

    def put(path: Path):
        if own:
            if path.is_symlink():
                raise errors.output_is_link(path, str(path.readlink()))
            return atomic_write(path)
        return atomic_path(path, follow=False)

    out = []
    if "html" in formats:
        path = stem.with_suffix(".html")
        js = stem.parent / "plotly.min.js"
        html = fig.to_html(include_plotlyjs="directory", full_html=True)
        if js.is_symlink() or not js.is_file():
            from plotly.offline import get_plotlyjs

            with put(js) as tmp:
                tmp.write_text(get_plotlyjs(), encoding="utf-8")
        with put(path) as tmp:
            tmp.write_text(html, encoding="utf-8")
        out.append(path)
    if "png" in formats:
        path = stem.with_suffix(".png")
        try:
            import kaleido  # noqa: F401 - plotly needs it for static images
        except ImportError as exc:
            raise errors.optional_dependency("kaleido") from exc
        with put(path) as tmp:
            try:
                fig.write_image(tmp, format="png", scale=2)
            except Exception as exc:  # kaleido raises its own types when no browser is found
                raise errors.png_failed(path.name, exc) from exc
        out.append(path)
    return out


def write_figures(result: "TopicResult", directory: str | Path, *,
                  groups: Mapping[str, str] | None = None, group_name: str = "group",
                  formats: Sequence[str] = ("html", "png"), own: bool = False) -> list[Path]:
    """Write the four figures (three without `groups`) into `directory` (`own`: the project's
    cache, see `write_figure`). A PNG that cannot be written is logged and skipped; the HTML
    pages always are written."""
    d = Path(directory)
    if not own:
        ensure_output_dir(d)  # before any figure is drawn: a bad folder fails at once
    figs = {"intertopic_map": intertopic_map(result), "topic_sizes": topic_sizes(result),
            "topic_hierarchy": topic_hierarchy(result)}
    if groups:
        figs["topics_per_group"] = topics_per_group(result, groups, group_name=group_name)
    paths: list[Path] = []
    png_ok = "png" in formats
    for name, fig in figs.items():
        paths += write_figure(fig, d / name, formats=[f for f in formats if f != "png"],
                              own=own)
        if png_ok:
            try:
                paths += write_figure(fig, d / name, formats=["png"], own=own)
            except errors.NotReadyError as exc:
                log.warning("PNG export skipped: %s", exc)
                png_ok = False
    return paths


def response_groups(corpus: Corpus, by: str = "source") -> dict[str, str]:
    """Group of each response: "source", "question", "respondent_id", or a metadata field
    (its name, or "meta.NAME")."""
    out = {}
    key = by[5:] if by.startswith("meta.") else by
    for r in corpus:
        if by in ("source", "question", "respondent_id"):
            value = getattr(r, by)
        else:
            value = r.metadata.get(key)
        if value not in (None, ""):
            out[r.response_id] = str(value)
    return out
