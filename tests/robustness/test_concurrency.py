"""Two reviewer processes relabelling the same project at once (SQLite in WAL mode, and a
PostgreSQL server the test starts on localhost): every relabel either process made is in the
event log, the log's before/after chain has no gaps, and the final codings equal the replay
of the log. Duration per database: $NLP_CONCURRENCY_SECONDS (default 30).
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

from harness import BASE_ENV, REPO
from hostile_files import answers_csv

pytestmark = pytest.mark.slow

SECONDS = min(float(os.environ.get("NLP_CONCURRENCY_SECONDS", "30")), 600)
WORKER = Path(__file__).with_name("relabel_worker.py")


def make_project(root: Path, db_url: str | None = None) -> str:
    from nlp.pipeline import import_file
    from nlp.project import init_project

    p = init_project(root, db_url=db_url)
    csv = root / "answers.csv"
    csv.write_bytes(answers_csv(40))
    import_file(p.store, csv)
    url = p.db_url
    p.close()
    return url


def run_reviewers(url: str, tmp: Path, n: int = 2) -> list[dict]:
    start_at = time.time() + 3  # both start relabelling at the same moment, imports done
    procs = [subprocess.Popen([sys.executable, str(WORKER), url, str(w), str(start_at),
                               str(SECONDS), str(tmp / f"w{w}.json")], cwd=REPO, env=BASE_ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(n)]
    for p in procs:
        out, err = p.communicate(timeout=SECONDS + 180)
        assert p.returncode == 0, err
    return [json.loads((tmp / f"w{w}.json").read_text()) for w in range(n)]


def check_nothing_lost(url: str, results: list[dict], label: str) -> dict:
    from nlp.store import Store

    errors_ = [e for r in results for e in r["errors"]]
    assert not errors_, f"{len(errors_)} relabels failed: {errors_[:5]}"
    store = Store(url)
    try:
        events = store.events()
        # 1. every tagged decision a reviewer made is in the log, exactly once
        logged = [e["after"]["confidence"] for e in events
                  if e["action"] == "set" and e["after"] and
                  (e["after"].get("confidence") or 0) >= 1]
        made = [t for r in results for t in r["tags"]]
        assert sorted(logged) == sorted(made), "a relabel is missing from the event log"
        assert sum(e["action"] == "clear" for e in events) == sum(r["clears"] for r in results)
        assert sum(e["action"] == "undo" for e in events) == sum(r["undone"] for r in results)
        # 2. each coding's history is a chain: every change starts where the last one ended
        last: dict[tuple, dict | None] = defaultdict(lambda: None)
        for e in events:
            key = (e["response_id"], e["theme_id"], e["coder"])
            assert e["before"] == last[key], f"event {e['id']} lost an earlier change of {key}"
            last[key] = e["after"]
        # 3. the final state is the replay of the log
        assert store.replay_events() == store.current_state()
    finally:
        store.close()
    decisions = sum(r["decisions"] + r["undone"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    figures = {"database": label, "seconds": round(elapsed, 1), "relabels": decisions,
               "relabels_per_s": round(decisions / elapsed, 1), "events": len(events),
               "model_refreshes": sum(r["refreshes"] for r in results), "lost": 0}
    print(f"\nconcurrency {json.dumps(figures)}")
    return figures


def test_two_reviewers_sqlite(tmp_path: Path):
    url = make_project(tmp_path / "proj")
    results = run_reviewers(url, tmp_path)
    figures = check_nothing_lost(url, results, "sqlite (WAL)")
    assert figures["relabels"] > 10 * SECONDS / 30


# --- PostgreSQL: a throwaway server on a free localhost port ---------------------------------
def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    initdb, postgres, pg_ctl = _pg_bin("initdb"), _pg_bin("postgres"), _pg_bin("pg_ctl")
    if not (initdb and postgres and pg_ctl):
        why = ("PostgreSQL server binaries (initdb, postgres, pg_ctl) are not installed: "
               "apt-get install postgresql (make test does)")
        if os.environ.get("CI"):  # CI installs PostgreSQL: its absence is a failure there
            pytest.fail(why)
        pytest.skip(why)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("PostgreSQL is installed but psycopg is not: "
                    "pip install 'consultation-nlp[postgres]'")
    as_user: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="nlp-pg-", dir="/tmp"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' user to run the server as")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data / "db"), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    server = subprocess.Popen([*as_user, postgres, "-D", str(data / "db"), "-p", str(port),
                               "-k", str(data), "-c", "listen_addresses=127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    import psycopg

    for _ in range(300):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres").close()
            break
        except psycopg.OperationalError:
            if server.poll() is not None:
                pytest.fail("the PostgreSQL server did not start")
            time.sleep(0.1)
    try:
        yield url
    finally:
        subprocess.run([*as_user, pg_ctl, "stop", "-D", str(data / "db"), "-m", "fast", "-w"],
                       capture_output=True, timeout=60)
        if server.poll() is None:
            server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def test_two_reviewers_postgresql(postgres_url: str, tmp_path: Path):
    url = make_project(tmp_path / "proj", db_url=postgres_url)
    results = run_reviewers(url, tmp_path)
    figures = check_nothing_lost(url, results, "postgresql")
    assert figures["relabels"] > 10 * SECONDS / 30
