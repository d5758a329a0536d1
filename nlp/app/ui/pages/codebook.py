"""App: the Codebook page: view and edit themes (each save a new version), rename, merge and
split themes with their codings carried along, switch versions."""
from __future__ import annotations

import logging
from dataclasses import replace

import streamlit as st

from nlp import errors
from nlp.codebook import dumps_codebook
from nlp.store.review_themes import (codebook_by_id, merge_themes, rename_theme,
                                     save_codebook_version, split_theme)
from nlp.types import Codebook, Theme
from nlp.app.ui import state, widgets

log = logging.getLogger(__name__)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.splitlines() if x.strip())


def _run(fn, *args, done: str, **kwargs) -> None:
    """Call a codebook function; flash its outcome (errors as messages, not tracebacks)."""
    try:
        cb = fn(*args, **kwargs)
    except errors.NlpError as exc:
        state.flash(str(exc), "error")
    else:
        state.flash(f"{done}: codebook {cb.name} v{cb.version} is now active.")


def _edit(project, cb: Codebook) -> None:
    st.subheader("Themes")
    for i, t in enumerate(cb.themes):
        with st.expander(f"{i + 1}. " + widgets.escape_md(t.label) + " · "
                         + widgets.escape_md(t.theme_id)):
            with st.form(f"edit:{t.theme_id}"):
                label = st.text_input("Label", t.label)
                definition = st.text_area("Definition", t.definition)
                inc = st.text_area("Include (one example a line)", "\n".join(t.include))
                exc = st.text_area("Exclude (one example a line)", "\n".join(t.exclude))
                if st.form_submit_button("Save as a new version"):
                    new = replace(t, label=label.strip(), definition=" ".join(definition.split()),
                                  include=_lines(inc), exclude=_lines(exc))
                    _run(save_codebook_version, project.store, replace(cb, themes=tuple(
                        new if x.theme_id == t.theme_id else x for x in cb.themes)),
                        done=f"Saved {new.label!r}")
                    st.rerun()
    with st.expander("Add a theme"):
        with st.form("add_theme"):
            tid = st.text_input("Id (letters, digits, _ - .)")
            label = st.text_input("Label")
            definition = st.text_area("Definition")
            if st.form_submit_button("Add as a new version"):
                if tid.strip() in cb.theme_ids:
                    state.flash(str(errors.theme_id_taken(tid.strip())), "error")
                else:
                    theme = Theme(tid.strip(), label.strip(), " ".join(definition.split()))
                    _run(save_codebook_version, project.store,
                         replace(cb, themes=(*cb.themes, theme)), done=f"Added {theme.label!r}")
                st.rerun()


def _restructure(project, cb: Codebook, coder: str) -> None:
    st.subheader("Rename, merge, split")
    st.caption("Codings move with the themes, in one transaction; the change is logged under "
               "your name, and **Undo my last action** on the Review page takes the codings "
               "back (pick the previous version below to restore the themes).")
    labels = {t.theme_id: t.label for t in cb.themes}
    tab_r, tab_m, tab_s = st.tabs(["Rename", "Merge", "Split"])
    with tab_r, st.form("rename"):
        old = st.selectbox("Theme", cb.theme_ids, format_func=labels.__getitem__)
        new_id = st.text_input("New id (blank: keep)")
        new_label = st.text_input("New label (blank: keep)")
        if st.form_submit_button("Rename"):
            _run(rename_theme, project.store, old, new_id.strip() or old, actor=coder,
                 label=new_label.strip() or None, done=f"Renamed {old}")
            st.rerun()
    with tab_m, st.form("merge"):
        ids = st.multiselect("Themes to merge", cb.theme_ids, format_func=labels.__getitem__)
        into_id = st.text_input("Merged theme id (may be one of them)")
        into_label = st.text_input("Merged theme label")
        into_def = st.text_area("Merged theme definition")
        if st.form_submit_button("Merge"):
            first = cb.theme(ids[0]) if ids else None
            into = Theme(into_id.strip() or (first.theme_id if first else ""),
                         into_label.strip() or (first.label if first else ""),
                         " ".join(into_def.split()) or (first.definition if first else ""))
            _run(merge_themes, project.store, ids, into, actor=coder,
                 done=f"Merged {len(ids)} themes into {into.theme_id}")
            st.rerun()
    with tab_s, st.form("split"):
        src = st.selectbox("Theme to split", cb.theme_ids, format_func=labels.__getitem__)
        parts_text = st.text_area("Parts, one a line: id | label | definition",
                                  placeholder="late_payment | Late payment | Paid late ...")
        st.caption("Each coding of the theme is copied onto every part: review them with "
                   "the theme filter on the Review page.")
        if st.form_submit_button("Split"):
            parts = []
            for line in _lines(parts_text):
                bits = [b.strip() for b in line.split("|")]
                bits += [""] * (3 - len(bits))
                parts.append(Theme(bits[0], bits[1] or bits[0], bits[2] or bits[1] or bits[0]))
            _run(split_theme, project.store, src, parts, actor=coder,
                 done=f"Split {src} into {len(parts)}")
            st.rerun()


def _versions(project, cb: Codebook) -> None:
    st.subheader("Versions")
    versions = project.store.codebook_versions()
    st.dataframe([{"name": v["name"], "version": v["version"], "active": v["active"],
                   "saved": v["created_at"]} for v in versions], hide_index=True)
    ids = [v["id"] for v in versions]
    names = {v["id"]: f"{v['name']} v{v['version']}" for v in versions}
    pick = st.selectbox("Version", ids, format_func=names.__getitem__, index=len(ids) - 1,
                        key="cb_version")
    if st.button("Make this version active", key="cb_activate") and pick is not None:
        project.store.add_codebook(codebook_by_id(project.store, pick), activate=True)
        state.flash(f"{names[pick]} is now active.")
        st.rerun()
    st.download_button("Download the active codebook (YAML)", dumps_codebook(cb),
                       file_name=f"{cb.name}-v{cb.version}.yaml", mime="text/yaml",
                       key="cb_download")


def render() -> None:
    """The Codebook page."""
    st.title("Codebook")
    project = widgets.require_project()
    coder = widgets.require_coder()
    widgets.show_flashes()
    cb = project.store.active_codebook()
    widgets.text(f"{cb.name}, version {cb.version}, {len(cb.themes)} themes"
                 + (f". Question: {cb.question}" if cb.question else ""), caption=True)
    _edit(project, cb)
    _restructure(project, cb, coder)
    _versions(project, cb)


if __name__ == "__main__":
    render()
