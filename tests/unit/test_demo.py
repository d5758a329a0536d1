"""The demo's import of a bundled corpus: the corpus's hand codes stay out of the project."""
from __future__ import annotations

import csv

from nlp.corpora import DEFAULT_CORPUS, GOLD_COLUMNS, codebook_path
from nlp.pipeline import export_project
from nlp.pipeline.demo import import_demo_corpus
from nlp.project import init_project


def test_demo_exports_carry_no_hand_codes(tmp_path):
    p = init_project(tmp_path / "demo", codebook=codebook_path(DEFAULT_CORPUS))
    try:
        summary = import_demo_corpus(p.store)
        assert summary.imported > 100
        meta = {k for r in p.store.corpus() for k in r.metadata}
        assert not meta & set(GOLD_COLUMNS)
        assert "kind" in meta  # quote or report prose: the report needs it
        out = export_project(p.store, tmp_path / "coded.csv", format="csv", anonymise=False)
        with open(out, encoding="utf-8-sig", newline="") as fh:
            cols = next(csv.reader(fh))
        assert not set(cols) & {*GOLD_COLUMNS, *(f"meta:{c}" for c in GOLD_COLUMNS)}
        assert "section" in cols
    finally:
        p.close()
