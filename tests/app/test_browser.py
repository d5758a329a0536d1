"""End to end in a real headless Chromium: start the server, relabel an answer by clicking,
check the database and a screenshot. Set NLP_DOCS_SCREENSHOTS=1 to also refresh
docs/img/app-*.png."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from appdata import REPO, make_demo_project

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, child: subprocess.Popen, timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if child.poll() is not None:
            raise RuntimeError(f"the app server exited with {child.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no app at {url} after {timeout} s")


@pytest.fixture
def server(tmp_path):
    from nlp.app.server import app_command

    project = make_demo_project(tmp_path / "vcs-commissioning")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("NLP_APP_HOST", None)
    log = (tmp_path / "server.log").open("w")
    child = subprocess.Popen(app_command(project.root, port=port), env=env, cwd=tmp_path,
                             stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, child)
        yield url, project
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()
        project.close()


def test_relabel_by_clicking_in_chromium(server, tmp_path):
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: apt-get install -y chromium"
    from playwright import sync_api
    url, project = server
    store = project.store
    assert not store.codings(coder="ana")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}/?coder=ana", wait_until="domcontentloaded")  # Review: the default
        page.get_by_text("answers in this queue").wait_for(timeout=60_000)
        rid = page.evaluate("() => new URL(location.href).searchParams.get('item')")
        assert rid
        page.get_by_role("button", name="Accept", exact=True).first.click()
        deadline = time.time() + 20
        while time.time() < deadline and not store.codings(coder="ana"):
            time.sleep(0.2)
        [c] = store.codings(coder="ana")
        assert (c.response_id, c.status) == (rid, "accepted")
        page.get_by_text("you: accepted").first.wait_for(timeout=20_000)
        shot = tmp_path / "review.png"
        page.screenshot(path=str(shot), full_page=True)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        if os.environ.get("NLP_DOCS_SCREENSHOTS"):
            out = REPO / "docs" / "img"
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, out / "app-review.png")
            page.goto(f"{url}/themes?coder=ana", wait_until="domcontentloaded")
            page.get_by_text("Quotes under a theme").wait_for(timeout=60_000)
            page.wait_for_timeout(3000)  # let the charts draw
            page.screenshot(path=str(out / "app-themes.png"), full_page=True)
        browser.close()


def _wait_db(check, timeout: float = 20.0):
    """Poll the database until `check()` is truthy (the click's rerun runs in the server)."""
    end = time.time() + timeout
    while True:
        got = check()
        if got or time.time() > end:
            return got
        time.sleep(0.2)


def _param(page, name: str):
    return page.evaluate(f"() => new URL(location.href).searchParams.get({name!r})")


def test_coder_survives_navigation_and_refresh(server):
    from playwright import sync_api
    url, project = server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{url}/?coder=ana", wait_until="domcontentloaded")
        page.get_by_text("answers in this queue").wait_for(timeout=60_000)
        assert page.url.split("?")[0].endswith("/review")
        for title, marker in (("Themes", "Quotes under a theme"), ("Agreement", "Agreement"),
                              ("Review queue", "answers in this queue")):
            page.get_by_role("link", name=title, exact=True).click()
            page.get_by_text(marker).first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => new URL(location.href).searchParams.get('coder') === 'ana'",
                timeout=20_000)
            assert page.get_by_text("Type your name in the sidebar").count() == 0
        # a refresh after changing page keeps the coder
        page.get_by_role("link", name="Agreement", exact=True).click()
        page.wait_for_function("() => location.pathname.endsWith('/agreement')")
        page.wait_for_function(
            "() => new URL(location.href).searchParams.get('coder') === 'ana'", timeout=20_000)
        page.reload(wait_until="domcontentloaded")
        page.get_by_text("Disagreements").first.wait_for(timeout=60_000)
        assert page.get_by_text("Type your name in the sidebar").count() == 0
        # a typed name survives a page change and a refresh too
        page.goto(f"{url}/export", wait_until="domcontentloaded")
        box = page.get_by_role("textbox", name="Who is coding?")
        box.wait_for(timeout=60_000)
        box.fill("Bea")
        box.press("Enter")
        page.wait_for_function(
            "() => new URL(location.href).searchParams.get('coder') === 'Bea'", timeout=20_000)
        page.get_by_role("link", name="Review queue", exact=True).click()
        page.get_by_text("answers in this queue").wait_for(timeout=60_000)
        page.reload(wait_until="domcontentloaded")
        page.get_by_text("answers in this queue").wait_for(timeout=60_000)
        assert _param(page, "coder") == "Bea"
        assert page.get_by_text("reviewed by Bea").count() == 1
        browser.close()
