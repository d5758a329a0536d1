"""App: the Themes page: counts and shares per theme (accepted vs suggested), a crosstab by
respondent group or source, and the quotes under a theme."""
from __future__ import annotations

import logging
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from nlp.store import review as rv
from nlp.store.review_themes import group_options, theme_counts, theme_crosstab
from nlp.app.ui import card, memos, state, widgets
from nlp.types import MODEL_CODER

log = logging.getLogger(__name__)
PAGE = 10


@st.cache_data(show_spinner=False, max_entries=32)
def _counts(root: str, version: tuple[int, int, int], _store: Any) -> tuple[int, dict]:
    return theme_counts(_store)


@st.cache_data(show_spinner=False, max_entries=32)
def _crosstab(root: str, version: tuple[int, int, int], by: str, _store: Any
              ) -> tuple[dict, list]:
    return theme_crosstab(_store, by)


def counts_frame(n: int, counts: dict, labels: dict[str, str]) -> pd.DataFrame:
    """One row per codebook theme: accepted, open suggestions, rejected and shares."""
    rows = []
    for tid, label in labels.items():
        c = counts.get(tid)
        acc, sug, rej = (c.accepted, c.suggested, c.rejected) if c else (0, 0, 0)
        rows.append({"theme": label, "theme_id": tid, "accepted": acc, "suggested": sug,
                     "rejected": rej, "share accepted": acc / n if n else 0.0,
                     "share accepted or suggested": (acc + sug) / n if n else 0.0})
    return pd.DataFrame(rows)


def _chart(df: pd.DataFrame) -> None:
    long = df.melt(id_vars=["theme"], value_vars=["accepted", "suggested"],
                   var_name="status", value_name="answers")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("answers:Q", stack="zero", title="answers"),
        y=alt.Y("theme:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("status:N", scale=alt.Scale(domain=["accepted", "suggested"],
                                                    range=["#1f77b4", "#aec7e8"])),
        tooltip=["theme", "status", "answers"]), width="stretch")


GROUP_LABELS = {"source": "Imported file", "question": "Question", "respondent_id": "Respondent"}


def group_label(option: str) -> str:
    """How "Group answers by" names an option: the fixed columns by what they are, a field of
    the imported rows as "field NAME" (so a field called "source" is not a second "source")."""
    if option in GROUP_LABELS:
        return GROUP_LABELS[option]
    return "field " + option.removeprefix("meta:").replace("_", " ")


def _crosstab_section(project, labels: dict[str, str], version) -> None:
    st.subheader("By group")
    opts = group_options(project.store)
    by = st.selectbox("Group answers by", opts, key="xt_by", format_func=group_label,
                      help="Imported file: the file each answer came from. A field: a column "
                           "of the imported rows kept as metadata.")
    measure = st.radio("Count", ["accepted", "accepted or suggested"], horizontal=True,
                       key="xt_measure")
    sizes, rows = _crosstab(str(project.root), version, by, project.store)
    if not rows:
        st.caption("No codings yet.")
        return
    df = pd.DataFrame(rows)
    df["n"] = df["accepted"] + (df["suggested"] if measure != "accepted" else 0)
    df["theme"] = df["theme_id"].map(lambda t: labels.get(t, t))
    df["share"] = [n / sizes.get(g, 1) if sizes.get(g) else 0.0
                   for n, g in zip(df["n"], df["group"])]
    if len(sizes) > 30:
        top = sorted(sizes, key=lambda g: -sizes[g])[:30]
        st.caption(f"{len(sizes)} groups: showing the 30 largest.")
        df = df[df["group"].isin(top)]
    table = df.pivot_table(index="theme", columns="group", values="share", fill_value=0.0)
    st.dataframe(table.style.format("{:.0%}"))
    st.caption("Share of each group's answers under each theme. Group sizes: " + widgets.escape_md(
        ", ".join(f"{g} {n:,}" for g, n in sorted(sizes.items(), key=lambda x: -x[1])[:30])))
    st.altair_chart(alt.Chart(df).mark_rect().encode(
        x=alt.X("group:N", title=None), y=alt.Y("theme:N", title=None),
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues"), legend=alt.Legend(
            format="%")),
        tooltip=["theme", "group", "n", alt.Tooltip("share:Q", format=".0%")]),
        width="stretch")


def _quotes_section(project, labels: dict[str, str]) -> None:
    st.subheader("Quotes under a theme")
    ids = list(labels)
    c = st.columns([3, 2, 1])
    tid = c[0].selectbox("Theme", ids, format_func=labels.__getitem__, key="q_theme")
    if tid is None:  # a codebook has themes; the widget's type allows none
        return
    statuses: list[rv.StatusFilter] = ["accepted", "suggested", "any"]
    status = c[1].radio("Status", statuses, horizontal=True,
                        key="q_status", format_func=lambda s: {
                            "accepted": "accepted", "suggested": "open suggestion",
                            "any": "all"}[s])
    flt = rv.QueueFilter(theme_id=tid, status=status, order="import")
    total = rv.queue_count(project.store, flt)
    pages = max(1, -(-total // PAGE))
    page = c[2].number_input("Page", 1, pages, 1, key="q_page")
    memos.memo_box(project, "theme", tid, state.coder(), blind=state.blind())
    st.caption(f"{total:,} answers")
    for item in rv.queue_page(project.store, flt, offset=(int(page) - 1) * PAGE, limit=PAGE):
        # the sentences researchers coded under the theme (the model's evidence, if only it)
        calls = project.store.codings(response_id=item.response_id, theme_id=tid)
        coded = [sp for c in calls if c.coder != MODEL_CODER and c.status == "accepted"
                 for sp in c.spans]
        evidence = [sp for c in calls if c.coder == MODEL_CODER for sp in c.spans] \
            if not coded else []
        with st.container(border=True):
            st.markdown(card.highlight_md(item.text, coded=coded, marks=evidence))
        widgets.text(" · ".join(x for x in (item.response_id, item.source,
                                              item.respondent_id or "") if x), caption=True)


def render() -> None:
    """The Themes page."""
    st.title("Themes")
    project = widgets.require_project()
    widgets.show_flashes()
    store = project.store
    labels = widgets.theme_labels(store.active_codebook())
    if widgets.blind_notice("counts"):
        tid = st.selectbox("Theme", list(labels), format_func=labels.__getitem__, key="q_theme")
        if tid is not None:
            memos.memo_box(project, "theme", tid, state.coder(), blind=True)
        return
    version = rv.data_version(store)
    n, counts = _counts(str(project.root), version, store)
    df = counts_frame(n, counts, labels)
    st.caption(f"{n:,} answers (flagged non-answers left out). Accepted: a researcher's latest "
               "decision; suggested: the model's, not yet decided.")
    st.dataframe(df.drop(columns=["theme_id"]).style.format(
        {"share accepted": "{:.1%}", "share accepted or suggested": "{:.1%}"}),
        hide_index=True, width="stretch")
    _chart(df)
    _crosstab_section(project, labels, version)
    _quotes_section(project, labels)
    state.remember("themes_seen", True)


if __name__ == "__main__":
    render()
