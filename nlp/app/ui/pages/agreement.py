"""App: the Agreement page: Cohen's kappa and Krippendorff's alpha per theme between coders
(the model counting as one), and the disagreements listed for adjudication."""
from __future__ import annotations

import logging
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from nlp.classify.agreement import AgreementReport
from nlp.pipeline import project_agreement
from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.store.review_themes import texts_of
from nlp.types import MODEL_CODER
from nlp.app.ui import state, widgets

log = logging.getLogger(__name__)
PAGE = 10


@st.cache_data(show_spinner=False, max_entries=16)
def _report(root: str, version: tuple[int, int, int], include_model: bool, _store: Any
            ) -> AgreementReport:
    return project_agreement(_store, include_model=include_model)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "—" if ci is None else f"{ci[0]:.2f} to {ci[1]:.2f}"


def agreement_frame(rep: AgreementReport, labels: dict[str, str]) -> pd.DataFrame:
    """One row per theme some coder applied on the shared answers: agreement %, alpha and
    kappa per coder pair, each with its bootstrap interval."""
    rows = []
    for t in rep.themes:
        row = {"theme": labels.get(t.theme_id, t.theme_id), "answers": t.units,
               "applied on": t.applied, "agreement": _fmt(t.percent),
               "Krippendorff alpha": _fmt(t.alpha), "alpha interval": _ci(t.alpha_ci),
               "mean kappa": _fmt(t.mean_kappa)}
        for (a, b), k in t.kappa.items():
            row[f"kappa {a} / {b}"] = _fmt(k)
            row[f"interval {a} / {b}"] = _ci(t.kappa_ci.get((a, b)))
        rows.append(row)
    return pd.DataFrame(rows)


def _adjudicate(project, coder: str, rid: str, tid: str, status: str) -> None:
    dec.record_decisions(project.store, rid, [dec.Decision(tid, status, "researcher")],
                        coder=coder)
    state.flash(f"Recorded {status} for {tid} on answer {rid}.")


def _disagreements(project, rep: AgreementReport, labels: dict[str, str], coder: str) -> None:
    st.subheader(f"Disagreements ({len(rep.disagreements):,})")
    if not rep.disagreements:
        st.caption("None: every coder agrees on every shared answer.")
        return
    themes = ["", *sorted({d.theme_id for d in rep.disagreements})]
    pick = st.selectbox("Theme", themes, format_func=lambda t: labels.get(t, "All themes"),
                        key="ag_theme")
    rows = [d for d in rep.disagreements if not pick or d.theme_id == pick]
    pages = max(1, -(-len(rows) // PAGE))
    page = int(st.number_input("Page", 1, pages, 1, key="ag_page"))
    shown = rows[(page - 1) * PAGE: page * PAGE]
    texts = texts_of(project.store, [d.response_id for d in shown])
    for d in shown:
        with st.container(border=True):
            widgets.text(f"answer {d.response_id} · {labels.get(d.theme_id, d.theme_id)} · "
                         f"applied by {', '.join(d.applied_by) or 'nobody'}; not by "
                         f"{', '.join(d.not_applied_by) or 'nobody'}", caption=True)
            widgets.text(texts.get(d.response_id, ""))
            c = st.columns([1, 1.8, 3.2])
            key = f"{d.response_id}:{d.theme_id}"
            c[0].button("Applies", key=f"ag_yes:{key}", on_click=_adjudicate,
                        args=(project, coder, d.response_id, d.theme_id, "accepted"))
            c[1].button("Does not apply", key=f"ag_no:{key}", on_click=_adjudicate,
                        args=(project, coder, d.response_id, d.theme_id, "rejected"))


def render() -> None:
    """The Agreement page."""
    st.title("Agreement")
    project = widgets.require_project()
    coder = widgets.require_coder()
    widgets.show_flashes()
    store = project.store
    labels = widgets.theme_labels(store.active_codebook())
    if widgets.blind_notice("shows"):
        return
    include_model = st.toggle("Count the model as a coder", value=True, key="ag_model")
    rep = _report(str(project.root), rv.data_version(store), include_model, store)
    people = [c for c in rep.coders if c != MODEL_CODER]
    if len(rep.coders) < 2 or rep.units == 0:
        st.info("Agreement needs two or more coders on the same answers"
                + (" (the model counts as one)." if include_model else ".")
                + " Review some answers on the Review page first.")
        return
    st.caption(f"{rep.units:,} answers coded by two or more of: "
               + widgets.escape_md(", ".join(rep.coders))
               + f". {len(people)} researcher(s). A researcher's themes on an answer are those "
               "they accepted; the model's, those it suggested.")
    df = agreement_frame(rep, labels)
    st.dataframe(df, hide_index=True, width="stretch")
    if rep.bootstrap:
        st.caption(f"Intervals: {rep.level:.0%} bootstrap percentile intervals over "
                   f"{rep.bootstrap:,} resamples of the shared answers.")
    if rep.unused:
        widgets.text(f"Not scored (no coder applied them on the shared answers, so agreement "
                     f"on them says nothing): "
                     + ", ".join(labels.get(t, t) for t in rep.unused) + ".", caption=True)
    chart = pd.DataFrame([{"theme": labels.get(t.theme_id, t.theme_id), "alpha": t.alpha,
                           "low": t.alpha_ci[0] if t.alpha_ci else t.alpha,
                           "high": t.alpha_ci[1] if t.alpha_ci else t.alpha}
                          for t in rep.themes if t.alpha is not None])
    if not chart.empty:
        base = alt.Chart(chart)
        y = alt.Y("theme:N", sort=alt.EncodingSortField("alpha", order="descending"),
                  title=None, axis=alt.Axis(labelLimit=260))
        bars = base.mark_bar().encode(
            x=alt.X("alpha:Q", scale=alt.Scale(domain=[-1, 1]), title="Krippendorff's alpha "
                    "(line: its interval)"), y=y, tooltip=["theme", "alpha", "low", "high"])
        st.altair_chart(bars + base.mark_rule(color="black").encode(x="low:Q", x2="high:Q",
                                                                     y=y), width="stretch")
    _disagreements(project, rep, labels, coder)


if __name__ == "__main__":
    render()
