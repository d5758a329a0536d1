"""Report stage: the findings draft (Word, Markdown, HTML): theme shares, group crosstabs,
a chart and the best quotes per theme, anonymised unless asked."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .. import errors
from ..fsio import ensure_output_dir
from ..text.anon_project import project_anonymiser
from ..topics import Topic as ModelTopic
from ..topics import load_project_topics
from .data import (GROUP_NAMES, MAX_GROUPS, REPORT_FORMATS, ReportData, ThemeFinding,
                   TopicSummary, build_report_data, find_group)
from .render import draw_chart, render_docx, render_html, render_md

if TYPE_CHECKING:
    from ..project import Project

log = logging.getLogger(__name__)

__all__ = ["GROUP_NAMES", "MAX_GROUPS", "REPORT_FORMATS", "ReportData", "ThemeFinding",
           "TopicSummary", "build_report_data", "find_group", "write_project_report", "write_report"]


def write_report(project: Project, out_dir: str | Path, *, formats: Sequence[str] = REPORT_FORMATS,
                 anonymise: bool = True,
                 anonymiser: Callable[[list[str]], list[str]] | None = None,
                 topics: Sequence[ModelTopic] | None = None,
                 embeddings: Mapping[str, Any] | None = None,
                 group_by: str | None = None, quotes_per_theme: int = 5,
                 title: str | None = None) -> list[Path]:
    """Write the findings draft to `out_dir` as report.docx / report.md / report.html, with
    the chart theme-shares.png beside them (each file written atomically).

    Args:
        project: a Project (or its Store).
        formats: any of docx, md, html.
        anonymise: replace names, places and contacts in quotes (default; False must be asked).
        anonymiser: texts -> texts instead of nlp.anonymise (tests, custom rules).
        topics: emergent topics from the topic stage (`nlp.topics.Topic`); the section is
            left out when None or empty.
        embeddings: {response_id: vector} to choose quotes by meaning instead of TF-IDF.
        group_by: metadata column (or "respondent_id") for the crosstab; default: detected.
        quotes_per_theme: at most this many quotes per theme (3-5 reads best).
        title: the report's title (default: from the codebook's question or name).

    Returns:
        The files written: the documents in `formats` order, then the chart.

    Raises:
        NlpError: unknown format or group column.
        OutputError: `out_dir` is a file or cannot be made.
    """
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in REPORT_FORMATS]
    if bad or not formats:
        raise errors.unknown_report_format(list(bad), list(REPORT_FORMATS))
    out = ensure_output_dir(out_dir)  # before the slow part: a bad folder fails at once
    data = build_report_data(project, anonymise=anonymise, anonymiser=anonymiser,
                             topics=topics, embeddings=embeddings, group_by=group_by,
                             quotes_per_theme=quotes_per_theme, title=title)
    chart = draw_chart(data, out / "theme-shares.png")
    renderers = {"docx": render_docx, "md": render_md, "html": render_html}
    paths = [renderers[f](data, out / f"report.{f}", chart) for f in formats]
    log.info("wrote report to %s", out)
    return paths + ([chart] if chart else [])


def write_project_report(project: Project, out_dir: str | Path, *,
                         formats: Sequence[str] = REPORT_FORMATS, anonymise: bool = True,
                         group_by: str | None = None,
                         strict: bool | None = None) -> list[Path]:
    """`write_report` with the project's saved emergent topics (if a topic model was fitted)
    and its anonymisation settings: what `nlp report` and the app's Export page both write.

    Args:
        strict: replace public bodies, programmes and sector bodies too (None: the project's
            "anonymise.strict" setting).

    Returns:
        The files written (see `write_report`).
    """
    saved = load_project_topics(project)
    # New placeholder numbers are stored only once every file is written.
    anonymiser = project_anonymiser(project, strict=strict, defer=True) if anonymise else None
    paths = write_report(project, out_dir, formats=formats, anonymise=anonymise,
                         anonymiser=anonymiser, group_by=group_by,
                         topics=saved.emergent if saved is not None else None)
    if anonymiser is not None:
        anonymiser.save()
    return paths
