"""App: the Export page: coded quotes as CSV, Excel or JSON Lines (one row per quote or per
coding), REFI-QDA (.qdpx, .qdc) and the report draft; download buttons."""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from datetime import datetime
from pathlib import Path

import streamlit as st

from nlp import errors, pipeline
from nlp.export import EXPORT_FORMATS
from nlp.app.ui import state, widgets
from nlp.resolve import RESOLUTION_RULE

if TYPE_CHECKING:
    from nlp.project import Project

log = logging.getLogger(__name__)
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument."
        "spreadsheetml.sheet", "jsonl": "application/jsonl", "qdpx": "application/zip",
        "qdc": "application/xml", "docx": "application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document", "md": "text/markdown", "html": "text/html"}
LABELS = {"csv": "CSV", "xlsx": "Excel", "jsonl": "JSON Lines",
          "qdpx": "REFI-QDA project (.qdpx: NVivo, ATLAS.ti, MAXQDA)",
          "qdc": "REFI-QDA codebook (.qdc)", "report": "Findings report draft (Word, Markdown, "
                                                       "HTML)"}


FORMATS = tuple(pipeline.EXPORTERS)
NAMES = {"qdpx": "project_{stamp}.qdpx", "qdc": "codebook_{stamp}.qdc", "report": "report_{stamp}"}


def write(project: Project, fmt: str, *, anonymise: bool, layout: str) -> list[Path]:
    """Write one export into the project's exports/ folder; returns the files."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = NAMES.get(fmt, f"coded_quotes_{layout}_{stamp}.{fmt}").format(stamp=stamp)
    takes = pipeline.exporter_options(fmt)  # the page offers both; each format takes its own
    options = {k: v for k, v in {"anonymise": anonymise, "layout": layout}.items() if k in takes}
    return pipeline.export(project, project.root / "exports" / name, format=fmt, **options)


def render() -> None:
    """The Export page."""
    st.title("Export")
    project = widgets.require_project()
    widgets.show_flashes()
    fmt = st.radio("Format", FORMATS, format_func=lambda f: LABELS.get(f, f),
                   key="ex_format")
    layout = "wide"
    if fmt in EXPORT_FORMATS:
        layout = st.radio("Rows", ["wide", "long"], key="ex_layout", horizontal=True,
                          format_func=lambda x: {"wide": "one row per quote, a column per theme",
                                                 "long": "one row per coding"}[x])
    if fmt in EXPORT_FORMATS:
        widgets.text(("One row per quote: per theme the status that stands, each coder's own "
                      "call (coders:THEME) and a disagreement flag. " if layout == "wide" else
                      "One row per coding: the coder, the status and the sentences it rests on "
                      "(span, span_start, span_end; blank for the whole answer). ")
                     + "Rule: " + RESOLUTION_RULE, caption=True)
    anonymise = st.checkbox("Anonymise (replace names, places, contact details)", value=True,
                            key="ex_anon", disabled=fmt == "qdc")
    if st.button("Prepare the export", key="ex_go", type="primary"):
        try:
            with st.spinner("Writing…"):
                paths = write(project, fmt, anonymise=anonymise, layout=layout)
        except (errors.NlpError, OSError) as exc:
            st.error(widgets.escape_md(str(exc)))
        else:
            state.remember("export_paths", [str(p) for p in paths])
    for i, p in enumerate(state.recall("export_paths") or []):
        path = Path(p)
        if not path.is_file():
            continue
        st.download_button(f"Download {path.name}", path.read_bytes(), file_name=path.name,
                           mime=MIME.get(path.suffix.lstrip("."), "application/octet-stream"),
                           key=f"ex_dl:{i}:{path.name}")
        widgets.text(f"Also saved as {path}", caption=True)


if __name__ == "__main__":
    render()
