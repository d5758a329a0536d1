"""App: the one module that touches st.session_state and st.query_params (who is coding,
which project, where the reviewer is in the queue), and the cached project handles."""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from ...project import Project, open_project
from ...store.review import QueueFilter, QueueItem
from ...text.clean import clean_text

log = logging.getLogger(__name__)

DEFAULT_REFRESH_EVERY = 20  # decisions between background refreshes of the suggestions


def _argv_project(argv: list[str]) -> str | None:
    """`--project DIR` from the arguments after `streamlit run app.py --`."""
    for i, a in enumerate(argv):
        if a == "--project" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--project="):
            return a.split("=", 1)[1]
    return None


# -- the project ----------------------------------------------------------------------------
def project_root() -> str | None:
    """The project this session works on: chosen on the Project page, else `--project`,
    else $NLP_PROJECT."""
    root = st.session_state.get("project_root")
    return root or _argv_project(sys.argv[1:]) or os.environ.get("NLP_PROJECT") or None


def set_project_root(root: str | Path) -> None:
    st.session_state["project_root"] = str(Path(root).resolve())
    reset_queue()


@st.cache_resource(show_spinner=False)
def _open(root: str) -> Project:
    log.info("opening project %s", root)
    return open_project(root)


def project() -> Project | None:
    """The session's project (opened once per server process and shared), or None.

    Raises:
        ProjectError: the folder holds no project.
    """
    root = project_root()
    return _open(str(Path(root).resolve())) if root else None


def forget_project(root: str) -> None:
    """Drop a cached project handle (after creating one in a folder that had none)."""
    _open.clear(str(Path(root).resolve()))


# -- who is coding ------------------------------------------------------------------------------
def coder() -> str | None:
    """The researcher coding in this browser tab: kept in the session and in the URL
    (?coder=NAME), so a page refresh or a bookmark remembers it. Cleaned as the store keeps
    it (a "%1b" in the URL is no part of a name), so the page's coder is the stored one."""
    name = st.session_state.get("coder") or st.query_params.get("coder")
    name = clean_text(name).strip() if isinstance(name, str) else ""
    return name or None


def keep_coder() -> str | None:
    """Run first on every page: take the coder from the URL into the session (a bookmark,
    a refresh) and put the session's coder back into the URL (moving to another page in the
    sidebar drops the query string), so every page knows who is coding and a refresh on any
    page still does."""
    name = coder()
    if name:
        st.session_state["coder"] = name
        if st.query_params.get("coder") != name:
            st.query_params["coder"] = name
    return name


def set_coder(name: str) -> None:
    name = clean_text(name).strip()
    st.session_state["coder"] = name
    if name:
        st.query_params["coder"] = name
    elif "coder" in st.query_params:
        del st.query_params["coder"]


def coder_box_changed() -> None:
    """on_change of the sidebar's coder box (its widget key is "coder_box")."""
    set_coder(st.session_state.get("coder_box", ""))


# -- blind double coding ------------------------------------------------------------------------
def blind() -> bool:
    """Blind mode: this coder sees the model's suggestions and their own decisions only (kept
    in the URL as ?blind=1, like the coder, so a bookmark opens a blind session)."""
    if "blind" not in st.session_state:
        st.session_state["blind"] = st.query_params.get("blind") == "1"
    return bool(st.session_state["blind"])


def set_blind(on: bool) -> None:
    st.session_state["blind"] = bool(on)
    if on:
        st.query_params["blind"] = "1"
    elif "blind" in st.query_params:
        del st.query_params["blind"]


def blind_box_changed() -> None:
    """on_change of the sidebar's blind-mode toggle (its widget key is "blind_box")."""
    set_blind(bool(st.session_state.get("blind_box")))


def keep_blind() -> None:
    """Put blind mode back into the URL after a page change dropped the query string."""
    if blind() and st.query_params.get("blind") != "1":
        st.query_params["blind"] = "1"


# -- what a decision on the card applies to ------------------------------------------------------
def sentence_scope() -> bool:
    """Whether the card's decisions code the picked sentences (else the whole answer)."""
    return bool(st.session_state.get("sentence_scope"))


def toggle_sentence_scope() -> None:
    st.session_state["sentence_scope"] = not sentence_scope()


# -- card or list -----------------------------------------------------------------------------
def view() -> str:
    """How the Review page shows the queue: "card" (one answer) or "list"."""
    return st.session_state.get("review_view") or "card"


def set_view(name: str) -> None:
    st.session_state["review_view"] = name if name in ("card", "list") else "card"
    st.session_state["view_box"] = st.session_state["review_view"]


def init_view_box() -> None:
    """Give the view switch (key "view_box") the session's view before it is first drawn."""
    if "view_box" not in st.session_state:
        st.session_state["view_box"] = view()


def view_box_changed() -> None:
    """on_change of the Review page's view switch (its widget key is "view_box")."""
    set_view(st.session_state.get("view_box") or "card")


