"""App: the Project page: open or create a project, import files, pick the codebook, code."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import streamlit as st

from nlp import errors
from nlp.app.ui import jobs, memos, state, widgets
from nlp import pipeline
from nlp.codebook import loads_codebook
from nlp.fsio import atomic_path
from nlp.ingest import READERS, ImportOptions
from nlp.project import CONFIG_NAME, Project, init_project
from nlp.store.review import has_predictions, reviewed_count
from nlp.store.review_themes import codebook_by_id
from nlp.types import ImportSummary

log = logging.getLogger(__name__)
UPLOAD_TYPES = [suffix.lstrip(".") for suffix in READERS]  # .qdpx: the CLI (answers and codings)


def _open_or_create() -> None:
    with st.expander("Open or create a project", expanded=state.project_root() is None):
        path = st.text_input("Project folder", value=state.project_root() or "",
                             key="project_path", placeholder="/path/to/project")
        c1, c2 = st.columns(2)
        if c1.button("Open", key="open_project", disabled=not path):
            if (Path(path).expanduser() / CONFIG_NAME).exists():
                state.set_project_root(Path(path).expanduser())
                st.rerun()
            else:
                st.error(widgets.escape_md(f"{path} holds no project; create one instead."))
        if c2.button("Create", key="create_project", disabled=not path):
            try:
                p = init_project(Path(path).expanduser())
                p.close()
            except errors.NlpError as exc:
                st.error(widgets.escape_md(str(exc)))
            else:
                state.forget_project(str(p.root))
                state.set_project_root(p.root)
                state.flash(f"Created a project in {p.root}.")
                st.rerun()


def _summary_table(summaries: list[ImportSummary]) -> None:
    st.dataframe([{"file": Path(s.path).name, "format": s.format, "rows read": s.rows_read,
                   "imported": s.imported, "flagged": s.flagged,
                   "already present": s.skipped_present,
                   "columns": ", ".join(f"{k}={v}" for k, v in s.columns.items() if v),
                   "notes": " ".join(s.notes)
                   + (" (this file was imported before)" if s.source_already_present else "")}
                  for s in summaries], hide_index=True)


def _import(project: Project) -> None:
    st.subheader("Import answers")
    with st.expander("Column names (detected when left blank)"):
        cols = st.columns(4)
        names = [cols[i].text_input(label, key=f"imp_{key}") or None for i, (key, label) in
                 enumerate([("text", "Text column"), ("id", "Id column"),
                            ("respondent", "Respondent column"), ("question", "Question column")])]
    opts = ImportOptions(text_col=names[0], id_col=names[1], respondent_col=names[2],
                         question_col=names[3])
    up_tab, path_tab = st.tabs(["Upload", "From a path on this computer"])
    files: list[Path] = []
    with up_tab:
        uploads = st.file_uploader("Files", type=UPLOAD_TYPES, accept_multiple_files=True,
                                   key="uploads")
        if st.button("Import uploaded files", key="import_uploads", disabled=not uploads):
            d = project.root / "uploads"
            for u in uploads or []:
                name = re.sub(r"[^\w.\- ]+", "_", Path(u.name).name) or "upload"
                with atomic_path(d / name, follow=False) as tmp:  # the one output guard
                    tmp.write_bytes(u.getvalue())
                files.append(d / name)
    with path_tab:
        p = st.text_input("File path", key="import_path", placeholder="/path/to/answers.csv")
        if st.button("Import file", key="import_file", disabled=not p):
            files.append(Path(p).expanduser())
    if files:
        done: list[ImportSummary] = []
        for f in files:
            try:
                done.append(pipeline.import_file(project.store, f, opts))
            except errors.NlpError as exc:
                st.error(widgets.escape_md(str(exc)) + "  \nNothing from this file was stored.")
        state.remember("import_summaries", done)
    if state.recall("import_summaries"):
        st.caption("Last import")
        _summary_table(state.recall("import_summaries"))


def _codebook(project: Project) -> None:
    st.subheader("Codebook")
    store = project.store
    versions = store.codebook_versions()
    active = next((v for v in versions if v["active"]), None)
    labels = {v["id"]: f"{v['name']} v{v['version']}" for v in versions}
    choice = st.selectbox("Active codebook", list(labels), format_func=labels.__getitem__,
                          index=list(labels).index(active["id"]) if active else 0,
                          key="codebook_choice")
    if (active and choice is not None and choice != active["id"]
            and st.button("Use this codebook", key="use_codebook")):
        store.add_codebook(codebook_by_id(store, choice), activate=True)
        state.flash(f"Now coding with {labels[choice]}.")
        st.rerun()
    up = st.file_uploader("Add a codebook (YAML)", type=["yaml", "yml"], key="codebook_upload")
    if up is not None and st.button("Add and use it", key="add_codebook"):
        try:
            cb = loads_codebook(up.getvalue().decode("utf-8-sig"), source=up.name)
            store.add_codebook(cb, activate=True)
        except (errors.NlpError, UnicodeDecodeError) as exc:
            st.error(widgets.escape_md(str(exc)))
        else:
            state.flash(f"Added codebook {cb.name} v{cb.version}.")
            st.rerun()


@st.fragment(run_every=1.0)
def _coding_progress(key: str) -> None:
    job = widgets.job_progress(key, "coding", failed="The coding run failed",
                               running="Coding {total} answers… {elapsed} s (estimated progress)")
    if job is not None:
        st.progress(1.0, text=f"Coded in {job.elapsed:.0f} s.")
        run = job.result
        if run is not None and getattr(run, "per_theme", None):
            st.caption(f"{run.coded:,} answers coded; suggestions per theme:")
            st.dataframe([{"theme": t, "suggested": n} for t, n in run.per_theme.items()],
                         hide_index=True)


def _run_coding(project: Project) -> None:
    st.subheader("Code the answers")
    key = str(project.root)
    n = project.store.count_responses(flagged=False)
    c1, c2 = st.columns(2)
    recode = None
    if c1.button("Code new answers", key="code_new", disabled=n == 0):
        recode = False
    if c2.button("Recode all (learn from the decisions so far)", key="code_all",
                 disabled=n == 0):
        recode = True
    if recode is not None:

        started = jobs.start(key, "coding",
                             lambda: pipeline.code_project(project, recode_all=recode),
                             total=n)
        if not started:
            st.info("A coding run is already going for this project; wait for it to end.")
    _coding_progress(key)


def render() -> None:
    """The Project page."""
    st.title("Project")
    widgets.show_flashes()
    _open_or_create()
    if state.project_root() is None:
        return
    project = widgets.require_project()
    store = project.store
    cols = st.columns(4)
    cols[0].metric("Responses", f"{store.count_responses():,}")
    cols[1].metric("Flagged (empty, non-answers)", f"{store.count_responses(flagged=True):,}")
    cols[2].metric("Coded by the model", "yes" if has_predictions(store) else "not yet")
    cols[3].metric("Reviewed by a researcher", f"{reviewed_count(store):,}")
    sources = store.list_sources()
    if sources:
        st.dataframe([{"source": s["name"], "format": s["format"], "rows read": s["rows_read"],
                       "responses": s["responses"], "imported": s["imported_at"]}
                      for s in sources], hide_index=True)
    _import(project)
    _codebook(project)
    _run_coding(project)
    st.subheader("Memos")
    memos.memo_box(project, "project", "", state.coder(), blind=state.blind())
    memos.memo_search(project)


if __name__ == "__main__":
    render()
