"""Registries: readers, exporters, embedder backends and classifier backends have their entries."""
from nlp.classify import CLASSIFIERS, DEFAULT_CLASSIFIER, ThemeClassifier
from nlp.embed import BACKENDS, FakeEmbedder, get_embedder
from nlp.export import EXPORTERS
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
