"""End to end in a real headless Chromium: start the server, accept by a click, reject by a key,
check the database and a screenshot; the coder kept across pages and refreshes; a whole coding
session. Set NLP_DOCS_SCREENSHOTS=1 to also refresh docs/img/app-{review,list,themes}.png."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from appdata import REPO, make_demo_project

from nlp.app.server import stop

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
        stop(child)
        log.close()
        project.close()


def test_accept_by_click_reject_by_key_in_chromium(server, tmp_path):
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
        _idle(page)
        page.get_by_role("button", name="Accept Shortcut 1").click()  # the first theme's
        deadline = time.time() + 20
        while time.time() < deadline and not store.codings(coder="ana"):
            time.sleep(0.2)
        [c] = store.codings(coder="ana")
        assert (c.response_id, c.status) == (rid, "accepted")
        page.get_by_text("you: accepted").first.wait_for(timeout=20_000)
        # the same theme rejected by its key (Alt + its number), then N: the next answer
        page.get_by_role("heading", name="Review queue").click()
        _press(page, "Alt+1", "you: rejected")
        [c] = store.codings(coder="ana")
        assert (c.response_id, c.status) == (rid, "rejected")
        _idle(page)
        page.keyboard.press("n")
        page.wait_for_function(
            f"() => new URL(location.href).searchParams.get('item') !== {rid!r}",
            timeout=20_000)
        shot = tmp_path / "review.png"
        page.screenshot(path=str(shot), full_page=True)
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        if os.environ.get("NLP_DOCS_SCREENSHOTS"):
            out = REPO / "docs" / "img"  # app-review.png: test_a_coding_session_in_chromium
            out.mkdir(parents=True, exist_ok=True)
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


def _choose(page, label: str, option: str) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`."""
    opt = page.get_by_test_id("stSelectboxVirtualDropdown").get_by_role(
        "option", name=option, exact=True)
    for _ in range(5):  # a rerun that lands during the click closes the list: open it again
        page.get_by_role("combobox", name=label).click()
        try:
            opt.wait_for(timeout=5_000)
        except Exception:  # playwright's TimeoutError
            page.keyboard.press("Escape")
            continue
        opt.click()
        return
    raise AssertionError(f"no option {option!r} in {label!r}")


def _ready(page, text: str, timeout: float = 60_000):
    page.get_by_text(text).first.wait_for(timeout=timeout)
    _idle(page)


