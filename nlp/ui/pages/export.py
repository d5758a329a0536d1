"""App: the Export page: coded quotes as CSV, Excel or JSON Lines (one row per quote or per
coding), and REFI-QDA and the report draft where this version has them; download buttons."""
from __future__ import annotations

import importlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from nlp import errors, export
from nlp.ui import state, widgets

log = logging.getLogger(__name__)
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument."
        "spreadsheetml.sheet", "jsonl": "application/jsonl", "qdpx": "application/zip",
        "qdc": "application/xml", "docx": "application/vnd.openxmlformats-officedocument."
        "wordprocessingml.document", "md": "text/markdown", "html": "text/html"}
LABELS = {"csv": "CSV", "xlsx": "Excel", "jsonl": "JSON Lines",
          "qdpx": "REFI-QDA project (.qdpx: NVivo, ATLAS.ti, MAXQDA)",
          "qdc": "REFI-QDA codebook (.qdc)", "report": "Findings report draft (Word, Markdown, "
                                                       "HTML)"}


def _find(name: str, *modules: str) -> Callable[..., Any] | None:
    """`name` from nlp.export when it has it, else from the other modules, else None."""
    if hasattr(export, name):
        return getattr(export, name)
    for m in modules:
        try:
            fn = getattr(importlib.import_module(m), name, None)
        except ImportError:
            continue
        if callable(fn):
            return fn
    return None


def available_formats() -> dict[str, Callable[..., Any] | None]:
    """The export formats this version offers: {format: writer or None for the tables}."""
    out: dict[str, Callable[..., Any] | None] = {f: None for f in export.EXPORT_FORMATS}
    for fmt, name, mods in (("qdpx", "export_qdpx", ("nlp.refiqda",)),
                            ("qdc", "export_qdc", ("nlp.refiqda",)),
                            ("report", "write_report", ("nlp.report",))):
        fn = _find(name, *mods)
        if fn is not None:
            out[fmt] = fn
    return out


def write(project, fmt: str, *, anonymise: bool, layout: str,
          writer: Callable[..., Any] | None) -> list[Path]:
    """Write one export into the project's exports/ folder; returns the files."""
    d = project.root / "exports"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    if fmt in export.EXPORT_FORMATS:
        return [export.export_project(project.store, d / f"coded_quotes_{layout}_{stamp}.{fmt}",
                                      format=fmt, anonymise=anonymise, layout=layout)]
    if fmt == "qdpx":
        return [writer(project.store, d / f"project_{stamp}.qdpx", anonymise=anonymise)]
    if fmt == "qdc":
        return [writer(project.store, d / f"codebook_{stamp}.qdc")]
    return list(writer(project, d / f"report_{stamp}", anonymise=anonymise))


def render() -> None:
    """The Export page."""
    st.title("Export")
    project = widgets.require_project()
    widgets.show_flashes()
    formats = available_formats()
    fmt = st.radio("Format", list(formats), format_func=lambda f: LABELS.get(f, f),
                   key="ex_format")
    layout = "wide"
    if fmt in export.EXPORT_FORMATS:
        layout = st.radio("Rows", ["wide", "long"], key="ex_layout", horizontal=True,
                          format_func=lambda x: {"wide": "one row per quote, a column per theme",
                                                 "long": "one row per coding"}[x])
    anonymise = st.checkbox("Anonymise (replace names, places, contact details)", value=True,
                            key="ex_anon", disabled=fmt == "qdc")
    if st.button("Prepare the export", key="ex_go", type="primary"):
        try:
            with st.spinner("Writing…"):
                paths = write(project, fmt, anonymise=anonymise, layout=layout,
                              writer=formats[fmt])
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
