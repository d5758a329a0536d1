"""Anonymise once on the bundled corpus with the real spaCy pipeline (marked slow): the export
made from stored results is byte-identical to a fresh, uncached run on the same project, and a
second export runs no spaCy pass."""
from __future__ import annotations

import pytest

from nlp.corpora import DEFAULT_CORPUS, codebook_path, corpus_path
from nlp.ingest import ImportOptions
from nlp.pipeline import export, export_project, import_file, project_anonymiser
from nlp.project import init_project
from nlp.store.anonymised import count_anonymised
from nlp.text.anonymise import PIPE_STATS

pytestmark = pytest.mark.slow


def _project(root):
    p = init_project(root, codebook=codebook_path(DEFAULT_CORPUS))
    import_file(p.store, corpus_path(DEFAULT_CORPUS),
                ImportOptions(text_col="text", id_col="id", respondent_col="speaker"))
    return p


def test_bundled_corpus_stored_export_is_byte_identical_and_runs_spacy_once(tmp_path):
    a, b = _project(tmp_path / "a"), _project(tmp_path / "b")
    try:
        first = export(a, tmp_path / "1.csv", format="csv")[0]
        assert count_anonymised(a.store) == a.store.count_responses()
        before = dict(PIPE_STATS)
        second = export(a, tmp_path / "2.csv", format="csv")[0]
        assert PIPE_STATS == before, "the second export ran spaCy again"
        anon = project_anonymiser(b, defer=True, stored=False)
        fresh = export_project(b, tmp_path / "f.csv", format="csv", anonymiser=anon)
        anon.save()
        assert first.read_bytes() == second.read_bytes() == fresh.read_bytes()
        assert a.store.placeholder_numbering() == b.store.placeholder_numbering()
        assert count_anonymised(b.store) == 0
    finally:
        a.close()
        b.close()
