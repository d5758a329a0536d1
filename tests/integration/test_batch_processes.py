"""Batch coding with processes (issue 17), with the FakeEmbedder: resume after kill -9, a Dask
cluster's bytes, the device switch in a fresh interpreter, the CLI's progress lines. Slow for
the processes they start; the in-process batch tests are in tests/unit/test_batch.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from batchdata import answers, fake_env, write_input  # noqa: F401 - fake_env is a fixture
from nlp.classify.coding import code_file
from nlp.embed import FakeEmbedder
from nlp.embed import run as embed_run_module

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


# --- resume after kill -9 ------------------------------------------------------------------------

CHILD = """
import sys, time
from nlp.classify.coding import code_file
def slow(c):
    print("chunk", c, flush=True)
    time.sleep(float(sys.argv[3]))
code_file(sys.argv[1], sys.argv[2], model_dir="none", chunk=10, on_chunk=slow)
print("done", flush=True)
"""


def _child(src: Path, out: Path, pause: float, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(out), str(pause)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_file_mode_resumes_after_kill_9(fake_env):
    src = write_input(fake_env / "in.jsonl", answers(95))
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ref = fake_env / "ref.jsonl"
    code_file(src, ref, model_dir="none", chunk=10)
    out = fake_env / "out.jsonl"
    proc = _child(src, out, 5.0, env)
    seen = []
    for line in proc.stdout:  # the child has committed chunks 0..2 when it prints "chunk 2"
        seen.append(line.strip())
        if line.startswith("chunk 2"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (seen, proc.stderr.read())
    assert not out.exists()
    state = json.loads((fake_env / ".out.jsonl.partial.json").read_text())
    assert state["chunks"] == 3
    again = _child(src, out, 0.0, env)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert stdout.splitlines()[0] == "chunk 3"  # went on after the last committed chunk
    assert out.read_bytes() == ref.read_bytes()
    assert not (fake_env / ".out.jsonl.partial").exists()
    assert not (fake_env / ".out.jsonl.partial.json").exists()



# --- a Dask cluster gives the local run's bytes ---------------------------------------------

def test_cluster_run_is_byte_identical(fake_env):
    distributed = pytest.importorskip("distributed")
    src = write_input(fake_env / "in.jsonl", answers(80))
    local = fake_env / "local.jsonl"
    code_file(src, local, model_dir="none", chunk=9)
    os.environ["NLP_CACHE_DIR"] = str(fake_env / "cache2")  # nothing cached for the cluster
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = fake_env / "remote.jsonl"
        code_file(src, remote, model_dir="none", chunk=9, cluster=client)
        ran_on = client.run(lambda: sorted(embed_run_module._WORKER_EMBEDDERS))
    assert remote.read_bytes() == local.read_bytes()
    assert len(ran_on) == 2 and all(v for v in ran_on.values())  # both workers embedded


def test_unreachable_cluster_is_a_clear_error(fake_env):
    pytest.importorskip("distributed")
    from nlp import errors

    with pytest.raises(errors.NlpError, match="Dask scheduler"):
        embed_run_module.DaskRunner(FakeEmbedder(), "tcp://127.0.0.1:1")



# --- device and progress in a fresh interpreter --------------------------------------------

def test_device_auto_is_the_cpu_here_without_importing_torch():
    code = ("import sys; from nlp.classify.coding import _resolve_device; "
            "print(_resolve_device('auto'), 'torch' in sys.modules)")
    if Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists():
        pytest.skip("a GPU driver is present")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.split() == ["cpu", "False"], out.stderr



def test_cli_code_shows_progress(fake_env):
    src = write_input(fake_env / "in.jsonl", answers(30))
    out = fake_env / "out.jsonl"
    res = subprocess.run([sys.executable, "-m", "nlp", "code", str(src), "--out", str(out),
                          "--model", "none", "--chunk", "7", "--device", "cpu"],
                         capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr
    assert "Coding: 30/30 answers" in res.stderr and "ETA" in res.stderr
    assert len(out.read_text().splitlines()) == 30
