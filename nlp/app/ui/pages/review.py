"""App: the Review queue page: one answer at a time, the model's suggestions, one-click
decisions, next/previous, undo; most informative first or filtered."""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from dataclasses import replace

import streamlit as st

from nlp.app.ui import card, jobs, listview, memos, state, widgets
from nlp import pipeline
from nlp.classify.audit import estimate
from nlp.project import Project
from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.store.context import source_context
from nlp.store.review_order import decided_checks, is_random_check
from nlp.types import MODEL_CODER, Codebook

if TYPE_CHECKING:
    from nlp.store import Store

log = logging.getLogger(__name__)

STATUS_LABELS = {"unreviewed": "Not yet reviewed", "any": "All answers",
                 "reviewed": "Reviewed", "suggested": "Open model suggestion",
                 "accepted": "Accepted", "rejected": "Rejected"}
ORDER_LABELS = {"informative": "Most informative first", "import": "Import order"}
RANDOM_CHECK = ("Random check: this answer was drawn at random, not for the model's doubt, so "
                "your decision also tells how far to trust the suggestions not yet reviewed. "
                "Code it as any other.")


def audit_sentence(store: Store, codebook: Codebook) -> str:
    """How far to trust the unreviewed suggestions, from the random checks decided so far."""
    checks = decided_checks(store, codebook.theme_ids)
    return estimate([m for _, m, _ in checks], [r for _, _, r in checks]).sentence()


# -- actions (callbacks: each calls the library, then moves the queue) -----------------------------
def _effective(store, flt: rv.QueueFilter) -> rv.QueueFilter:
    """The informative order needs the model's scores: until then, import order. In blind
    mode "reviewed" means reviewed by this coder (another's decisions do not show)."""
    if state.blind() and state.coder():
        flt = replace(flt, coder=state.coder())
    return flt if flt.order == "import" or rv.has_predictions(store) else replace(
        flt, order="import")


def _after_key(item: rv.QueueItem | None, flt: rv.QueueFilter):
    if item is None:
        return None
    return item.key if len(item.key) == (2 if flt.order == "informative" else 1) else None


def go_next(project: Project) -> None:
    flt = _effective(project.store, state.queue_filter())
    state.show(rv.queue_next(project.store, flt, after=_after_key(state.current(), flt)))


def go_prev(project: Project) -> None:
    prev = state.pop_history()
    if prev is None and state.current() is not None:
        flt = _effective(project.store, state.queue_filter())
        key = _after_key(state.current(), flt)
        prev = rv.queue_prev(project.store, flt, before=key) if key else None
    if prev is not None:
        state.show(prev, remember=False)


def _decided(project: Project, coder: str) -> None:
    if state.count_decision():
        start_refresh(project)


def decide(project: Project, coder: str, response_id: str, decisions: list[dec.Decision], *,
           advance: bool = False) -> None:
    """Record one click's decisions; with `advance`, show the next answer."""
    dec.record_decisions(project.store, response_id, decisions, coder=coder)
    _decided(project, coder)
    if advance:
        go_next(project)


def undo(project: Project, coder: str) -> None:
    done = dec.undo_last(project.store, coder)
    if not done:
        state.flash("Nothing of yours to undo.", "info")
        return
    rid = done[0]["response_id"]
    state.flash(f"Undid {len(done)} change(s) on answer {rid}.", "info")
    cur = state.current()
    if cur is None or cur.response_id != rid:
        state.show(rv.find_item(project.store, rid, order=state.queue_filter().order))


def start_refresh(project: Project) -> bool:
    """Recode every answer in the background with what reviewers decided so far."""
    ok = jobs.start(str(project.root), "refresh",
                    lambda: pipeline.code_project(project, recode_all=True),
                    total=project.store.count_responses(flagged=False))
    if ok:
        state.flash("Refreshing the model's suggestions in the background.", "info")
    return ok


def _refresh_clicked(project: Project) -> None:
    """on_click of "Refresh suggestions" (Streamlit's callbacks return nothing)."""
    start_refresh(project)


