"""App: the Topics page: the topic model's map and table, emergent themes with their quotes,
"add to codebook". Fitting runs in the background (nlp.topics); the page reads the saved model."""
from __future__ import annotations

import logging
import re

import streamlit as st

from nlp import errors
from nlp.app.ui import jobs, state, widgets
from nlp.pipeline import accept_emergent, fit_project_topics, load_project_topics
from nlp.topics.figures import intertopic_map

log = logging.getLogger(__name__)


def _suggest_id(label: str, taken: tuple[str, ...]) -> str:
    """A theme id drafted from a topic label: lower-case words joined by underscores."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40] or "emergent"
    tid, i = base, 2
    while tid in taken:
        tid, i = f"{base}_{i}", i + 1
    return tid


@st.fragment(run_every=1.0)
def _fit_progress(key: str) -> None:
    job = widgets.job_progress(key, "topics", rate=30.0, failed="Fitting topics failed",
                               running="Fitting topics to {total} answers… {elapsed} s")
    if job is not None and not state.recall(f"topics_shown:{key}"):
        state.remember(f"topics_shown:{key}", True)
        st.rerun(scope="app")


def _fit(project) -> None:
    key = f"{project.root}:topics"
    if st.button("Fit topics (again)", key="topics_fit"):
        state.remember(f"topics_shown:{key}", False)
        if not jobs.start(key, "topics", lambda: fit_project_topics(project),
                          total=project.store.count_responses(flagged=False)):
            st.info("Topics are already being fitted for this project; wait for it to end.")
    _fit_progress(key)


def _add_form(project, topic) -> None:
    cb = project.store.active_codebook()
    with st.form(f"topic_add:{topic.topic_id}"):
        theme_id = st.text_input("Theme id", value=_suggest_id(topic.label, cb.theme_ids))
        label = st.text_input("Label", value=topic.label)
        definition = st.text_area("Definition", value="Answers about "
                                  + ", ".join(topic.keywords[:6]) + ".")
        if st.form_submit_button("Add to codebook"):
            try:
                new = accept_emergent(project, topic.topic_id, theme_id=theme_id, label=label,
                                      definition=definition)
            except errors.NlpError as exc:
                st.error(widgets.escape_md(str(exc)))
            else:
                state.flash(f"Added theme {label!r} ({theme_id}): codebook v{new.version}.")
                st.rerun()


def render() -> None:
    """The Topics page."""
    st.title("Topics")
    project = widgets.require_project()
    widgets.show_flashes()
    _fit(project)
    result = load_project_topics(project)
    if result is None:
        st.info("No topic model is saved for this project yet: press *Fit topics* above, or "
                "run `nlp topics`.")
        return
    if not result.topics:
        st.info("The topic model found no topics.")
        return
    s = result.stability
    cols = st.columns(4)
    cols[0].metric("Topics", len(result.topics))
    cols[1].metric("Emergent (no theme)", len(result.emergent))
    cols[2].metric("Outliers before reassignment", f"{result.outlier_share:.0%}")
    cols[3].metric("Stability (mean ARI)", f"{s.mean_ari:.2f}" if s else "-")

    st.plotly_chart(intertopic_map(result), width="stretch")
    st.dataframe([{"#": t.topic_id, "topic": t.label, "keywords": ", ".join(t.keywords[:8]),
                   "answers": t.size, "share": f"{t.share:.1%}",
                   "theme": "NEW" if t.emergent else t.theme_id,
                   "similarity": t.theme_similarity} for t in result.topics], hide_index=True)
    cut = result.params.get("match_cut")
    if cut is not None:
        st.caption(f"A topic is its nearest theme's when their similarity reaches {cut:.2f}, "
                   "or a theme's when most of its answers are coded with it; else it is NEW "
                   "(emergent).")
    if result.coherence_baseline is not None:
        st.caption(f"Coherence (NPMI) {result.coherence:.3f}, against "
                   f"{result.coherence_baseline:.3f} for random sets of this consultation's "
                   "words.")
    st.subheader("Emergent themes")
    if not result.emergent:
        st.caption("Every topic matches a codebook theme.")
    for t in result.emergent:
        near = f"; nearest theme {t.theme_id}" if t.theme_id else ""
        with st.expander(widgets.escape_md(f"{t.topic_id}. {t.label} ({t.size} answers{near})")):
            for _, text in t.quotes[:5]:
                widgets.quote(text)
            _add_form(project, t)


if __name__ == "__main__":
    render()
