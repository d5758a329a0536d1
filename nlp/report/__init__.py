"""Report stage: the findings draft (Word, Markdown, HTML): theme shares, group crosstabs,
a chart and the best quotes per theme, from data (`report_data`) to files (`render_report`).
nlp.pipeline writes a project's (`write_report`, `write_project_report`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from .. import errors
from .data import (GROUP_NAMES, MAX_GROUPS, REPORT_FORMATS, ReportData, ThemeFinding,
                   TopicSummary, find_group, report_data)
from .render import draw_chart, render_docx, render_html, render_md

log = logging.getLogger(__name__)

__all__ = ["GROUP_NAMES", "MAX_GROUPS", "REPORT_FORMATS", "ReportData", "ThemeFinding",
           "TopicSummary", "check_report_formats", "find_group", "render_report",
           "report_data"]


def check_report_formats(formats: Sequence[str] | str) -> list[str]:
    """The report formats asked for ("md,html" or a sequence), checked.

    Raises:
        NlpError: an unknown format, or none.
    """
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in REPORT_FORMATS]
    if bad or not formats:
        raise errors.unknown_report_format(list(bad), list(REPORT_FORMATS))
    return list(formats)


def render_report(data: ReportData, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Write `data` to `out_dir` (an existing folder) as report.docx / report.md /
    report.html, with the chart theme-shares.png beside them (each file written atomically).

    Returns:
        The files written: the documents in `formats` order, then the chart.

    Raises:
        NlpError: unknown format.
    """
    formats = check_report_formats(formats)
    chart = draw_chart(data, out_dir / "theme-shares.png")
    renderers = {"docx": render_docx, "md": render_md, "html": render_html}
    paths = [renderers[f](data, out_dir / f"report.{f}", chart) for f in formats]
    log.info("wrote report to %s", out_dir)
    return paths + ([chart] if chart else [])
