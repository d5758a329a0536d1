"""Classify stage: a researcher's hand-coded sample (`nlp code --examples`), read under the
import limits, deduplicated and capped."""
from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import errors
from ..ingest import ImportOptions, iter_table_file
from ..limits import examples_cap
from ..types import Codebook

log = logging.getLogger(__name__)


def _theme_list(raw: Any) -> list[str]:
    """A `themes` cell: a list (JSONL), a JSON list as text, or ids separated by ';' (or
    ','). A list that a reader turned into text (its Python form) is read back as data."""
    if isinstance(raw, (list, tuple)):
        vals = list(raw)
    elif raw is None or (isinstance(raw, float) and raw != raw):
        vals = []
    else:
        s = str(raw).strip()
        if s.startswith("["):
            try:
                vals = json.loads(s)
            except json.JSONDecodeError:
                vals = ast.literal_eval(s)  # "['A', 'D']": literals only, never code
            if not isinstance(vals, list):
                raise ValueError("not a list")
        else:
            vals = s.replace(",", ";").split(";")
    return [str(v).strip() for v in vals if str(v).strip()]


@dataclass
class Examples:
    """A researcher's hand-coded sample, as the model learns from it and as file mode keeps it.

    `texts`/`themes`: the distinct answers to learn from (a text given more than once is one
    example whose themes are those most of its rows give; above `limits.examples_cap()`
    distinct texts, a seeded random sample of them). `by_id`: {the row's `id`: its themes},
    for the rows that carry an id (the researcher's decision on that answer)."""
    texts: list[str] = field(default_factory=list)
    themes: list[list[str]] = field(default_factory=list)
    by_id: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0  # rows read


def read_coded_examples(path: str | Path, codebook: Codebook | None = None) -> Examples:
    """A researcher's hand-coded sample: JSONL or CSV with `text` and `themes` (a list in
    JSONL; in CSV, ids separated by ';'), optionally `id`. The file is read under the
    import limits (`nlp.limits`: rows, text, answer length); duplicated texts are merged and
    a very large sample is cut to a random `limits.examples_cap()` with a logged warning, so
    a sample of any size costs what that many examples cost.

    Raises:
        InputError: a row whose themes cannot be read, or (with `codebook`) names a theme
            the codebook does not have; the message names the row. A file over the import
            limits is refused naming the file and the limit.
    """
    p = Path(path)
    # Rows are streamed (never a list of them all): a sample of any size costs its distinct
    # texts' tallies, not every row's record.
    file_ids: dict[str, str] = {}
    known = set(codebook.theme_ids) if codebook is not None else None
    out = Examples()
    votes: dict[str, tuple[int, dict[str, int], int]] = {}  # text: (rows, theme votes, first)
    for r in iter_table_file(p, ImportOptions(text_col="text", kind="table"), file_ids):
        out.rows += 1
        try:
            vals = list(dict.fromkeys(_theme_list(r.metadata.get("themes"))))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise errors.bad_themes_cell(p, r.location) from None
        if known is not None and codebook is not None:
            bad = [t for t in vals if t not in known]
            if bad:
                raise errors.example_theme_not_in_codebook(p, r.location, bad[0], codebook.name,
                                                           list(known))
        own_id = file_ids.pop(r.response_id, None)
        if own_id is not None:
            out.by_id[str(own_id)] = vals
        n, tally, first = votes.get(r.text, (0, {}, len(votes)))
        for t in vals:
            tally[t] = tally.get(t, 0) + 1
        votes[r.text] = (n + 1, tally, first)
    texts = list(votes)
    cap = examples_cap()
    if len(texts) > cap:
        log.warning("%s: %d distinct examples; learning from a random %d of them (set "
                    "NLP_MAX_EXAMPLES to change this)", p.name, len(texts), cap)
        keep = np.sort(np.random.default_rng(0).choice(len(texts), cap, replace=False))
        texts = [texts[i] for i in keep]
    for t in texts:
        n, tally, _ = votes[t]
        out.texts.append(t)
        out.themes.append([th for th, c in tally.items() if 2 * c >= n])
    return out


def read_examples(path: str | Path, codebook: Codebook | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """(texts, theme lists) of `read_coded_examples`."""
    ex = read_coded_examples(path, codebook)
    return ex.texts, ex.themes
