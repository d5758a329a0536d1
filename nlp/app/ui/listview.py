"""App: the list view of the review queue (and of search results): a page of answers with
their search hits highlighted, a selection, and one accept or reject on all of it (one undo)."""
from __future__ import annotations

import logging

import streamlit as st

from ... import pipeline
from ...project import Project
from ...store import decisions as dec
from ...store import review as rv
from ...types import MODEL_CODER, Codebook
from . import card, state, widgets

log = logging.getLogger(__name__)

PAGE = 25


def _selected(ids: list[str]) -> list[str]:
    return [rid for rid in ids if state.widget(f"sel:{rid}")]


def _select_all(ids: list[str], on: bool) -> None:
    for rid in ids:
        state.set_widget(f"sel:{rid}", on)


def bulk(project: Project, coder: str, ids: list[str], status: str, flt: rv.QueueFilter
         ) -> None:
    """Accept or reject the bulk theme on the selected answers: one action, one undo."""
    tid = state.widget("bulk_theme")
    picked = _selected(ids)
    if not tid or not picked:
        state.flash("Pick a theme and select some answers first.", "warning")
        return
    # A list filtered on the theme is a list of its suggestions: accepting keeps their origin.
    origin = "model" if flt.theme_id == tid else "researcher"
    n = dec.bulk_decisions(project.store, picked, [dec.Decision(tid, status, origin)],
                          coder=coder)
    _select_all(picked, False)
    state.flash(f"{status.capitalize()} {tid} on {n} answer(s) (one undo takes it back).")


def _open(item: rv.QueueItem) -> None:
    state.show(item)
    state.set_view("card")


def _row_info(store, rid: str, coder: str, codebook: Codebook, blind: bool,
              cuts: dict[str, float] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The model's suggestions and the coders' decisions on one answer, in a few words, and
    the spans this coder coded there (to highlight)."""
    labels = widgets.theme_labels(codebook)
    sug, calls, spans = [], [], []
    for c in store.codings(response_id=rid):
        if c.coder == MODEL_CODER and c.status == "suggested":
            cut = (cuts or {}).get(c.theme_id)
            sug.append((c.confidence or 0.0, labels.get(c.theme_id, c.theme_id),
                        "" if cut is None else f" (cut {cut:.2f})"))
        elif c.coder == coder or (not blind and c.coder != MODEL_CODER):
            who = "you" if c.coder == coder else c.coder
            calls.append(f"{who}: {c.status} {labels.get(c.theme_id, c.theme_id)}")
            if c.coder == coder and c.status == "accepted":
                spans.extend(c.spans)
    line = "suggested: " + (", ".join(f"{lab} {p:.2f}{cut}"
                                      for p, lab, cut in sorted(sug, reverse=True))
                            or "none")
    return line + (" · " + "; ".join(calls) if calls else ""), spans


def render_list(project: Project, coder: str, codebook: Codebook, flt: rv.QueueFilter,
                total: int) -> None:
    """The list view of the queue as filtered."""
    store = project.store
    cuts = pipeline.model_cuts(store)
    pages = max(1, -(-total // PAGE))
    c = st.columns([1, 4], vertical_alignment="bottom")
    page = int(c[0].number_input("Page", 1, pages, min(state.recall("list_page", 1), pages),
                                 key="list_page_box"))
    state.remember("list_page", page)
    c[1].caption(f"Answers {(page - 1) * PAGE + 1 if total else 0:,}–"
                 f"{min(page * PAGE, total):,} of {total:,}"
                 + (f" · search hits in bold: “{widgets.escape_md(flt.text)}”"
                    if flt.text else ""))
    items = rv.queue_page(store, flt, offset=(page - 1) * PAGE, limit=PAGE)
    ids = [it.response_id for it in items]
    labels = widgets.theme_labels(codebook)
    themes = list(codebook.theme_ids)
    with st.container(border=True):
        b = st.columns([2.2, 1.7, 1.7, 1.2, 1], vertical_alignment="bottom")
        b[0].selectbox("Theme for the selected answers", themes, key="bulk_theme",
                       index=themes.index(flt.theme_id) if flt.theme_id in themes else None,
                       placeholder="pick a theme", format_func=lambda t: labels.get(t, t))
        b[1].button("Accept on selected", key="bulk_accept", type="primary",
                    on_click=bulk, args=(project, coder, ids, "accepted", flt))
        b[2].button("Reject on selected", key="bulk_reject",
                    on_click=bulk, args=(project, coder, ids, "rejected", flt))
        b[3].button("Select all", key="sel_all", on_click=_select_all, args=(ids, True))
        b[4].button("Clear", key="sel_none", on_click=_select_all, args=(ids, False))
    if not items:
        st.success("Nothing in this list. Change the filters to see more answers.")
        return
    blind = state.blind()
    for it in items:
        row = st.columns([0.4, 8, 1], vertical_alignment="top")
        row[0].checkbox("select", key=f"sel:{it.response_id}", label_visibility="collapsed")
        line, coded = _row_info(store, it.response_id, coder, codebook, blind, cuts)
        with row[1]:
            st.markdown(card.highlight_md(it.text, hits=card.search_hits(it.text, flt.text),
                                          coded=coded))
            widgets.text(f"{it.response_id} · {it.source or 'no source'} · {line}",
                         caption=True)
        row[2].button("Open", key=f"open:{it.response_id}", on_click=_open, args=(it,),
                      help="Review this answer on the card.")
