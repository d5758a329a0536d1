"""App: memos (a researcher's notes) on an answer, a theme or the project: the list and a box
to write one, over nlp.store.memos."""
from __future__ import annotations

import logging

import streamlit as st

from ...errors import NlpError
from ...project import Project
from ...store import memos as mm
from . import state, widgets

log = logging.getLogger(__name__)


def save(project: Project, target: mm.Target, target_id: str, coder: str, key: str) -> None:
    """on_click of "Save memo": store the box's text and empty it."""
    text = state.widget(key, "") or ""
    if not text.strip():
        state.flash("Write something first.", "warning")
        return
    try:
        mm.add_memo(project.store, target, target_id, text, author=coder)
    except NlpError as exc:
        state.flash(str(exc), "error")
        return
    state.set_widget(key, "")
    on = "the project" if target == "project" else f"{target} {target_id}"
    state.flash(f"Memo saved on {on}.")


def delete(project: Project, memo_id: int, coder: str) -> None:
    if mm.delete_memo(project.store, memo_id, author=coder):
        state.flash("Memo deleted.", "info")


def show(memo: mm.Memo, project: Project | None = None, coder: str | None = None) -> None:
    """One memo: who, when, and its text (plain)."""
    c = st.columns([8, 1], vertical_alignment="top")
    with c[0]:
        widgets.text(f"{memo.author} · {memo.created_at:%Y-%m-%d %H:%M}"
                     + ("" if memo.target == "project" else f" · on {memo.target} "
                        f"{memo.target_id}"), caption=True)
        widgets.text(memo.text)
    if project is not None and coder == memo.author:
        c[1].button("Delete", key=f"memo_del:{memo.memo_id}", on_click=delete,
                    args=(project, memo.memo_id, coder))


def memo_box(project: Project, target: mm.Target, target_id: str, coder: str | None, *,
             blind: bool = False, expanded: bool = False) -> None:
    """The memos on one target and a box to add one (in blind mode, only the coder's own)."""
    memos = mm.list_memos(project.store, target, target_id,
                          author=coder if blind else None)
    title = {"answer": "Memos on this answer", "theme": "Memos on this theme",
             "project": "Project memos"}[target]
    with st.expander(f"{title} ({len(memos)})", expanded=expanded or bool(memos)):
        for m in memos:
            show(m, project, coder)
        if not coder:
            st.caption("Type your name in the sidebar to write a memo.")
            return
        key = f"memo_text:{target}:{target_id}"
        st.text_area("New memo", key=key, height=80, placeholder="a note: why, doubts, ideas")
        st.button("Save memo", key=f"memo_save:{target}:{target_id}", on_click=save,
                  args=(project, target, target_id, coder, key))


def memo_search(project: Project) -> None:
    """Search every memo's text."""
    q = st.text_input("Search the memos", key="memo_search")
    if not q.strip():
        return
    found = mm.search_memos(project.store, q)
    st.caption(f"{len(found)} memo(s)")
    for m in found:
        show(m)
