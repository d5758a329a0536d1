"""App: the Topics page: the topic model's map and table, emergent themes with their quotes,
"add to codebook". Explains itself when the topic stage (nlp.topics) or a saved model is
missing."""
from __future__ import annotations

import importlib
import logging
import re
from dataclasses import replace
from typing import Any, Mapping

import streamlit as st

from nlp import errors
from nlp.store.review_themes import save_codebook_version
from nlp.types import Theme
from nlp.ui import state, widgets

log = logging.getLogger(__name__)
LOADERS = ("load_topics", "saved_topics", "load_topic_result", "load_topic_model")


def _get(t: Any, *names: str, default: Any = None) -> Any:
    """A field of a topic given as a mapping or an object (the topic type is not fixed)."""
    for n in names:
        v = t.get(n) if isinstance(t, Mapping) else getattr(t, n, None)
        if v is not None:
            return v
    return default


def load(project) -> tuple[Any, str | None]:
    """(the saved topic result, None), or (None, why there is none)."""
    try:
        mod = importlib.import_module("nlp.topics")
    except ImportError:
        return None, ("The topic stage (nlp.topics) is not installed in this version yet. "
                      "When it is, run `nlp topics` and the map and table appear here.")
    for name in LOADERS:
        fn = getattr(mod, name, None)
        if callable(fn):
            try:
                res = fn(project)
            except (errors.NlpError, FileNotFoundError, KeyError) as exc:
                return None, f"No topic model is saved for this project ({exc})."
            if res is None:
                break
            return res, None
    return None, "No topic model is saved for this project yet: run `nlp topics` first."


def theme_from_topic(topic: Any, taken: list[str]) -> Theme:
    """A codebook theme drafted from a topic: id from its label, definition from its
    keywords, its example quotes as inclusion examples."""
    label = str(_get(topic, "label", "name", "title", default="emergent topic"))
    kw = [w[0] if isinstance(w, (tuple, list)) else w
          for w in _get(topic, "keywords", "words", "terms", default=()) or ()]
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40] or "emergent"
    tid, i = base, 2
    while tid in taken:
        tid, i = f"{base}_{i}", i + 1
    ex = [str(e)[:200] for e in (_get(topic, "examples", "representative_docs", default=()) or ())]
    return Theme(theme_id=tid, label=label[:120],
                 definition="Emergent theme from the topic model: "
                            + (", ".join(map(str, kw[:8])) or label) + ".",
                 include=tuple(ex[:3]))


def _add(project, topic: Any) -> None:
    cb = project.store.active_codebook()
    theme = theme_from_topic(topic, cb.theme_ids)
    new = save_codebook_version(project.store, replace(cb, themes=(*cb.themes, theme)))
    state.flash(f"Added theme {theme.label!r} ({theme.theme_id}): codebook v{new.version}.")


def render() -> None:
    """The Topics page."""
    st.title("Topics")
    project = widgets.require_project()
    widgets.show_flashes()
    result, why = load(project)
    if result is None:
        st.info(why)
        return
    topics = list(_get(result, "topics", default=result) or [])
    if not topics:
        st.info("The topic model found no topics.")
        return
    rows = [{"topic": str(_get(t, "label", "name", "title", default=i)),
             "size": int(_get(t, "size", "count", "n", default=0) or 0),
             "keywords": ", ".join(str(w[0] if isinstance(w, (tuple, list)) else w)
                                   for w in (_get(t, "keywords", "words", default=()) or ())[:8]),
             "emergent": bool(_get(t, "emergent", "is_emergent", default=False)),
             "x": _get(t, "x"), "y": _get(t, "y")} for i, t in enumerate(topics)]
    if all(r["x"] is not None and r["y"] is not None for r in rows):
        import plotly.express as px

        st.plotly_chart(px.scatter(rows, x="x", y="y", size="size", hover_name="topic",
                                   hover_data=["keywords"], color="emergent"),
                        width="stretch")
    st.dataframe([{k: v for k, v in r.items() if k not in ("x", "y")} for r in rows],
                 hide_index=True)
    st.subheader("Emergent themes")
    shown = [(t, r) for t, r in zip(topics, rows) if r["emergent"]] or list(zip(topics, rows))
    for i, (t, r) in enumerate(shown[:20]):
        with st.expander(f"{i + 1}. " + widgets.escape_md(r["topic"]) + f" ({r['size']})"):
            for ex in list(_get(t, "examples", "representative_docs", default=()) or [])[:3]:
                widgets.quote(str(ex))
            st.button("Add to codebook", key=f"topic_add:{i}", on_click=_add, args=(project, t))


if __name__ == "__main__":
    render()