def _idle(page, timeout: float = 60_000) -> None:
    """Wait until the app has finished its rerun (no "Running" indicator, no stale
    elements), so a key press or click lands on the page as drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid^=\"stStatusWidgetRunning\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')", timeout=timeout)
    page.wait_for_timeout(300)  # the shortcut listeners attach just after the draw


def _press(page, key: str, expect: str, timeout: float = 20_000) -> None:
    """Press a shortcut until `expect` shows (a press during a rerun can be lost)."""
    end = time.time() + timeout / 1000
    while True:
        _idle(page)
        page.keyboard.press(key)
        try:
            page.get_by_text(expect).first.wait_for(timeout=5_000)
            _idle(page)
            return
        except Exception:  # playwright's TimeoutError
            if time.time() > end:
                raise


def _press_db(page, key: str, done, unchanged, tries: int = 3) -> None:
    """Press a shortcut that writes to the database until `done()` holds. The press waits for
    the rerun of the last click to finish (a press during a rerun is lost) and is repeated
    only while the database is still as it was, so a slow write is never applied twice."""
    for _ in range(tries):
        _idle(page)
        page.get_by_role("heading", name="Review queue").click()  # focus off any widget
        page.keyboard.press(key)
        if _wait_db(done, timeout=10.0):
            return
        if not unchanged():
            break
    assert done(), f"the {key!r} shortcut did not reach the database"


def test_a_coding_session_in_chromium(server, tmp_path):
    """The Done-when walk: bookmark with the coder, every page, a sentence coded by keyboard,
    a relabel and its one undo, the theme filter with the default status, a memo, an export;
    the database checked after each step."""
    import csv

    from playwright import sync_api

    from nlp.app.ui import card
    from nlp.store import memos as mm
    from nlp.store import review as rv
    from nlp.types import MODEL_CODER

    url, project = server
    store = project.store
    cb = store.active_codebook()

    def ana():
        return {(c.response_id, c.theme_id): (c.status, c.spans)
                for c in store.codings(coder="ana")}

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        # 1. the bookmark: the review queue, the coder known
        page.goto(f"{url}/?coder=ana", wait_until="domcontentloaded")
        _ready(page, "answers in this queue")
        assert page.url.split("?")[0].endswith("/review") and _param(page, "coder") == "ana"
        assert ana() == {}
        # 2. every page, the coder kept
        for title, marker in (("Project", "Responses"), ("Themes", "Quotes under a theme"),
                              ("Topics", "Topics"), ("Codebook", "Codebook"),
                              ("Agreement", "Disagreements"), ("Export", "Prepare the export"),
                              ("Review queue", "answers in this queue")):
            page.get_by_role("link", name=title, exact=True).click()
            _ready(page, marker)
            page.wait_for_function(
                "() => new URL(location.href).searchParams.get('coder') === 'ana'",
                timeout=20_000)
            assert page.get_by_text("Type your name in the sidebar").count() == 0, title
        assert ana() == {}
        # 3. a sentence coded by keyboard: S (sentence scope, the model's evidence sentence
        # preselected), then 1 (accept the top theme on it)
        page.wait_for_function("() => new URL(location.href).searchParams.get('item')")
        rid = _param(page, "item")
        item = rv.find_item(store, rid)
        ctx = rv.review_context(store, item)
        rows = card.theme_rows(ctx, cb, "ana")
        top = rows[0].theme_id
        evidence = ctx.spans[top][MODEL_CODER]
        page.get_by_role("heading", name="Review queue").click()  # focus off any text box
        _press(page, "s", "Sentences to code")
        _press_db(page, "1", lambda: (rid, top) in ana(), unchanged=lambda: ana() == {})
        assert ana() == {(rid, top): ("accepted", evidence)}
        _ready(page, "Green: sentences you coded", 20_000)
        # 4. relabel (one action) and one undo takes all of it back
        other = next(t for t in cb.theme_ids if t != top and t not in ctx.decisions)
        _choose(page, "Move to", cb.theme(other).label)
        page.get_by_role("button", name="Move").click()
        assert _wait_db(lambda: ana().get((rid, other), ("",))[0] == "accepted")
        assert ana() == {(rid, top): ("rejected", ()), (rid, other): ("accepted", evidence)}
        before = ana()
        _press_db(page, "u", lambda: (rid, other) not in ana(), unchanged=lambda: ana() == before)
        assert ana() == {(rid, top): ("accepted", evidence)}
        # 5. the theme filter with the default status ("Not yet reviewed")
        theme = "subsidising_contracts"
        flt = rv.QueueFilter(theme_id=theme)
        want = rv.queue_count(store, flt)
        unfiltered = rv.queue_count(store, rv.QueueFilter())
        assert 0 < want < unfiltered
        page.get_by_text("Queue and filters").click()
        _choose(page, "Theme", cb.theme(theme).label)
        _ready(page, f"{want} answers in this queue", 30_000)
        page.wait_for_function("() => new URL(location.href).searchParams.get('item')")
        shown = _param(page, "item")
        shown_ctx = rv.review_context(store, rv.find_item(store, shown))
        assert shown_ctx.decisions[theme] == {MODEL_CODER: "suggested"}  # open suggestion
        # 6. a memo on the answer on screen
        page.get_by_text("Memos on this answer").first.click()
        page.get_by_role("textbox", name="New memo").fill("Reserves: subsidy, not a grant")
        page.get_by_role("button", name="Save memo").click()
        assert _wait_db(lambda: mm.list_memos(store, "answer", shown))
        [memo] = mm.list_memos(store, "answer", shown)
        assert (memo.author, memo.text) == ("ana", "Reserves: subsidy, not a grant")
        _ready(page, "Memos on this answer (1)", 20_000)
        # 7. an export: the CSV holds ana's coding
        page.get_by_role("link", name="Export", exact=True).click()
        _ready(page, "Prepare the export")
        page.get_by_text("Anonymise (replace names").click()  # untick: compare the text
        page.get_by_role("button", name="Prepare the export").click()
        _ready(page, "Download coded_quotes", 60_000)
        [path] = (project.root / "exports").glob("coded_quotes_wide_*.csv")
        with path.open(encoding="utf-8-sig") as f:  # Excel-friendly BOM
            table = {r["response_id"]: r for r in csv.DictReader(f)}
        assert table[rid][f"theme:{top}"] == "accepted"
        assert "ana=accepted" in table[rid][f"coders:{top}"]
        page.get_by_text("one row per coding").click()  # the long layout carries the spans
        page.get_by_role("button", name="Prepare the export").click()
        _ready(page, "Download coded_quotes_long", 60_000)
        [path] = (project.root / "exports").glob("coded_quotes_long_*.csv")
        with path.open(encoding="utf-8-sig") as f:
            [row] = [r for r in csv.DictReader(f) if r["response_id"] == rid
                     and r["coder"] == "ana" and r["theme_id"] == top]
        assert (int(row["span_start"]), int(row["span_end"])) == evidence[0]
        if os.environ.get("NLP_DOCS_SCREENSHOTS"):
            _screenshots(page, url, rid)
        browser.close()


def _screenshots(page, url: str, rid: str) -> None:
    """README screenshots: the review card and the list view (small PNGs)."""
    out = REPO / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 1750})  # the app scrolls inside
    page.goto(f"{url}/review?coder=ana&item={rid}", wait_until="domcontentloaded")
    _ready(page, "answers in this queue")
    page.get_by_role("heading", name="Review queue").click()
    _press(page, "s", "Sentences to code")
    _still(page)
    page.screenshot(path=str(out / "app-review.png"))
    _small_png(out / "app-review.png")
    page.set_viewport_size({"width": 1200, "height": 900})
    page.get_by_text("List", exact=True).click()
    _ready(page, "Accept on selected", 20_000)
    page.get_by_text("Queue and filters").click()
    page.get_by_role("textbox", name="Search the answers").fill("contract")
    page.keyboard.press("Enter")
    _ready(page, "search hits in bold", 20_000)
    page.get_by_text("Queue and filters").click()
    for i in (1, 2):
        page.get_by_test_id("stCheckbox").nth(i).click()
        _idle(page)
    _still(page)
    page.screenshot(path=str(out / "app-list.png"))
    _small_png(out / "app-list.png")


def _small_png(path: Path) -> None:
    """A palette PNG: the README's screenshots stay small in the repository."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=96)
    small.save(path, optimize=True)


def _still(page) -> None:
    """No focus ring or hover decoration in a screenshot."""
    _idle(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.move(1, 890)
    page.wait_for_timeout(800)
