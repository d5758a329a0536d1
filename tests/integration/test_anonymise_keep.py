"""Anonymisation keeps institutions and hides people, with the real spaCy model (slow): one
test per class of kept name, strict mode, brackets and streets."""
from __future__ import annotations

import pytest

from nlp.text.anonymise import Anonymiser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default():
    a = Anonymiser()
    a.find("warm up")
    assert a.nlp_.pipe_names == ["ner"], "the real model did not load (blank fallback?)"
    return a


@pytest.fixture(scope="module")
def strict():
    return Anonymiser(strict=True)


# (class, sentence, the names it must keep, a name strict mode must replace)
CLASSES = [
    ("government department",
     "The Ministry of Justice and the MoJ's partners ignored Sarah Jones.",
     ["Ministry of Justice", "MoJ"], "Ministry of Justice"),
    ("agency acronyms",
     "HMPPS, the NPS and NOMS all changed their minds; the CRCs did not, said Kwame.",
     ["HMPPS", "NPS", "NOMS", "CRCs"], "HMPPS"),
    ("programme",
     "Clinks and NCVO support us; the Dynamic Framework was a disaster for Kwame.",
     ["Dynamic Framework"], "Dynamic Framework"),
    ("Cabinet Office",
     "The Cabinet Office guidance was ignored by Priya Sharma.",
     ["Cabinet Office"], "Cabinet Office"),
    ("sector body",
     "We asked Clinks and NCVO, and Tom Price from the Lankford Trust.",
     ["Clinks", "NCVO"], "NCVO"),
]


@pytest.mark.parametrize("kind,text,keep,replaced", CLASSES, ids=[c[0] for c in CLASSES])
def test_each_class_is_kept_by_default_and_people_are_not(default, strict, kind, text, keep,
                                                          replaced):
    out = default.anonymise(text)
    for name in keep:
        assert name in out, (kind, out)
    assert "[PERSON" in out, out  # the person in the same sentence is still hidden
    assert replaced not in strict.anonymise(text), kind


def test_bundled_corpus_sentences(default):
    cases = {
        "I have an excellent relationship with Probation [NPS] and despite the movement in "
        "staff they are still referring clients to me regularly.":
            "I have an excellent relationship with Probation [NPS] and despite the movement in "
            "staff they are still referring clients to me regularly.",
        "It is still causing disagreements with our Board of Trustees.":
            "It is still causing disagreements with our Board of Trustees.",
        "Staff time has been diverted into the transition to CRC and NPS.":
            "Staff time has been diverted into the transition to CRC and NPS.",
        "The MoJ and HMPPS did not consult; NOMS and the Cabinet Office neither.":
            "The MoJ and HMPPS did not consult; NOMS and the Cabinet Office neither.",
    }
    assert dict(zip(cases, default.anonymise_many(list(cases)))) == cases


def test_brackets_are_never_doubled(strict):
    out = strict.anonymise("I have an excellent relationship with Probation [NPS] and [Kwame].")
    assert "[[" not in out and "]]" not in out
    assert out == "I have an excellent relationship with Probation [ORG] and [PERSON]."


def test_street_names_are_addresses_never_people(default):
    for text in ("The drop-in on Mill Lane closed after Sarah Jones left.",
                 "We moved to Mill Lane last year.",
                 "The office on Mill Lane, Wrexham, is run by Tom Price.",
                 "Then the office on Church Street closed."):
        spans = {s.text: s.label for s in default.find(text)}
        street = "Church Street" if "Church" in text else "Mill Lane"
        assert spans.get(street) == "ADDRESS", (text, spans)
    assert default.anonymise("We moved to Mill Lane last year.") == \
        "We moved to [ADDRESS] last year."
