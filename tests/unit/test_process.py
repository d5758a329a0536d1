"""Unit tests for nlp.process: blank pipelines for speed; the real model only where marked slow."""
from __future__ import annotations

import json
import logging

import pytest
import spacy

from nlp.text import process
from nlp.text.process import ProcessedText, chunk_text, load_pipeline, process_texts, split_sentences


@pytest.fixture
def blank():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def test_processed_text_round_trips_through_json():
    p = ProcessedText(sentences=((0, 5), (6, 11)), lemmas=("housing", "support"), tokens=4)
    again = ProcessedText.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p
    assert p.sentence_texts("Hello world again") == ["Hello", "world"]


def test_process_texts_sentences_and_lemmas_on_blank(blank):
    text = "The hostel was full. We waited 3 hours!  Nobody came."
    [p] = process_texts([text], pipeline=blank)
    assert p.sentence_texts(text) == ["The hostel was full.", "We waited 3 hours!", "Nobody came."]
    # blank pipeline: lemma falls back to the lower-cased word; stop words, numbers, punct go
    assert p.lemmas == ("hostel", "waited", "hours", "came")  # "full" is a spaCy stop word
    assert p.tokens == 13  # the double space is a whitespace token, not counted


def test_empty_and_whitespace_texts(blank):
    out = process_texts(["", "   \n ", "Fine."], pipeline=blank)
    assert out[0] == ProcessedText() and out[1].sentences == () and out[1].lemmas == ()
    assert out[2].sentences == ((0, 5),)


def test_emoji_and_rtl_offsets_are_character_offsets(blank):
    text = "Great service 😊. شكرا جزيلا. Done"
    [p] = process_texts([text], pipeline=blank)
    assert "".join(p.sentence_texts(text)).replace(" ", "") == text.replace(" ", "")
    assert all(text[a:b].strip() == text[a:b] for a, b in p.sentences)


def test_chunk_text_cuts_at_line_or_sentence_ends_and_covers_everything():
    text = ("A sentence here. " * 40 + "\n") * 30
    pieces = chunk_text(text, size=1000)
    assert len(pieces) > 1 and all(len(p) <= 1000 for _, p in pieces)
    assert "".join(p for _, p in pieces) == text
    assert all(text[o:o + len(p)] == p for o, p in pieces)
    assert all(p.endswith(("\n", " ")) for _, p in pieces[:-1])
    assert chunk_text("x" * 2500, size=1000) == [(0, "x" * 1000), (1000, "x" * 1000),
                                                  (2000, "x" * 500)]


def test_one_megabyte_text_does_not_crash(blank):
    text = "The council did nothing for months. " * 28_000  # ~1,000,000 characters
    assert len(text) >= 1_000_000
    [p] = process_texts([text], pipeline=blank)
    assert len(p.sentences) == 28_000
    assert p.sentences[-1][1] == len(text.rstrip())
    a, b = p.sentences[20_000]
    assert text[a:b] == "The council did nothing for months."


def test_progress_bar_does_not_change_results(blank):
    texts = ["One. Two.", "Three."]
    with_bar = process_texts(texts, pipeline=blank, progress=True)
    assert with_bar == process_texts(texts, pipeline=blank)


def test_split_sentences_with_given_pipeline(blank):
    assert split_sentences("Yes. No.\n\nMaybe", pipeline=blank) == ["Yes.", "No.", "Maybe"]


def test_unknown_components_raise():
    with pytest.raises(ValueError, match="components"):
        load_pipeline(components="everything")


def test_fallback_to_blank_logs_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(process, "DEFAULT_MODELS", ("no_such_model_xyz",))
    monkeypatch.delenv(process.ENV_MODEL, raising=False)
    process._load.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="nlp.process"):
            nlp = load_pipeline(components="lemma")
            again = load_pipeline(components="lemma")
        assert nlp is again and nlp.pipe_names == ["sentencizer"]
        warnings = [r for r in caplog.records if r.name == "nlp.process"]
        assert len(warnings) == 1
        assert "no_such_model_xyz" in warnings[0].getMessage()
        assert "pip install" in warnings[0].getMessage()
        assert split_sentences("One. Two.", pipeline=nlp) == ["One.", "Two."]
    finally:
        process._load.cache_clear()


def test_env_var_names_the_model(monkeypatch):
    seen = []
    monkeypatch.setattr(process, "_load", lambda name, components: seen.append(name))
    monkeypatch.setenv(process.ENV_MODEL, "my_model")
    load_pipeline()
    load_pipeline("explicit")
    assert seen == ["my_model", "explicit"]


@pytest.mark.slow
def test_real_model_lemmas_and_sentences():
    nlp = load_pipeline(components="lemma")
    text = "The children were running to the hostels. Staff kept cancelling appointments."
    [p] = process_texts([text], pipeline=nlp)
    assert p.sentence_texts(text) == ["The children were running to the hostels.",
                                      "Staff kept cancelling appointments."]
    assert {"child", "run", "hostel", "staff", "cancel", "appointment"} <= set(p.lemmas)
    assert "the" not in p.lemmas and "were" not in p.lemmas and "be" not in p.lemmas


@pytest.mark.slow
def test_real_model_components_are_what_was_asked():
    assert "ner" not in load_pipeline(components="segment").pipe_names
    assert load_pipeline(components="ner").pipe_names == ["ner"]
    lemma = load_pipeline(components="lemma").pipe_names
    assert "lemmatizer" in lemma and "parser" not in lemma and "senter" in lemma
    assert split_sentences("I came out in May. Nobody met me at the gate.") == [
        "I came out in May.", "Nobody met me at the gate."]
