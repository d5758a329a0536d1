"""Integration tests for nlp.anonymise with the real spaCy pipeline (marked slow)."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from nlp.text.anonymise import PUBLIC_BODIES, Anonymiser, anonymise_texts

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def anonymiser():
    a = Anonymiser()
    a.find("warm up")
    assert a.nlp_.pipe_names == ["ner"], "the real model did not load (blank fallback?)"
    return a


@pytest.fixture(scope="module")
def evaluation():
    spec = importlib.util.spec_from_file_location("eval_anonymise",
                                                  ROOT / "evaluation" / "eval_anonymise.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sentences_not_in_the_test_set(anonymiser):
    cases = {
        "i live in swansea with my partner kelly and our two kids":
            "i live in [PLACE] with my partner [PERSON] and our two kids",
        "Contact: Gwenno Prys-Jones, 01970 622 100, gwenno@example.cymru":
            "Contact: [PERSON], [PHONE], [EMAIL]",
        "She said: 'Zsofia, you need to go to the job centre in Bangor on Tuesday.'":
            "She said: '[PERSON], you need to go to the job centre in [PLACE] on Tuesday.'",
        "Our CEO is Dr Nnamdi Eze-Williams and our chair is Cllr Sian Griffiths.":
            "Our CEO is Dr [PERSON_1] and our chair is Cllr [PERSON_2].",
        "Mark my words, the probation officer and the commissioner were both useless.":
            "Mark my words, the probation officer and the commissioner were both useless.",
        "Universal Credit and PIP were both stopped when I went into HMP Berwyn.":
            "Universal Credit and PIP were both stopped when I went into [ORG].",
    }
    got = anonymiser.anonymise_many(list(cases))
    assert dict(zip(cases, got)) == cases


def test_public_bodies_kept_by_default_and_replaced_in_strict_mode(anonymiser):
    text = "We would like the Ministry of Justice and HMPPS to fund Nacro directly."
    assert anonymiser.anonymise(text) == \
        "We would like the Ministry of Justice and HMPPS to fund [ORG] directly."
    strict = Anonymiser(strict=True)
    assert strict.anonymise(text) == \
        "We would like the [ORG_1] and [ORG_2] to fund [ORG_3] directly."
    keep = Anonymiser(strict=True, allow_terms=PUBLIC_BODIES)  # a project's own keep-list
    assert keep.anonymise(text) == \
        "We would like the Ministry of Justice and HMPPS to fund [ORG] directly."


def test_test_set_figures_hold(evaluation):
    """Guards the figures reported in evaluation/RESULTS.md (all 154 sentences)."""
    rows = evaluation.load("all")
    texts = [r["text"] for r in rows]
    ner = evaluation.score(rows, evaluation.ner_only(texts))
    # Strict mode against every gold span; the default mode against the gold spans less the
    # public bodies it keeps by design (they are not personal data).
    for gold, preds in ((rows, evaluation.full_strict(texts)),
                        (evaluation.pii_rows(rows), evaluation.full(texts))):
        full = evaluation.score(gold, preds)
        assert full["hidden"]["ALL"]["r"] >= 0.97
        assert full["hidden"]["ALL"]["p"] >= 0.95
        assert full["typed"]["ALL"]["f1"] >= 0.90
        assert ner["hidden"]["ALL"]["r"] < full["hidden"]["ALL"]["r"] - 0.2
        for label in ("EMAIL", "PHONE", "POSTCODE", "URL", "DOB"):
            assert full["typed"][label]["r"] == 1.0, label
    held = evaluation.load("heldout")
    held_full = evaluation.score(evaluation.pii_rows(held),
                                 evaluation.full([r["text"] for r in held]))
    assert held_full["hidden"]["ALL"]["r"] >= 0.95


def test_hard_negatives_stay_untouched(evaluation, anonymiser):
    negatives = [r["text"] for r in evaluation.load("all") if not r["spans"]]
    assert len(negatives) >= 20
    touched = [t for t, s in zip(negatives, anonymiser.find_many(negatives)) if s]
    # Known (held-out, left unfixed): spaCy tags "Grace" (periods), "jargon" and "Gate" as ORG.
    assert len(touched) <= 3, touched


def test_consistent_across_chunks_of_a_long_text(anonymiser):
    para = ("Priya Sharma from Shelter Cymru phoned me. The hostel in Wrexham was full. "
            "Later Jake Evans said Priya would call back. ") * 60 + "\n\n"
    text = para * 8  # ~100,000 characters: several pieces for spaCy
    spans = anonymiser.find(text)
    out = anonymiser.anonymise(text)
    assert "Priya" not in out and "Wrexham" not in out and "Jake" not in out
    assert len({s.text for s in spans if s.label == "PERSON"}) >= 2
    assert out.count("[PERSON_1]") == text.count("Priya")
    assert out.count("[PERSON_2]") == text.count("Jake Evans")


def test_batch_speed(anonymiser):
    texts = [f"Respondent {i}: my worker Sarah at the hub in Leeds rang me on 07700 900{i:03d}."
             for i in range(1000)]
    t0 = time.perf_counter()
    out = anonymiser.anonymise_many(texts)
    rate = len(texts) / (time.perf_counter() - t0)
    assert out[5] == "Respondent 5: my worker [PERSON] at the hub in [PLACE] rang me on [PHONE]."
    assert rate > 100, f"{rate:.0f} texts/s"


def test_anonymise_texts_function():
    assert anonymise_texts(["Call Dafydd on 07700 900123."]) == ["Call [PERSON] on [PHONE]."]


def test_round_three_misses_and_over_replacements(anonymiser):
    """Issue 25, class 9: the leaks and the over-replacements seen on real answers."""
    cases = {
        "If you need more detail please ask for Joanna Whitfield.":
            "If you need more detail please ask for [PERSON].",
        "Our office is at 12 Park Row, Leeds LS1 4AB, open weekdays.":
            "Our office is at [ADDRESS], [PLACE] [POSTCODE], open weekdays.",
        "Follow us @BrightStartLeeds or message @jo_w.":
            "Follow us [HANDLE_1] or message [HANDLE_2].",  # numbered within one text
        "My NI number is AB 12 34 56 C and my NHS number 943 476 5919.":
            "My NI number is [ID_1] and my NHS number [ID_2].",
        "Scotland's approach is better. Society's view matters. Stance: we oppose this.":
            "Scotland's approach is better. Society's view matters. Stance: we oppose this.",
        "Attendance has dropped. Digital exclusion is real. Email us about the SEND review.":
            "Attendance has dropped. Digital exclusion is real. Email us about the SEND review.",
        "Fatuma Hassan's caseworker was great; Wales's policy is better.":
            "[PERSON]'s caseworker was great; Wales's policy is better.",
        "Meet us @ 5pm outside the station.": "Meet us @ 5pm outside the station.",
    }
    got = anonymiser.anonymise_many(list(cases))
    assert dict(zip(cases, got)) == cases


def test_a_researchers_memo_keeps_its_words(anonymiser):
    """Memos go out through the same anonymiser as answers (a memo may quote an answer's
    names); the researcher's own words, headings, themes and nations stay."""
    memo = ("Memo: Stance on the levy. Most respondents in Scotland oppose it; Wales is split. "
            "Society as a whole pays. Tension between Access and Cost themes. Check Trust "
            "wording. Overall tone negative. Notes from Tuesday: Amir's group coded 40 answers.")
    assert anonymiser.anonymise(memo) == memo.replace("Amir's", "[PERSON]'s")


def test_answer_set_figures_hold(evaluation):
    """Guards the figures of the consultation-style answers in evaluation/RESULTS.md."""
    for split, recall in (("dev", 0.99), ("heldout", 0.95)):
        rows = evaluation.load_answers(split)
        preds = evaluation.full([r["text"] for r in rows])
        sc = evaluation.score(rows, preds)
        over = evaluation.over_replacement(rows, preds)
        assert sc["hidden"]["ALL"]["r"] >= recall, split
        assert sc["hidden"]["ALL"]["p"] >= 0.95, split
        assert over["kept_replaced"] == 0, over["replaced_examples"]
        assert over["possessives_lost"] == 0, split


# Moved from tests/unit (6 s of real NER over a megabyte).
def test_one_megabyte_text():
    chunk = "Kwame rang 07700 900123 from Wrexham about the hostel. " * 10 + "\n"
    text = chunk * (1_000_000 // len(chunk) + 1)
    assert len(text) > 1_000_000
    spans = Anonymiser().find(text)
    assert len(spans) == 3 * 10 * (1_000_000 // len(chunk) + 1)
    assert all(text[s.start:s.end] == s.text for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
