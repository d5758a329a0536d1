"""Bundled corpora: hand-coded units shipped with the toolkit, loaded as DataFrames."""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import errors

#: The corpus bundled with the toolkit, the default of every command and function that takes a
#: corpus name. The one place its name is written in library code (a test checks it).
DEFAULT_CORPUS = "vcs-commissioning"


#: A bundled corpus's hand codes (the gold standard and each coder's), which a project made from
#: it does not import: they are for evaluation, not the researcher's data.
GOLD_COLUMNS = ("themes", "coder1", "coder2")


def corpora_dir() -> Path:
    """Where bundled corpora live: `corpora/` beside the package, or $NLP_CORPORA_DIR."""
    env = os.environ.get("NLP_CORPORA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "corpora"


def available() -> list[str]:
    d = corpora_dir()
    return sorted(p.name for p in d.iterdir() if (p / "units.jsonl").exists()) if d.exists() else []


def corpus_path(name: str) -> Path:
    """The units file of a bundled corpus.

    Raises:
        NlpError: no such corpus.
    """
    p = corpora_dir() / name / "units.jsonl"
    if not p.exists():
        raise errors.no_corpus(name, list(available()))
    return p


def load(name: str = DEFAULT_CORPUS):
    """A bundled corpus as a pandas DataFrame: one row per unit (id, text, kind, source, line,
    section, speaker, themes, coder1, coder2)."""
    import pandas as pd

    rows = [json.loads(line) for line in corpus_path(name).read_text(encoding="utf-8")
            .splitlines() if line.strip()]
    return pd.DataFrame(rows)


def codebook_path(name: str = DEFAULT_CORPUS) -> Path:
    return corpora_dir() / name / "codebook.yaml"
