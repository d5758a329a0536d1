"""The coder's name from the app's URL (issue 25, class 7): `?coder=ev%01il%1b]0;PWNED%07` is
cleaned as import cleans text before anything is stored or shown, and the URL keeps the clean
name."""
from __future__ import annotations

import sqlite3

from appdata import APP

RAW = "ev\x01il\x1b]0;PWNED\x07"
CLEAN = "evil]0;PWNED"


def test_coder_from_the_url_is_stored_clean(project):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["coder"] = RAW
    at.session_state["project_root"] = str(project.root)
    at.session_state["refresh_every"] = 0
    at.run()
    assert at.query_params["coder"] == CLEAN
    assert at.text_input(key="coder_box").value == CLEAN
    t = project.store.active_codebook().theme_ids
    at.button(key=f"acc:a4:{t[3]}").click().run()
    assert {(c.response_id, c.theme_id) for c in project.store.codings(coder=CLEAN)} == \
        {("a4", t[3])}
    con = sqlite3.connect(project.root / "project.db")
    try:
        assert con.execute("SELECT DISTINCT coder FROM codings WHERE coder != 'model'"
                           ).fetchall() == [(CLEAN,)]
        assert con.execute("SELECT DISTINCT actor FROM events WHERE actor != 'model'"
                           ).fetchall() == [(CLEAN,)]
    finally:
        con.close()
