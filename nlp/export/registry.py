"""Export stage: every way out of a project, by format name (the CLI and the app call `export`).

A new format is a function `write(project, out, *, option=default...) -> Path | list[Path]` and
one line in `EXPORTERS`; an option a writer does not name is an error (`exporter_options`
says which a format takes, for callers that offer options per format).
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import errors
from ..refiqda import export_qdc, export_qdpx
from ..report import REPORT_FORMATS, write_project_report
from ..text.anon_project import project_anonymiser
from .tables import EXPORT_FORMATS, export_project

if TYPE_CHECKING:
    from ..project import Project

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
