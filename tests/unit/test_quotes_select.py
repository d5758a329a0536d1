"""Quote selection: representative, diverse, short enough to quote."""
from __future__ import annotations

import numpy as np

from nlp.report.select import (QuoteCandidate, select_quotes, sentences, trim, with_text,
                               words)

THEME = "Late payment: invoices paid weeks or months after the work was delivered"

SAME = "The council paid our invoices three months late, which nearly closed us."
CANDS = [
    QuoteCandidate("a1", SAME, accepted=True, confidence=0.95, reference="survey.csv, row 2"),
    QuoteCandidate("a2", SAME, accepted=True, confidence=0.94),
    QuoteCandidate("a3", SAME.replace("three", "four"), accepted=True, confidence=0.93),
    QuoteCandidate("a4", "Payment by results means we wait a year before any money arrives "
                         "and the bank will not lend against it.", accepted=True,
                   confidence=0.8),
    QuoteCandidate("a5", "Invoices sit unpaid for weeks because the prime forgets to pass "
                         "them on to the finance team.", accepted=True, confidence=0.7),
    QuoteCandidate("s1", "Late payment is a cash-flow risk for small charities like ours, and "
                         "reserves run down fast.", accepted=False, confidence=0.6),
    QuoteCandidate("x1", "Yes.", accepted=True, confidence=0.99),
]


def test_no_near_duplicates_and_at_most_k():
    got = select_quotes(CANDS, k=5, theme_text=THEME)
    assert 3 <= len(got) <= 5
    ids = [q.response_id for q in got]
    assert len({"a1", "a2", "a3"} & set(ids)) == 1  # one of the near-identical three
    assert "a4" in ids and "a5" in ids
    assert got[0].accepted and got[0].reference in ("survey.csv, row 2", "")


def test_accepted_before_suggested_and_short_fragments_last():
    got = select_quotes(CANDS, k=3, theme_text=THEME)
    assert all(q.accepted for q in got)
    assert "x1" not in [q.response_id for q in got]


def test_embeddings_drive_similarity_when_given():
    # Embeddings say a4 and a5 mean the same thing, though their words differ.
    emb = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0.01], [0, 0, 1],
                    [0.5, 0.5, 0]], dtype=float)
    ids = [q.response_id for q in select_quotes(CANDS, k=4, embeddings=emb)]
    assert not {"a4", "a5"} <= set(ids)
    assert len({"a1", "a2", "a3"} & set(ids)) == 1


def test_long_answers_are_trimmed_to_the_sentence_that_carries_the_theme():
    filler = "We have worked in this town for thirty years with many partners. " * 6
    text = filler + "The real problem is late payment of invoices by the council. " + filler
    q, cut = trim(text, max_words=20, focus=["late", "payment", "invoices"])
    assert cut and "late payment of invoices" in q and words(q) <= 22
    assert q.startswith("…") and q.endswith("…")
    short, cut = trim("Short and sweet.", max_words=20)
    assert short == "Short and sweet." and not cut


def test_one_very_long_sentence_is_cut_at_a_word_boundary():
    text = " ".join(["word"] * 200)
    q, cut = trim(text, max_words=60)
    assert cut and words(q) == 61 and q.endswith("…")


def test_selected_quotes_respect_max_words():
    long = QuoteCandidate("L", ("Invoices were paid late again. " * 30).strip(), accepted=True)
    got = select_quotes([long], k=3, max_words=25, theme_text=THEME)
    assert words(got[0].text) <= 27 and got[0].trimmed


def test_sentences_and_with_text():
    assert sentences("One. Two! “Three?” Four") == ["One.", "Two!", "“Three?”", "Four"]
    got = select_quotes(CANDS[:2], k=2)
    assert [q.text for q in with_text(got, ["X"])] == ["X"]
    assert select_quotes([], k=3) == []