# -- the review queue ---------------------------------------------------------------------------
def queue_filter() -> QueueFilter:
    return st.session_state.get("queue_filter") or QueueFilter()


def set_queue_filter(flt: QueueFilter) -> None:
    if flt != queue_filter():
        st.session_state["queue_filter"] = flt
        reset_queue(keep_filter=True)


def widget(key: str, default: Any = None) -> Any:
    """The current value of a keyed widget (for on_change callbacks)."""
    return st.session_state.get(key, default)


def set_widget(key: str, value: Any) -> None:
    """Set a keyed widget's value (in a callback, before the widget is drawn again)."""
    st.session_state[key] = value


def reset_widget(key: str) -> None:
    """Forget a keyed widget's value (in a callback): it is drawn again with its default."""
    st.session_state.pop(key, None)


def url_params() -> dict[str, str]:
    """The query string, to carry along when one page forwards to another."""
    return dict(st.query_params)


def filter_changed(field: str, key: str) -> None:
    """on_change of a filter widget: copy its value into the queue filter."""
    value: Any = st.session_state.get(key)  # the widget's: a QueueFilter field's value
    if isinstance(value, str) and field not in ("text",):
        value = value or None
    if field == "band":
        lo, hi = value if value else (0.0, 1.0)
        flt = replace(queue_filter(), min_confidence=None if lo <= 0 and hi >= 1 else lo,
                      max_confidence=None if lo <= 0 and hi >= 1 else hi)
    else:
        flt = replace(queue_filter(), **{field: value})
    set_queue_filter(flt)


def current() -> QueueItem | None:
    return st.session_state.get("queue_current")


def current_id() -> str | None:
    """The response on screen, or the one named in the URL (?item=ID) after a refresh."""
    item = current()
    if item is not None:
        return item.response_id
    rid = st.query_params.get("item")
    return rid if isinstance(rid, str) and rid else None


def show(item: QueueItem | None, *, remember: bool = True) -> None:
    """Put `item` on screen; the one it replaces goes on the history for "previous"."""
    old = current()
    if remember and old is not None and (item is None or old.response_id != item.response_id):
        st.session_state.setdefault("queue_history", []).append(old)
    st.session_state["queue_current"] = item
    st.session_state["queue_end"] = item is None
    if item is not None:
        st.query_params["item"] = item.response_id
    elif "item" in st.query_params:
        del st.query_params["item"]


def keep_item() -> None:
    """Put the answer on screen back into the URL after a page change dropped it (so a
    refresh reopens it)."""
    item = current()
    if item is not None and st.query_params.get("item") != item.response_id:
        st.query_params["item"] = item.response_id


def at_end() -> bool:
    return bool(st.session_state.get("queue_end"))


def pop_history() -> QueueItem | None:
    hist = st.session_state.get("queue_history") or []
    return hist.pop() if hist else None


def has_history() -> bool:
    return bool(st.session_state.get("queue_history"))


def reset_queue(*, keep_filter: bool = False) -> None:
    for k in ("queue_current", "queue_history", "queue_end"):
        st.session_state.pop(k, None)
    if not keep_filter:
        st.session_state.pop("queue_filter", None)
    if "item" in st.query_params:
        del st.query_params["item"]


# -- background refresh of the suggestions --------------------------------------------------------
def refresh_every() -> int:
    """Decisions between automatic refreshes (0: only on demand)."""
    return int(st.session_state.get("refresh_every", DEFAULT_REFRESH_EVERY))


def set_refresh_every(n: int) -> None:
    st.session_state["refresh_every"] = max(0, int(n))


def refresh_every_changed() -> None:
    """on_change of the "refresh every" box (its widget key is "f_refresh")."""
    set_refresh_every(st.session_state.get("f_refresh") or 0)


def count_decision() -> bool:
    """Count one decision; True when it is time to refresh the model's suggestions."""
    n = int(st.session_state.get("decisions_since_refresh", 0)) + 1
    every = refresh_every()
    due = every > 0 and n >= every
    st.session_state["decisions_since_refresh"] = 0 if due else n
    return due


# -- the optional password ------------------------------------------------------------------------
def unlocked() -> bool:
    """Whether this browser session has given the app's password."""
    return bool(st.session_state.get("password_ok"))


def unlock() -> None:
    st.session_state["password_ok"] = True


# -- messages that survive the rerun a button causes ----------------------------------------------
def flash(message: str, kind: str = "success") -> None:
    st.session_state.setdefault("flashes", []).append((kind, message))


def pop_flashes() -> list[tuple[str, str]]:
    out = st.session_state.get("flashes") or []
    st.session_state["flashes"] = []
    return out


def remember(key: str, value: Any) -> None:
    """Keep a page's own value (an import summary, a chosen theme) for the next rerun."""
    st.session_state[f"page:{key}"] = value


def recall(key: str, default: Any = None) -> Any:
    return st.session_state.get(f"page:{key}", default)
