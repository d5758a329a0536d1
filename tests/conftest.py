"""Shared fixtures: an in-memory project store and small files to import."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One thread per native library: the tests' arrays are tiny, and on a shared machine OpenMP's
# worker threads spin for more CPU than the work (100 k-means fits: 1.4 s of CPU, 0.12 s on
# one thread). Set before anything imports NumPy, scikit-learn or torch; results are the same.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store():
    from nlp.codebook import load_codebook
    from nlp.store import Store

    s = Store("sqlite://")
    s.migrate()
    s.add_codebook(load_codebook())
    yield s
    s.close()


@pytest.fixture
def write(tmp_path):
    """write(name, content) -> path; bytes or str."""

    def _write(name: str, content) -> Path:
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    return _write
