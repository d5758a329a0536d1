"""Pipeline (export): every way out of a project, by format name (the CLI and the app call
`export`). Each writer reads the project through its store, builds the project's anonymiser
and hands both to a stage (nlp.export tables, nlp.refiqda, nlp.report).

A new format is a function `write(project, out, *, option=default...) -> Path | list[Path]` and
one line in `EXPORTERS`; an option a writer does not name is an error (`exporter_options`
says which a format takes, for callers that offer options per format).
"""
from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..export.tables import (EXPORT_FORMATS, Anonymiser, check_format, long_rows, wide_rows,
                             write_rows)
from ..fsio import check_output_file
from ..project import Project
from ..refiqda import qdpx_xml, write_qdc, write_qdpx
from ..report import REPORT_FORMATS
from ..store import Store
from ..store.memos import list_memos
from .anonymise import project_anonymiser
from .report import write_project_report

log = logging.getLogger(__name__)

__all__ = ["EXPORTERS", "Exporter", "coded_rows", "coding_rows", "export", "export_project",
           "export_qdc", "export_qdpx", "exporter_options", "project_xml"]


def _store(project: Store | Project) -> Store:
    return project if isinstance(project, Store) else project.store


def _anonymiser(project: Store | Project, anonymise: bool,
                anonymiser: Anonymiser | None) -> Anonymiser | None:
    """The texts' anonymiser: none when not asked, else the one given, else the project's
    (its settings and shared numbering; a bare Store: the defaults and its numbering)."""
    if not anonymise:
        return None
    return anonymiser if anonymiser is not None else project_anonymiser(project)


