"""App: the review app (`streamlit run app.py -- --project DIR`, or `nlp app DIR`)."""
import os
from pathlib import Path

import streamlit as st

from nlp.app.ui import state
from nlp.app.ui.widgets import password_gate, sidebar

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PAGES = Path(__file__).resolve().parent / "nlp" / "app" / "ui" / "pages"
REVIEW = st.Page(PAGES / "review.py", title="Review queue", url_path="review")


def _home() -> None:
    # Streamlit serves the default page at "/" only; a hidden home page that forwards to the
    # review queue gives every visible page its own address (/review, /themes...).
    st.switch_page(REVIEW, query_params=state.url_params())


st.set_page_config(page_title="consultation-nlp review", layout="wide")
password_gate()  # when $NLP_APP_PASSWORD(_FILE) is set, nothing below runs until it is given
state.keep_coder()
state.keep_blind()
nav = st.navigation([
    st.Page(_home, title="Start", url_path="start", default=True, visibility="hidden"),
    st.Page(PAGES / "project.py", title="Project", url_path="project"),
    REVIEW,
    st.Page(PAGES / "themes.py", title="Themes", url_path="themes"),
    st.Page(PAGES / "topics.py", title="Topics", url_path="topics"),
    st.Page(PAGES / "codebook.py", title="Codebook", url_path="codebook"),
    st.Page(PAGES / "agreement.py", title="Agreement", url_path="agreement"),
    st.Page(PAGES / "export.py", title="Export", url_path="export"),
])
sidebar()
nav.run()
