"""App: shared widgets: user text shown safely, the project and coder guards, the sidebar."""
from __future__ import annotations

import hmac
import logging
import os
import re
import time
from pathlib import Path
from typing import NoReturn

import streamlit as st

from ... import errors
from ...fsio import read_input
from ...project import Project
from ...store.review import list_coders
from ...types import Codebook
from . import jobs, state

log = logging.getLogger(__name__)

# Every ASCII punctuation mark, backslash-escaped, renders as itself in CommonMark; this also
# defuses Streamlit's own Markdown extensions (:red[..], :material/..:, $math$).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=&\"'^%@,;/?])")


def escape_md(text: str) -> str:
    """`text` as Markdown that shows exactly its characters: no links, images, HTML,
    emphasis, math or colour directives; line breaks kept."""
    esc = _MD_SPECIAL.sub(r"\\\1", str(text))
    return "  \n".join(esc.splitlines()) if "\n" in esc else esc


def text(value: str, *, caption: bool = False) -> None:
    """Show user text (an answer, a name, a label from a file) as plain text."""
    (st.caption if caption else st.markdown)(escape_md(value))


def quote(value: str) -> None:
    """An answer in a bordered box, as plain text."""
    with st.container(border=True):
        st.markdown(escape_md(value))


def stop() -> NoReturn:
    st.stop()
    raise RuntimeError("unreachable")  # st.stop raises; keeps type checkers honest


def show_flashes() -> None:
    for kind, msg in state.pop_flashes():
        getattr(st, kind if kind in ("success", "info", "warning", "error") else "info")(
            escape_md(msg))


def require_project() -> Project:
    """The session's project, or a pointer to the Project page (and the page stops)."""
    try:
        p = state.project()
    except errors.NlpError as exc:
        st.error(escape_md(str(exc)))
        stop()
    if p is None:
        st.info("No project open. Open or create one on the **Project** page.")
        st.page_link("nlp/app/ui/pages/project.py", label="Go to Project")
        stop()
    return p


def require_coder() -> str:
    """The coder's name, or a prompt for it in the sidebar (and the page stops)."""
    name = state.coder()
    if not name:
        st.warning("Type your name in the sidebar (**Who is coding?**) first: every "
                   "decision records its coder.")
        stop()
    return name


PASSWORD_ENV = "NLP_APP_PASSWORD"
PASSWORD_FILE_ENV = "NLP_APP_PASSWORD_FILE"


def configured_password() -> str | None:
    """The app's password: the first line of $NLP_APP_PASSWORD_FILE, else $NLP_APP_PASSWORD;
    None when neither is set (the app is then open to whoever can reach it).

    Raises:
        SettingsError: the password file is named but unreadable or empty (the app stays shut).
    """
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            lines = read_input(path, limit=1 << 16, what="password file").decode(
                "utf-8").splitlines()
        except (errors.InputError, UnicodeDecodeError) as exc:
            raise errors.bad_setting(PASSWORD_FILE_ENV, f"a readable file ({exc})") from None
        if not lines or not lines[0].strip():
            raise errors.bad_setting(PASSWORD_FILE_ENV, "a file whose first line is the "
                                     "password (it is empty)")
        return lines[0].strip()
    return os.environ.get(PASSWORD_ENV) or None


def password_gate() -> None:
    """When a password is configured, show nothing else until this browser session gives it
    (compared in constant time; a wrong one costs a second, to slow guessing)."""
    try:
        expected = configured_password()
    except errors.NlpError as exc:
        st.error(escape_md(str(exc)))
        stop()
    if expected is None or state.unlocked():
        return
    st.title("consultation-nlp review")
    with st.form("password_form", clear_on_submit=True):
        given = st.text_input("Password", type="password", key="password_box")
        submitted = st.form_submit_button("Open")
    if submitted:
        if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            state.unlock()
            st.rerun()
        time.sleep(1.0)
        st.error("Wrong password.")
    stop()


def theme_labels(codebook: Codebook) -> dict[str, str]:
    return {t.theme_id: t.label for t in codebook.themes}


def label_of(codebook: Codebook, theme_id: str) -> str:
    return theme_labels(codebook).get(theme_id, theme_id)


def sidebar() -> None:
    """Who is coding, which project, and whether the model is refreshing."""
    with st.sidebar:
        known: list[str] = []
        p = None
        try:
            p = state.project()
        except errors.NlpError:
            pass
        if p is not None:
            known = list_coders(p.store)
        st.text_input("Who is coding?", value=state.coder() or "", key="coder_box",
                      on_change=state.coder_box_changed, placeholder="your name",
                      help="Kept in the address bar (?coder=...): bookmark it. "
                           + (escape_md(f"Known coders: {', '.join(known)}.") if known else ""))
        st.toggle("Blind mode (double coding)", value=state.blind(), key="blind_box",
                  on_change=state.blind_box_changed,
                  help="Show only the model's suggestions and your own decisions, not other "
                       "coders', so a second coding stays independent. Kept in the address "
                       "bar (?blind=1).")
        if p is not None:
            st.caption("Project: " + escape_md(str(p.root)))
            job = jobs.get(str(p.root))
            if job is not None and job.running:
                st.caption(f"Model: {job.kind} running ({job.elapsed:.0f} s)")
            elif job is not None and job.error:
                st.caption("Model: last run failed: " + escape_md(job.error))
        addr = st.get_option("server.address")
        if addr not in ("127.0.0.1", "localhost", "::1"):
            try:
                open_to_all = configured_password() is None
            except errors.NlpError:
                open_to_all = False
            st.caption(f"⚠ Listening on {escape_md(addr or 'every network interface')}: "
                       "others on the network may open this app. `nlp app` keeps it on this "
                       "computer." + (" No password is set (NLP_APP_PASSWORD_FILE): put it "
                                      "behind your server's login." if open_to_all else ""))


def job_progress(key: str, kind: str, *, running: str, failed: str,
                 rate: float = 100.0) -> "jobs.Job | None":
    """Draw a background job's bar while it runs (`running` may use {total} and {elapsed}) or
    its error; returns the job once it has finished without one."""
    job = jobs.get(key)
    if job is None or job.kind != kind:
        return None
    if job.running:
        st.progress(jobs.estimate(job, rate=rate),
                    text=running.format(total=f"{job.total:,}", elapsed=f"{job.elapsed:.0f}"))
        return None
    if job.error:
        st.error(escape_md(f"{failed}: {job.error}"))
        return None
    return job


def blind_notice(what: str) -> bool:
    """In blind mode, say why a page that shows other coders' work is closed; True then."""
    if not state.blind():
        return False
    st.info(f"Blind mode is on: this page {what} every coder's decisions. Switch blind mode off "
            "in the sidebar when your coding is done.")
    return True
