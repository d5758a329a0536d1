"""Answers and files shared by the unit and integration batch-coding tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SENTENCES = [
    "Funding for small charities is too short-term and stops us planning ahead.",
    "The tender documents were far too long for a small organisation to complete.",
    "Commissioners never told us why the bid failed or what to improve next time.",
    "Large national providers win everything because they can afford bid writers.",
    "Service users should help design the services they will use every day.",
    "Grants are better than contracts for specialist work with women and girls.",
    "Payment in arrears puts our cash flow at risk every single quarter.",
    "Local commissioning keeps money in the community and builds trust.",
]


def answers(n: int, seed: int = 0) -> list[str]:
    """n answers of 1-3 sentences; sentences repeat across answers (so dedupe shows)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        picked = [SENTENCES[j] for j in rng.choice(len(SENTENCES), k, replace=False)]
        if i % 3 == 0:  # a sentence of its own, so not everything is a repeat
            picked.append(f"Answer {i} adds a point nobody else makes about item {i * 7}.")
        out.append(" ".join(picked))
    return out


def write_input(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    return path


@pytest.fixture
def fake_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NLP_EMBEDDER", "fake:64")
    monkeypatch.setenv("NLP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path
