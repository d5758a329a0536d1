"""Export stage: every way out of a project, by format name (the CLI and the app call `export`).

A new format is a function `write(project, out, *, option=default...) -> Path | list[Path]` and
one line in `EXPORTERS`; options a writer does not name are not passed to it.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from .. import errors
from ..refiqda import export_qdc, export_qdpx
from ..report import REPORT_FORMATS, write_project_report
from ..text.anon_project import project_anonymiser
from .tables import EXPORT_FORMATS, export_project

Exporter = Callable[..., "Path | list[Path]"]


def _table(fmt: str) -> Exporter:
    def write(project, out: str | Path, *, anonymise: bool = True, layout: str = "wide",
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


def _qdpx(project, out: str | Path, *, anonymise: bool = True, suggestions: str = "open",
          line_breaks: str = "keep", strict: bool | None = None) -> Path:
    anonymiser = project_anonymiser(project, strict=strict, defer=True) if anonymise else None
    path = export_qdpx(project.store, out, anonymise=anonymise, anonymiser=anonymiser,
                       suggestions=suggestions, line_breaks=line_breaks)
    if anonymiser is not None:
        anonymiser.save()
    return path


def _qdc(project, out: str | Path) -> Path:
    return export_qdc(project.store, out)


def _report(project, out: str | Path, *, anonymise: bool = True,
            formats: tuple[str, ...] = REPORT_FORMATS, group_by: str | None = None,
            strict: bool | None = None) -> list[Path]:
    return write_project_report(project, out, formats=formats, anonymise=anonymise,
                                group_by=group_by, strict=strict)


EXPORTERS: dict[str, Exporter] = {
    **{fmt: _table(fmt) for fmt in EXPORT_FORMATS},
    "qdpx": _qdpx,
    "qdc": _qdc,
    "report": _report,  # `out` is a folder: report.docx/.md/.html and the chart
}


def export(project, out: str | Path, *, format: str, **options: Any) -> list[Path]:
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
        NlpError: unknown format (or a bad option value).
    """
    writer = EXPORTERS.get(format)
    if writer is None:
        raise errors.NlpError(f"unknown export format {format!r}; use one of "
                              f"{', '.join(EXPORTERS)}.")
    named = inspect.signature(writer).parameters
    result = writer(project, out, **{k: v for k, v in options.items() if k in named})
    return list(result) if isinstance(result, list) else [result]
