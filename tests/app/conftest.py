"""Fixtures for the review app tests: a small project with model suggestions (no ML models)."""
from __future__ import annotations

import pytest

from appdata import APP, make_project


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "proj")
    yield p
    p.close()


@pytest.fixture
def app_at(project):
    """app_at(page, coder="ana") -> a run AppTest on that page of app.py over `project`."""
    from streamlit.testing.v1 import AppTest

    def _make(page: str | None = None, *, coder: str | None = "ana", run: bool = True):
        at = AppTest.from_file(str(APP), default_timeout=30)
        at.session_state["project_root"] = str(project.root)
        at.session_state["refresh_every"] = 0
        if coder:
            at.session_state["coder"] = coder
        at.run()
        if page:
            at.switch_page(f"nlp/app/ui/pages/{page}.py")
            at.run()
        return at

    return _make