# -- the filter ------------------------------------------------------------------------------------
def _filters(project: Project, codebook: Codebook) -> rv.QueueFilter:
    flt = state.queue_filter()
    store = project.store
    labels = widgets.theme_labels(codebook)
    with st.expander("Queue and filters", expanded=flt != rv.QueueFilter()):
        c = st.columns(3)
        c[0].radio("Order", list(ORDER_LABELS), format_func=ORDER_LABELS.__getitem__,
                   key="f_order",
                   index=list(ORDER_LABELS).index(flt.order),
                   on_change=state.filter_changed, args=("order", "f_order"))
        c[1].selectbox("Status", list(STATUS_LABELS), format_func=STATUS_LABELS.__getitem__,
                       index=list(STATUS_LABELS).index(flt.status), key="f_status",
                       on_change=state.filter_changed, args=("status", "f_status"))
        themes = ["", *codebook.theme_ids]
        c[2].selectbox("Theme", themes, format_func=lambda t: labels.get(t, "All themes"),
                       index=themes.index(flt.theme_id) if flt.theme_id in themes else 0,
                       key="f_theme", on_change=state.filter_changed,
                       args=("theme_id", "f_theme"))
        c = st.columns(3)
        c[0].slider("Model confidence", 0.0, 1.0, (flt.min_confidence or 0.0,
                                                   flt.max_confidence or 1.0), step=0.05,
                    key="f_band", on_change=state.filter_changed, args=("band", "f_band"))
        srcs = {s["id"]: s["name"] for s in store.list_sources()}
        ids = [None, *srcs]
        c[1].selectbox("Source", ids, format_func=lambda i: srcs.get(i, "All sources"),
                       index=ids.index(flt.source_id) if flt.source_id in ids else 0,
                       key="f_source", on_change=state.filter_changed,
                       args=("source_id", "f_source"))
        coders = ["", *rv.list_coders(store)]
        c[2].selectbox("Coder", coders, format_func=lambda x: x or "Anyone",
                       index=coders.index(flt.coder) if flt.coder in coders else 0,
                       key="f_coder", on_change=state.filter_changed, args=("coder", "f_coder"),
                       disabled=state.blind(),
                       help="In blind mode the queue is yours: reviewed means by you.")
        wide = st.columns([3, 1])
        wide[0].text_input("Search the answers", value=flt.text or "", key="f_text",
                           on_change=state.filter_changed, args=("text", "f_text"))
        wide[1].number_input("Refresh suggestions every N decisions (0: on demand)", 0, 1000,
                          state.refresh_every(), key="f_refresh",
                          on_change=state.refresh_every_changed)
    return _effective(store, state.queue_filter())


# -- the card --------------------------------------------------------------------------------------
KEYS = {"next": "N", "prev": "P", "undo": "U", "accall": "A", "none": "X", "scope": "S",
        "move": "M"}
KEY_HELP = ("Keys: **1–9** accept theme 1–9 · **Alt+1–9** reject it · **S** code sentences "
            "/ the whole answer · **A** accept all suggestions and go on · **X** no (other) "
            "theme applies, go on · **N** next · **P** previous · **U** undo · **M** move "
            "(relabel)")


def _evidence(ctx: rv.ReviewContext) -> dict[str, tuple[int, int]]:
    """The model's evidence span per suggested theme on the answer."""
    return {t: sp[MODEL_CODER][0] for t, sp in ctx.spans.items() if sp.get(MODEL_CODER)}


def relabel(project: Project, coder: str, rid: str, key_from: str, key_to: str,
            spans: tuple[tuple[int, int], ...] = ()) -> None:
    """Move the answer from one theme to another: one action, one undo. The new theme rests
    on `spans` (the picked sentences; () the whole answer), as any other decision on the
    card: never on the model's evidence sentence the researcher did not pick."""
    a, b = state.widget(key_from), state.widget(key_to)
    if not a or not b or a == b:
        state.flash("Pick two different themes to move between.", "warning")
        return
    dec.relabel(project.store, rid, a, b, coder=coder, spans=spans)
    # Both boxes start over: "from" its first theme, "to" empty (else, once the old theme
    # left the "from" list, both showed the new one).
    state.reset_widget(key_from)
    state.reset_widget(key_to)
    state.flash(f"Moved answer {rid} from {a} to {b} (one undo takes it back).")
    _decided(project, coder)