# -- tables: CSV, Excel, JSON Lines -------------------------------------------------------------
def coded_rows(store: Store | Project, *, anonymise: bool = True,
               anonymiser: Anonymiser | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """One dict per response with its provenance and, per theme, the status that stands
    (nlp.export.tables.wide_rows). `store` may be the Project (its anonymisation settings
    then apply). Returns (rows, theme ids in codebook order)."""
    s = _store(store)
    return wide_rows(s.active_codebook(), s.corpus(), s.codings(),
                     anonymiser=_anonymiser(store, anonymise, anonymiser))


def coding_rows(store: Store | Project, *, anonymise: bool = True,
                anonymiser: Anonymiser | None = None) -> list[dict[str, Any]]:
    """One dict per coding (response x theme x coder), with the spans it rests on
    (nlp.export.tables.long_rows). `store` may be the Project (its anonymisation settings
    then apply)."""
    s = _store(store)
    return long_rows(s.corpus(), s.codings(), anonymiser=_anonymiser(store, anonymise,
                                                                     anonymiser))


def export_project(store: Store | Project, out: str | Path, *, format: str,
                   anonymise: bool = True, layout: str = "wide",
                   anonymiser: Anonymiser | None = None) -> Path:
    """Write the project's coded quotes to `out` (atomically).

    Args:
        format: csv, xlsx or jsonl.
        anonymise: replace names, places, contacts with placeholders (default).
        anonymiser: texts -> texts instead of the project's (nlp.pipeline.project_anonymiser).
        layout: "wide" (one row per quote, a column per theme) or "long" (one row per coding).

    Raises:
        NlpError: unknown format or layout.
    """
    check_format(format, layout)
    check_output_file(out)  # before the slow part: anonymising every answer
    anon = _anonymiser(store, anonymise, anonymiser)
    rows = (coded_rows(store, anonymise=anonymise, anonymiser=anon)[0]
            if layout == "wide" else coding_rows(store, anonymise=anonymise, anonymiser=anon))
    s = _store(store)
    if format == "xlsx":  # the codebook and notes sheets
        return write_rows(rows, out, format=format, layout=layout,
                          codebook=s.active_codebook(), memos=list_memos(s), anonymiser=anon)
    return write_rows(rows, out, format=format, layout=layout)


# -- REFI-QDA: .qdpx and .qdc ------------------------------------------------------------------
def project_xml(store: Store, *, anonymise: bool = True,
                anonymiser: Callable[[list[str]], list[str]] | None = None,
                suggestions: str = "open", name: str | None = None,
                line_breaks: str = "keep") -> tuple[bytes, dict[str, bytes]]:
    """The project as REFI-QDA XML plus the plain-text source files it points at
    (nlp.refiqda.qdpx_xml). Returns (project.qde bytes, {zip path: bytes}).

    Args: see export_qdpx.
    """
    if anonymise and anonymiser is None:
        from ..text.anonymise import anonymise_texts
        anonymiser = anonymise_texts
    return qdpx_xml(store.active_codebook(), store.corpus(), store.codings(),
                    list_memos(store),
                    source_hashes=[s["content_hash"] for s in store.list_sources()],
                    anonymiser=anonymiser if anonymise else None, suggestions=suggestions,
                    name=name, line_breaks=line_breaks)


def export_qdpx(store: Store, out: str | Path, *, anonymise: bool = True,
                anonymiser: Callable[[list[str]], list[str]] | None = None,
                suggestions: str = "open", name: str | None = None,
                line_breaks: str = "keep") -> Path:
    """Write the project as a REFI-QDA .qdpx (a ZIP: project.qde and sources/), atomically.

    Args:
        anonymise: replace names, places and contacts in the texts (default).
        anonymiser: texts -> texts, instead of nlp.anonymise (tests, custom rules).
        suggestions: model suggestions to include: "open" (not yet decided by a researcher,
            the default), "all" or "none".
        name: the project name the QDA program shows (default: the codebook's name).
        line_breaks: "keep" (LF) or "space": line breaks inside an answer become spaces,
            for programs that count line ends differently (ATLAS.ti, some MAXQDA versions).

    Raises:
        NlpError: unknown suggestions option.
    """
    check_output_file(out)  # before the slow part: anonymising every answer
    xml, files = project_xml(store, anonymise=anonymise, anonymiser=anonymiser,
                             suggestions=suggestions, name=name, line_breaks=line_breaks)
    return write_qdpx(out, xml, files)


def export_qdc(store: Store, out: str | Path) -> Path:
    """Write the project's active codebook as a REFI-QDA .qdc file (atomically)."""
    return write_qdc(store.active_codebook(), out)


# -- the registry ------------------------------------------------------------------------------
Exporter = Callable[..., "Path | list[Path]"]


def _table(fmt: str) -> Exporter:
    def write(project: Project, out: str | Path, *, anonymise: bool = True, layout: str = "wide",
              strict: bool | None = None) -> Path:
        # The project itself, so its anonymisation settings and placeholder numbering apply;
        # new placeholder numbers are stored only once the file is written.
        anonymiser = project_anonymiser(project, strict=strict, defer=True) if anonymise else None
        path = export_project(project, out, format=fmt, anonymise=anonymise, layout=layout,
                              anonymiser=anonymiser)
        if anonymiser is not None:
            anonymiser.save()
        return path
    write.__name__ = f"write_{fmt}"
    return write


def _qdpx(project: Project, out: str | Path, *, anonymise: bool = True, suggestions: str = "open",
          line_breaks: str = "keep", strict: bool | None = None) -> Path:
    anonymiser = project_anonymiser(project, strict=strict, defer=True) if anonymise else None
    path = export_qdpx(project.store, out, anonymise=anonymise, anonymiser=anonymiser,
                       suggestions=suggestions, line_breaks=line_breaks)
    if anonymiser is not None:
        anonymiser.save()
    return path


def _qdc(project: Project, out: str | Path, *, anonymise: bool = True) -> Path:
    # A codebook holds no answers' text: nothing to anonymise, so the choice is accepted.
    return export_qdc(project.store, out)


def _report(project: Project, out: str | Path, *, anonymise: bool = True,
            formats: Sequence[str] = REPORT_FORMATS, group_by: str | None = None,
            strict: bool | None = None) -> list[Path]:
    return write_project_report(project, out, formats=formats, anonymise=anonymise,
                                group_by=group_by, strict=strict)


EXPORTERS: dict[str, Exporter] = {
    **{fmt: _table(fmt) for fmt in EXPORT_FORMATS},
    "qdpx": _qdpx,
    "qdc": _qdc,
    "report": _report,  # `out` is a folder: report.docx/.md/.html and the chart
}


def exporter_options(format: str) -> list[str]:
    """The options the writer of `format` takes (keyword-only parameters), in order.

    Raises:
        NlpError: unknown format.
    """
    writer = EXPORTERS.get(format)
    if writer is None:
        raise errors.unknown_export_format(format, list(EXPORTERS))
    return [name for name, p in inspect.signature(writer).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY]


def export(project: Project, out: str | Path, *, format: str, **options: Any) -> list[Path]:
    """Write the project in `format` to `out` (a file; a folder for "report").

    Args:
        project: an open Project.
        format: a key of EXPORTERS.
        options: anonymise, strict (replace public bodies too; None: the project's setting),
            layout, suggestions, line_breaks, formats, group_by...: each exporter takes those
            it names.

    Returns:
        The files written.

    Raises:
        NlpError: unknown format, an option the format does not take (or a bad option
            value).
    """
    writer = EXPORTERS.get(format)
    if writer is None:
        raise errors.unknown_export_format(format, list(EXPORTERS))
    named = exporter_options(format)
    for key in options:
        if key not in named:
            raise errors.unknown_export_option(format, key, named)
    result = writer(project, out, **options)
    return list(result) if isinstance(result, list) else [result]
