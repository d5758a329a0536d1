"""Registries: readers, exporters, embedder backends and classifier backends have their entries."""
from nlp.classify import CLASSIFIERS, DEFAULT_CLASSIFIER, ThemeClassifier
from nlp.embed import BACKENDS, FakeEmbedder, get_embedder
from nlp.pipeline import EXPORTERS
from nlp.ingest import FORMATS, PROJECT_READERS, READERS


def test_readers():
    assert {".csv", ".tsv", ".xlsx", ".jsonl", ".txt", ".md", ".docx", ".pdf"} <= set(READERS)
    assert set(PROJECT_READERS) == {".qdpx"}
    assert set(FORMATS) == set(READERS) | set(PROJECT_READERS)


def test_exporters():
    assert set(EXPORTERS) == {"csv", "xlsx", "jsonl", "qdpx", "qdc", "report"}


def test_embedder_backends():
    assert set(BACKENDS) == {"st", "onnx", "onnx-int8", "model2vec", "fake"}
    assert isinstance(get_embedder("fake:8"), FakeEmbedder) and get_embedder("fake:8").dim == 8


def test_classifier_backends():
    assert CLASSIFIERS[DEFAULT_CLASSIFIER] is ThemeClassifier


def test_a_new_reader_is_one_module_and_one_line(tmp_path, monkeypatch):
    """CONTRIBUTING's recipe: a reader module that imports only nlp.ingest.base, registered
    in READERS, is read like the built-in formats (and forms no import circle)."""
    import nlp.ingest as ingest
    from nlp.ingest.base import Document, Reader

    def read_rev(path, data, options, notes):
        return Document(data.decode("utf-8")[::-1])

    monkeypatch.setitem(ingest.READERS, ".rev", Reader("rev", read_rev))
    f = tmp_path / "answers.rev"
    f.write_text("\n.etal era stnemyap ruO :1R", encoding="utf-8")
    res = ingest.read_file(f, ingest.ImportOptions(kind="transcript"))
    assert res.format == "rev"
    assert [r.text for r in res.responses] == ["Our payments are late."]
    # base.py needs nothing from the package at run time, so a reader module imported by
    # nlp/ingest/__init__.py (to register it) can import base while the package is loading.
    import ast
    from pathlib import Path

    tree = ast.parse(Path(ingest.__file__).with_name("base.py").read_text(encoding="utf-8"))
    run_time = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.Import) or n.level == 0 and not n.module.startswith("nlp")
               for n in run_time)