def _context(store, ctx: rv.ReviewContext, *, marks=(), hits=(), coded=()) -> None:
    """The answer in its place in the source: where, the section or speaker, the turns or
    quotes around it (a table: the same respondent's other answers)."""
    it = ctx.item
    src = source_context(store, it.response_id)
    where = [f"answer {it.response_id}", src.where,
             f"respondent {it.respondent_id}" if it.respondent_id else ""]
    widgets.text(" · ".join(w for w in where if w), caption=True)
    for name, value in (("Section", src.section), ("Speaker", src.speaker),
                        ("Question", it.question)):
        if value:
            widgets.text(f"{name}: {value}", caption=True)
    if src.kind == "table" and (src.before or src.after):
        st.caption("The same respondent's other answers:")

    def line(x) -> str:
        return (f"{x.label}: " if x.label else "") + _short(x.text, 240)

    for x in src.before:
        widgets.text(f"… {line(x)}", caption=True)
    with st.container(border=True):
        st.markdown(card.highlight_md(it.text, marks=marks, hits=hits, coded=coded))
    for x in src.after:
        widgets.text(f"{line(x)} …", caption=True)
    if ctx.flag:
        st.warning(f"Flagged as {ctx.flag.replace('_', ' ')} at import: not coded by the model.")


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def _sentence_picker(ctx: rv.ReviewContext, rows: list[card.ThemeRow],
                     sentences: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """In sentence scope, the sentences to code (the top suggestion's evidence preselected);
    returns their character spans ([] for the whole answer)."""
    rid, text = ctx.item.response_id, ctx.item.text
    scope = state.sentence_scope()
    c = st.columns([3, 1.4], vertical_alignment="center")
    c[1].button("Whole answer" if scope else "Code sentences", key="scope",
                on_click=state.toggle_sentence_scope, shortcut=KEYS["scope"],
                help="Decisions apply to the picked sentences, or to the whole answer.")
    if not scope:
        c[0].caption("Decisions apply to the **whole answer**.")
        return []
    evidence = _evidence(ctx)
    top = next((r.theme_id for r in rows if r.kind == "suggested" and r.theme_id in evidence),
               None)
    picked = st.pills("Sentences to code", list(range(len(sentences))),
                      selection_mode="multi", key=f"sents:{rid}",
                      default=card.sentences_in(evidence[top] if top else None, sentences),
                      format_func=lambda i: widgets.escape_md(
                          f"{i + 1} · {_short(text[sentences[i][0]:sentences[i][1]], 60)}"))
    spans = card.spans_of(picked or [], sentences)
    c[0].caption("Decisions apply to the **picked sentences** (highlighted)." if spans else
                 "No sentence picked: decisions apply to the **whole answer**.")
    return spans


def _theme_rows(project: Project, coder: str, codebook: Codebook, ctx: rv.ReviewContext,
                rows: list[card.ThemeRow], spans: list[tuple[int, int]]) -> None:
    rid = ctx.item.response_id
    text = ctx.item.text
    if not rows:
        st.caption("The model suggests no theme for this answer.")
    for n, row in enumerate(rows, 1):
        tid, mine = row.theme_id, row.mine
        conf = row.score if row.origin == "model" else None
        keyed = n <= 9
        cols = st.columns([4.6, 1.5, 1.7, 1.4, 1.8], vertical_alignment="center")
        with cols[0]:
            st.markdown((f"**{n}** · " if keyed else "") + widgets.escape_md(row.label),
                        help=widgets.escape_md(row.definition) if row.definition else None)
            if row.definition:
                widgets.text(_short(row.definition), caption=True)
        cols[1].caption(row.strength, help=card.CUT_HELP if row.cut is not None else None)
        where = ctx.spans.get(tid, {}).get(coder) if mine else None
        quoted = " / ".join(f"“{_short(text[a:b], 40)}”" for a, b in where or ())
        cols[2].caption(f"you: {mine or '—'}" + (
            widgets.escape_md(" · " + quoted) if quoted else "") + (
            "  \n" + widgets.escape_md(", ".join(f"{c}: {s}" for c, s in row.others.items()))
            if row.others else ""))
        cols[3].button("Accept", key=f"acc:{rid}:{tid}", disabled=mine == "accepted",
                       on_click=decide, args=(project, coder, rid, [dec.Decision(
                           tid, "accepted", row.origin, conf, spans=tuple(spans))]),
                       shortcut=str(n) if keyed else None,
                       help="This theme applies (to the picked sentences, in sentence scope).")
        cols[4].button("Reject", key=f"rej:{rid}:{tid}", disabled=mine == "rejected",
                       on_click=decide, args=(project, coder, rid, [dec.Decision(
                           tid, "rejected", row.origin, conf)]),
                       shortcut=f"Alt+{n}" if keyed else None,
                       help="This theme does not apply (removes it if you had accepted it).")
    in_play = {r.theme_id for r in rows}
    rest = [t for t in codebook.theme_ids if t not in in_play]
    if rest:
        key = f"add:{rid}:{len(rows)}"
        st.pills("Add a theme", rest, key=key,
                 format_func=lambda t: widgets.escape_md(widgets.label_of(codebook, t)),
                 on_change=_add_from_pills, args=(project, coder, rid, key, tuple(spans)))
    suggested = [r for r in rows if r.kind == "suggested"]
    open_sug = [r for r in suggested if not r.mine]
    decided = [r for r in rows if r.mine]
    c = st.columns(2)
    # In sentence scope each suggestion is accepted on its own evidence sentence.
    ev = _evidence(ctx) if state.sentence_scope() else {}
    c[0].button("Accept all suggestions and go on", key=f"accall:{rid}", type="primary",
                disabled=not open_sug, on_click=decide, args=(project, coder, rid, [
                    dec.Decision(r.theme_id, "accepted", "model", r.score,
                                spans=(ev[r.theme_id],) if r.theme_id in ev else ())
                    for r in open_sug]),
                kwargs={"advance": True}, shortcut=KEYS["accall"],
                help="In sentence scope, each on the sentence the model read it in.")
    # Rejecting the open suggestions (or, with none, the likeliest theme) records that this
    # coder reviewed the answer and found no (other) theme.
    if open_sug:
        none_of = [dec.Decision(r.theme_id, "rejected", "model", r.score) for r in open_sug]
    elif decided:
        none_of = []
    else:
        near = [r for r in rows if r.kind == "possible"]
        first = near[0].theme_id if near else codebook.theme_ids[0]
        none_of = [dec.Decision(first, "rejected", "model" if first in ctx.scores
                               else "researcher", ctx.scores.get(first))]
    c[1].button("No (other) theme applies: go on", key=f"none:{rid}", on_click=decide,
                args=(project, coder, rid, none_of), kwargs={"advance": True},
                shortcut=KEYS["none"],
                help="Rejects the open suggestions (or the likeliest theme) and moves on.")
    _relabel_row(project, coder, codebook, rid, rows, spans)


def _relabel_row(project: Project, coder: str, codebook: Codebook, rid: str,
                 rows: list[card.ThemeRow], spans: list[tuple[int, int]]) -> None:
    movable = [r.theme_id for r in rows if r.mine == "accepted"
               or (r.kind == "suggested" and r.mine is None)]
    if not movable:
        return
    labels = widgets.theme_labels(codebook)
    c = st.columns([3, 3, 1.4], vertical_alignment="bottom")
    c[0].selectbox("Relabel: move from", movable, key=f"mv_from:{rid}",
                   format_func=lambda t: labels.get(t, t))
    c[1].selectbox("Move to", [t for t in codebook.theme_ids], key=f"mv_to:{rid}",
                   index=None, placeholder="another theme",
                   format_func=lambda t: labels.get(t, t))
    c[2].button("Move", key=f"mv:{rid}", on_click=relabel,
                args=(project, coder, rid, f"mv_from:{rid}", f"mv_to:{rid}", tuple(spans)),
                shortcut=KEYS["move"],
                help="Rejects the first theme and accepts the second, on the picked sentences "
                     "in sentence scope, else on the whole answer: one action, one undo.")


def _add_from_pills(project: Project, coder: str, rid: str, key: str,
                    spans: tuple[tuple[int, int], ...] = ()) -> None:
    tid = state.widget(key)
    if tid:
        decide(project, coder, rid, [dec.Decision(tid, "accepted", "researcher", spans=spans)])


def render() -> None:
    """The Review queue page."""
    st.title("Review queue")
    project = widgets.require_project()
    coder = widgets.require_coder()
    store = project.store
    codebook = store.active_codebook()
    flt = _filters(project, codebook)
    widgets.show_flashes()
    if state.current() is None and not state.at_end():
        rid = state.current_id()
        item = rv.find_item(store, rid, order=flt.order) if rid else None
        state.show(item or rv.queue_next(store, flt), remember=False)
    item = state.current()
    state.keep_item()
    left = rv.queue_count(store, flt)
    mine = rv.reviewed_count(store, coder=coder)
    job = jobs.get(str(project.root))
    busy = job is not None and job.running and job.kind == "refresh"
    st.caption(f"{left:,} answer{'' if left == 1 else 's'} in this queue · {mine:,} reviewed "
               f"by {widgets.escape_md(coder)}"
               + (" · refreshing suggestions…" if busy else "")
               + ("" if flt.order == "informative" or state.queue_filter().order == "import"
                  else " · import order until the model has coded the answers"))
    if flt.order == "informative":
        st.caption(audit_sentence(store, codebook))
    state.init_view_box()
    st.segmented_control("View", ["card", "list"], key="view_box",
                         on_change=state.view_box_changed, label_visibility="collapsed",
                         format_func={"card": "One answer", "list": "List"}.__getitem__)
    if state.view() == "list":
        listview.render_list(project, coder, codebook, flt, left)
        nav = st.columns([1.6, 5])
        nav[0].button("Undo my last action", key="undo", on_click=undo, args=(project, coder),
                      shortcut=KEYS["undo"])
        return
    bar = st.container(horizontal=True)
    bar.button("Previous", key="prev", on_click=go_prev, args=(project,),
               disabled=item is None and not state.has_history(), shortcut=KEYS["prev"])
    bar.button("Next", key="next", on_click=go_next, args=(project,), shortcut=KEYS["next"])
    bar.button("Undo my last action", key="undo", on_click=undo, args=(project, coder),
               shortcut=KEYS["undo"])
    bar.button("Refresh suggestions", key="refresh", on_click=_refresh_clicked, args=(project,),
               disabled=busy, help="Recode every answer with your decisions so far "
                                   f"(also automatic every {state.refresh_every()} "
                                   "decisions).")
    if item is None:
        st.success("Nothing left in this queue. Change the filters to see more answers.")
        return
    blind = state.blind()
    ctx = rv.review_context(store, item, coder=coder, blind=blind)
    rows = card.theme_rows(ctx, codebook, coder, blind=blind,
                           cuts=pipeline.model_cuts(store))
    evidence = _evidence(ctx)
    top = next((r.theme_id for r in rows if r.kind == "suggested" and r.theme_id in evidence),
               None)
    sentences = card.sentence_spans(item.text)
    place = st.container()
    spans = _sentence_picker(ctx, rows, sentences)
    coded = [sp for t, by in ctx.spans.items() if ctx.decisions.get(t, {}).get(coder)
             == "accepted" for sp in by.get(coder, ())]
    with place:
        _context(store, ctx, marks=spans or ([] if state.sentence_scope() or not top
                                      else [evidence[top]]),
                 hits=card.search_hits(item.text, flt.text), coded=coded)
        if top and not state.sentence_scope():
            widgets.text("Orange: the sentence the model read as "
                         f"{widgets.label_of(codebook, top)}.", caption=True)
        if coded:
            st.caption("Green: sentences you coded.")
    if blind:
        st.caption("Blind mode: other coders' decisions are hidden.")
    if flt.order == "informative" and is_random_check(store, item.response_id):
        st.info(RANDOM_CHECK)
    st.divider()
    _theme_rows(project, coder, codebook, ctx, rows, spans)
    st.caption(KEY_HELP)
    memos.memo_box(project, "answer", item.response_id, coder, blind=blind)


if __name__ == "__main__":
    render()
