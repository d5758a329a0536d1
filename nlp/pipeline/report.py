"""Pipeline (report): a project's findings draft, its data read from the store, anonymised by
the project's anonymiser and rendered by the report stage."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..fsio import ensure_output_dir
from ..project import Project
from ..report import REPORT_FORMATS, ReportData, check_report_formats, render_report, report_data
from ..store import Store
from ..store.review_order import decided_checks
from ..topics import Topic as ModelTopic
from .anonymise import project_anonymiser
from .topics import load_project_topics

__all__ = ["build_report_data", "project_name", "write_project_report", "write_report"]


def build_report_data(project: Project | Store, *, anonymise: bool = True,
                      anonymiser: Callable[[list[str]], list[str]] | None = None,
                      topics: Sequence[ModelTopic] | None = None,
                      embeddings: Mapping[str, Any] | None = None,
                      group_by: str | None = None, quotes_per_theme: int = 5,
                      title: str | None = None) -> ReportData:
    """Count, crosstab and choose quotes for every theme of the project's codebook
    (nlp.report.report_data over what the store holds).

    Args: see write_report.
    """
    store = project if isinstance(project, Store) else project.store
    codebook = store.active_codebook()
    name = None if isinstance(project, Store) else project_name(project)
    if anonymise and anonymiser is None:
        anonymiser = project_anonymiser(project)
    return report_data(codebook, store.corpus(), store.codings(), store.predictions(),
                       checks=decided_checks(store, codebook.theme_ids),
                       anonymiser=anonymiser if anonymise else None, topics=topics,
                       embeddings=embeddings, group_by=group_by,
                       quotes_per_theme=quotes_per_theme, title=title, name=name)


def project_name(project: Project) -> str:
    """The project's name for the report's title: project.json's "name" when it has one,
    else the project folder's name."""
    name = project.config.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else project.root.name


def write_report(project: Project | Store, out_dir: str | Path, *,
                 formats: Sequence[str] | str = REPORT_FORMATS, anonymise: bool = True,
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
        anonymiser: texts -> texts instead of the project's (tests, custom rules).
        topics: emergent topics from the topic stage (`nlp.topics.Topic`); the section is
            left out when None or empty.
        embeddings: {response_id: vector} to choose quotes by meaning instead of TF-IDF.
        group_by: metadata column (or "respondent_id") for the crosstab; default: detected.
        quotes_per_theme: at most this many quotes per theme (3-5 reads best).
        title: the report's title (default: the project's name and a short label of the
            codebook's question, nlp.report.data.report_title).

    Returns:
        The files written: the documents in `formats` order, then the chart.

    Raises:
        NlpError: unknown format or group column.
        OutputError: `out_dir` is a file or cannot be made.
    """
    formats = check_report_formats(formats)
    out = ensure_output_dir(out_dir)  # before the slow part: a bad folder fails at once
    data = build_report_data(project, anonymise=anonymise, anonymiser=anonymiser,
                             topics=topics, embeddings=embeddings, group_by=group_by,
                             quotes_per_theme=quotes_per_theme, title=title)
    return render_report(data, out, formats)


def write_project_report(project: Project, out_dir: str | Path, *,
                         formats: Sequence[str] | str = REPORT_FORMATS, anonymise: bool = True,
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
