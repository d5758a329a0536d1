"""Unit tests for nlp.anonymise on a blank spaCy pipeline (patterns, gazetteers, placeholders)."""
from __future__ import annotations

import json
import re

import pytest
import spacy

from nlp.text import anonymise
from nlp.text.anonymise import (ALL_LABELS, PUBLIC_BODIES, Anonymiser, PiiSpan, anonymise_texts,
                                placeholders, replace_spans)
from nlp.errors import SettingsError


BLANK = spacy.blank("en")  # one object for the module, so the gazetteer matcher is built once


@pytest.fixture(autouse=True)
def blank_pipeline(monkeypatch):
    """No statistical model: every find below comes from the patterns and gazetteers."""
    nlp = BLANK
    monkeypatch.setattr(anonymise, "load_pipeline", lambda name=None, components="all": nlp)
    anonymise._cached.cache_clear()
    yield nlp
    anonymise._cached.cache_clear()


def anon(text: str, **kw) -> str:
    return Anonymiser(**kw).anonymise(text)


def found(text: str, **kw) -> list[tuple[str, str]]:
    return [(s.text, s.label) for s in Anonymiser(**kw).find(text)]


@pytest.mark.parametrize("text,expected", [
    ("Email j.okafor@example.org now", [("j.okafor@example.org", "EMAIL")]),
    ("see www.example.org.uk/help.", [("www.example.org.uk/help", "URL")]),
    ("at https://bit.ly/3xYz?a=1, thanks", [("https://bit.ly/3xYz?a=1", "URL")]),
    ("join facebook.com/groups/valleysmums today", [("facebook.com/groups/valleysmums", "URL")]),
    ("ring 07700 900123 or 07700900461", [("07700 900123", "PHONE"), ("07700900461", "PHONE")]),
    ("on +44 20 7946 0958.", [("+44 20 7946 0958", "PHONE")]),
    ("office (0161) 496 0000 today", [("(0161) 496 0000", "PHONE")]),
    ("WhatsApp +44 (0)7700 900555 or +48 22 123 45 67",
     [("+44 (0)7700 900555", "PHONE"), ("+48 22 123 45 67", "PHONE")]),
    ("free on 0800 015 0400", [("0800 015 0400", "PHONE")]),
    ("postcode CF24 3AA and SA11AA and ls61ab", [("CF24 3AA", "POSTCODE"), ("SA11AA", "POSTCODE"),
                                                  ("ls61ab", "POSTCODE")]),
    ("D.O.B. 1990-11-02; born 14.07.92", [("1990-11-02", "DOB"), ("14.07.92", "DOB")]),
    ("my date of birth is the 12th of August 1988", [("12th of August 1988", "DOB")]),
    ("She was born on 3rd March 1979 in a village", [("3rd March 1979", "DOB")]),
])
def test_patterns(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "The contract ended on 3 March 2019 and started again on 01/04/2020.",  # dates, no DOB cue
    "We saw 1,250 people in 2019-20, up 12%; charity no. 1074546.",
    "Room B12 on the 2nd floor, year 2024, ages 18-25.",
    "Universal Credit payments arrive five weeks late.",
    "The Probation Service and the council closed the case in May.",
])
def test_no_false_alarms_from_patterns_on_ordinary_text(text):
    assert found(text) == []


def test_born_cue_does_not_reach_into_the_next_sentence():
    assert found("I was born here. The review on 01/02/2020 was late.") == []


def test_gazetteer_names_places_and_organisations():
    got = found("Kwame moved from Merthyr Tydfil to Wrexham and now volunteers at Nacro.")
    assert got == [("Kwame", "PERSON"), ("Merthyr Tydfil", "PLACE"), ("Wrexham", "PLACE"),
                   ("Nacro", "ORG")]


def test_names_with_surnames_particles_and_honorifics():
    assert found("Aoife Ní Bhriain and Dafydd ap Iorwerth met Mrs Begum and Dr. Okafor.") == [
        ("Aoife Ní Bhriain", "PERSON"), ("Dafydd ap Iorwerth", "PERSON"), ("Begum", "PERSON"),
        ("Okafor", "PERSON")]


def test_lower_case_names_after_kinship_and_role_words():
    assert found("my son jake and my key worker tom helped") == [("jake", "PERSON"),
                                                                 ("tom", "PERSON")]
    assert found("you can call me Bex") == [("Bex", "PERSON")]
    assert found("a lad called Zbyszek was there") == [("Zbyszek", "PERSON")]


def test_words_that_are_also_names_need_evidence():
    assert found("Will the new contracts help? Grace periods would. May I add that we mark "
                 "referrals with hope.") == []
    assert found("My daughter Grace and Will Thomas came") == [("Grace", "PERSON"),
                                                               ("Will Thomas", "PERSON")]


def test_ambiguous_town_names_need_a_place_preposition():
    assert found("We meet in March at the Street Team office.") == []
    assert found("She moved to Deal and then to Street.") == [("Deal", "PLACE"),
                                                              ("Street", "PLACE")]


def test_organisation_and_address_patterns():
    got = found("Funding from the Lankford Community Trust; the office at 17 Chapel Lane and "
                "Lansdowne House. HMP Parc staff. Ceredigion County Council agreed.")
    assert ("Lankford Community Trust", "ORG") in got
    assert ("17 Chapel Lane", "ADDRESS") in got and ("Lansdowne House", "PLACE") in got
    assert ("HMP Parc", "ORG") in got and ("Ceredigion County Council", "ORG") in got
    assert found("The National Probation Service and the Community Centre", strict=True) == [
        ("National Probation Service", "ORG")]
    assert found("The National Probation Service and the Community Centre") == []  # kept


def test_same_entity_same_placeholder_and_numbering():
    text = ("Fatuma Hassan rang Jake. Later Fatuma told jake and Ahmed. Call 07700 900123 or "
            "+44 7700 900123.")
    out = anon(text)
    assert out == ("[PERSON_1] rang [PERSON_2]. Later [PERSON_1] told [PERSON_2] and [PERSON_3]. "
                   "Call [PHONE] or [PHONE].")


def test_single_entity_is_not_numbered_and_numbering_restarts_per_text():
    a = Anonymiser()
    assert a.anonymise_many(["Kwame and Kwame.", "Priya met Kwame."]) == [
        "[PERSON] and [PERSON].", "[PERSON_1] met [PERSON_2]."]


def test_placeholders_helper_links_partial_names_only_when_unambiguous():
    spans = [PiiSpan(0, 5, "PERSON", "Sarah"), PiiSpan(6, 17, "PERSON", "Sarah Jones"),
             PiiSpan(18, 29, "PERSON", "Sarah Brown")]
    assert placeholders(spans) == ["[PERSON_1]", "[PERSON_2]", "[PERSON_3]"]
    assert placeholders(spans[:2]) == ["[PERSON]", "[PERSON]"]
    assert replace_spans("Sarah Sarah Jones", spans[:2]) == "[PERSON] [PERSON]"


def test_allow_terms_case_insensitive_whole_phrase():
    text = "The ministry of justice and Clinks funded Clinksfield Trust in Cardiff."
    out = anon(text, allow_terms=[*PUBLIC_BODIES, "Clinks"])
    assert out == "The ministry of justice and Clinks funded [ORG] in [PLACE]."
    assert anon("The Ministry of Justice paid.") == "The Ministry of Justice paid."  # kept
    assert anon("The Ministry of Justice paid.", strict=True) == "The [ORG] paid."


def test_allow_term_inside_a_longer_find_keeps_the_rest_hidden():
    a = Anonymiser(extra_terms={"Clinks Wrexham Hub": "ORG"}, allow_terms=["Clinks"])
    assert a.anonymise("Ask Clinks Wrexham Hub.") == "Ask [ORG]."  # researcher's terms win
    b = Anonymiser(allow_terms=["Ministry of Justice"])
    assert b.anonymise("Ministry of Justice Cardiff office") == "Ministry of Justice [PLACE] office"


def test_extra_terms_any_case_and_labels_filter():
    a = Anonymiser(extra_terms={"Bridges Project": "ORG", "the Bryn": "PLACE"})
    assert a.anonymise("the bridges project near THE BRYN") == "the [ORG] near [PLACE]"
    only_email = Anonymiser(labels=["EMAIL"])
    assert only_email.anonymise("Kwame: k@example.org, 07700 900123") == \
        "Kwame: [EMAIL], 07700 900123"


def test_empty_emoji_and_rtl_text():
    a = Anonymiser()
    assert a.anonymise("") == "" and a.find("") == []
    assert a.anonymise_many(["", "  "]) == ["", "  "]
    text = "شكرا 😊 Kwame, ring 07700 900123 🙏 مرحبا"
    assert a.anonymise(text) == "شكرا 😊 [PERSON], ring [PHONE] 🙏 مرحبا"
    for s in a.find(text):
        assert text[s.start:s.end] == s.text


def test_config_round_trip_and_validation():
    a = Anonymiser(extra_terms={"Bridges": "ORG"}, allow_terms=("Clinks",), labels=["PERSON"])
    config = json.loads(json.dumps(a.to_config()))
    b = Anonymiser.from_config(config)
    assert b.to_config() == a.to_config()
    assert Anonymiser.from_config({}).to_config()["labels"] == list(ALL_LABELS)
    with pytest.raises(SettingsError, match="unknown anonymiser setting"):
        Anonymiser.from_config({"labelz": []})
    with pytest.raises(SettingsError, match="unknown PII label 'NAME'"):
        Anonymiser(extra_terms={"x": "NAME"}).find("x")
    with pytest.raises(SettingsError, match="allow_terms"):
        Anonymiser(allow_terms="Clinks").find("x")


def test_init_only_stores_arguments(monkeypatch):
    monkeypatch.setattr(anonymise, "load_pipeline", lambda *a, **k: pytest.fail("loaded early"))
    a = Anonymiser(pipeline_name="whatever", labels=("NOPE",))
    assert a.pipeline_name == "whatever" and not hasattr(a, "nlp_")


def test_anonymise_texts_reuses_one_anonymiser_per_config():
    assert anonymise_texts(["Ring 07700 900123"]) == ["Ring [PHONE]"]
    assert anonymise_texts(["Kwame"], labels=["EMAIL"]) == ["Kwame"]
    assert anonymise._cached.cache_info().currsize == 2
    anonymise_texts(["again"])
    assert anonymise._cached.cache_info().hits == 1


def test_data_files_are_small_and_clean():
    from importlib import resources
    folder = resources.files("nlp").joinpath("data")
    total = sum(folder.joinpath(n).stat().st_size if hasattr(folder.joinpath(n), "stat")
                else len(folder.joinpath(n).read_bytes())
                for n in ("pii_first_names.txt", "pii_places.txt", "pii_organisations.txt",
                          "public_bodies.txt", "pii_words.json"))
    assert total < 400_000
    places = anonymise._lexicon().places
    assert places["cardiff"] == "L" and places["march"] == "C"
    assert all(re.fullmatch(r"[LSMC]", f) for f in places.values())


# --- round 3: handles, fixed-format identifiers, cue names, towns by addresses; what stays --
@pytest.mark.parametrize("text,expected", [
    ("Follow @BrightStartTrust today", [("@BrightStartTrust", "HANDLE")]),
    ("message @foodbank_morley or @jo_w.", [("@foodbank_morley", "HANDLE"), ("@jo_w", "HANDLE")]),
    ("he posts as @DazzaK_1987, daily", [("@DazzaK_1987", "HANDLE")]),
    ("we post at @fairfares.bsky.social too", [("@fairfares.bsky.social", "HANDLE")]),
    ("(@_underscore_first)", [("@_underscore_first", "HANDLE")]),
])
def test_social_handles(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "meet @ 5pm at the hall", "meet @5pm", "2 @ £5 each", "don't email me @work or @home",
    "write to k.morrow@example.net",  # an e-mail, found as one below, never as a handle
])
def test_at_signs_that_are_not_handles(text):
    assert [x for x in found(text) if x[1] == "HANDLE"] == []


@pytest.mark.parametrize("text,ni", [
    ("My NI number is AB 12 34 56 C if needed", "AB 12 34 56 C"),
    ("NI: JM123456D.", "JM123456D"),
    ("national insurance ce482109a on the form", "ce482109a"),
    ("it was SH-90-12-47-D apparently", "SH-90-12-47-D"),
])
def test_national_insurance_numbers(text, ni):
    assert (ni, "ID") in found(text)


@pytest.mark.parametrize("text", [
    "the code GB 12 34 56 A is not one",  # GB is never a prefix
    "DA123456C and QQ123456C and AO123456B",  # D and Q never first, O never second
    "arrive at 12 34 56 a time",  # spaced lower case: words, not a number
    "AB123456E",  # suffix is A-D
])
def test_not_national_insurance_numbers(text):
    assert found(text) == []


@pytest.mark.parametrize("text", [
    "ref 943 476 5919 please", "943-476-5919", "(9434765919)", "quoted 186 091 3903 at the top",
])
def test_nhs_numbers_with_a_valid_check_digit(text):
    assert [label for _, label in found(text)] == ["ID"]


def test_nhs_number_with_a_wrong_check_digit_only_after_an_nhs_cue():
    assert found("Invoice 4471920386 was paid late.") == []  # check digit fails
    assert found("order 943 476 5918 arrived") == []
    for text in ("NHS number 943 476 5918", "my nhs no. is 6281948212",
                 "An NHS number of 1234567890 was printed"):
        assert [label for _, label in found(text)] == ["ID"], text
    # an 11-digit phone number is a phone, never an NHS number inside it
    assert found("ring 01134960275") == [("01134960275", "PHONE")]


@pytest.mark.parametrize("text,ident", [
    ("licence number WHITF802154JW9AB.", "WHITF802154JW9AB"),
    ("licence MORGA 753116 SM9IJ 35 today", "MORGA 753116 SM9IJ 35"),
    ("the car LR19 KXD was clamped", "LR19 KXD"),
    ("a van, BD68ZRT, twice", "BD68ZRT"),
    ("IBAN GB33 BUKB 2020 1555 5555 55 for gifts", "GB33 BUKB 2020 1555 5555 55"),
    ("my passport number 532871904 was stolen", "532871904"),
    ("Passport no. 120458893 needed", "120458893"),
    ("crime reference 13/456789/22 but", "13/456789/22"),
    ("Crime ref CR/2023/118274.", "CR/2023/118274"),
    ("gave me incident number PS-20230614-0457.", "PS-20230614-0457"),
    ("tenancy reference HT-0048213, still", "HT-0048213"),
])
def test_fixed_format_and_cued_identifiers(text, ident):
    assert (ident, "ID") in found(text)


def test_sort_code_and_account_number():
    assert found("sort code 20-45-77, account 31926819, thanks") == [
        ("20-45-77", "ID"), ("31926819", "ID")]
    assert found("paid into 30-91-52 41922817 monthly") == [("30-91-52", "ID"),
                                                            ("41922817", "ID")]
    assert found("sort code 30-91-52 for donations") == [("30-91-52", "ID")]  # date-like
    assert found("Sort code: 309152.") == [("309152", "ID")]
    assert found("on 12-03-19 the boiler broke") == []  # a date, no account after it


@pytest.mark.parametrize("text", [
    "the reference 2019-20 report", "case 12345 people", "order 10000 meals",
    "in case number one", "our account of 2023 was late", "the 42 bus every 15 minutes",
    "NHS 111 was no help", "regulation 38 of the act",
])
def test_numbers_that_are_not_identifiers(text):
    assert found(text) == []


@pytest.mark.parametrize("text,name", [
    ("If you need more please ask for Joanna Whitfield.", "Joanna Whitfield"),
    ("please speak to Dariusz Nowak in lettings", "Dariusz Nowak"),
    ("Thanks to Lydia Brennan at the depot", "Lydia Brennan"),
    ("email Okonkwo-Bright about it", "Okonkwo-Bright"),
    ("my caseworker Eilidh Munro is off sick", "Eilidh Munro"),
    ("The driver, Wiktor Zielinski, waited", "Wiktor Zielinski"),
    ("our neighbourhood officer Darren Coyle retired", "Darren Coyle"),
    ("ring Jeanette Bliss at the office", "Jeanette Bliss"),
])
def test_names_after_contact_verbs_and_roles(text, name):
    assert (name, "PERSON") in found(text)


def test_second_name_after_a_contact_verb():
    got = found("Speak with Hamza Qureshi or Lena Vogt at the centre")
    assert ("Hamza Qureshi", "PERSON") in got and ("Lena Vogt", "PERSON") in got


@pytest.mark.parametrize("text", [
    "please contact Housing Options first", "call NHS 111 out of hours",
    "speak to Adult Social Care", "email DVLA about it", "ring Greenway Homes Ltd",
])
def test_no_person_after_a_contact_verb_without_a_name(text):
    assert [x for x in found(text) if x[1] == "PERSON"] == []


@pytest.mark.parametrize("text,town", [
    ("Send post to Cragthorpe LS12 3AB.", "Cragthorpe"),
    ("Our hall is at Church Lane, Kirkby Stephen CA17 4QA.", "Kirkby Stephen"),
    ("write to us at\nCragthorpe-on-Sea,\nLS12 3AB", "Cragthorpe-on-Sea"),
    ("We are at 14 Holloway Road, Cragthorpe, near the park.", "Cragthorpe"),
    ("Visit Cragthorpe LS12 3AB for the day", "Cragthorpe"),
])
def test_town_next_to_a_postcode_or_a_street_address(text, town):
    assert (town, "PLACE") in found(text)


def test_address_lines_and_label_words_before_a_postcode():
    assert ("Unit 2, Tannery Yard", "ADDRESS") in found("bills at Unit 2, Tannery Yard, rose")
    assert ("Flat 3, 27 Kenmore Street", "ADDRESS") in found("I live at Flat 3, 27 Kenmore "
                                                             "Street and it is damp")
    assert found("Postcode LS12 3AB.") == [("LS12 3AB", "POSTCODE")]
    assert found("Post code: LS12 3AB") == [("LS12 3AB", "POSTCODE")]


@pytest.mark.parametrize("text", [
    "Scotland's approach is fairer than England's.",
    "Wales has abolished priority need; Northern Ireland has not.",
    "Trains in the UK cost more than in France, Germany or Poland.",
    "Waiting lists in the North East and the West Midlands are long.",
    "Europe-wide passes; Poland-born parents; India and Nigeria.",
])
def test_nations_regions_and_countries_stay(text):
    assert anon(text) == text


def test_nations_are_places_in_strict_mode_and_inside_a_longer_name():
    assert anon("Scotland's approach", strict=True) == "[PLACE]'s approach"
    assert anon("Shelter Scotland helped") == "[ORG] helped"  # an organisation, not a nation


@pytest.mark.parametrize("text,expected", [
    ("Fatuma Hassan's caseworker rang.", "[PERSON]'s caseworker rang."),
    ("We met Kwame’s mum in Wrexham's market.", "We met [PERSON_1]’s mum in [PLACE]'s market."),
    ("the Lankford Community Trust's accounts", "the [ORG]'s accounts"),
])
def test_possessives_stay_outside_the_placeholder(text, expected):
    if "Kwame" in text:
        expected = "We met [PERSON]’s mum in [PLACE]'s market."
    assert anon(text) == expected


@pytest.mark.parametrize("text", [
    "Society's expectations have changed.", "Stance: we oppose the merger.",
    "Attendance has dropped. Governors have written twice.",
    "Overall, the NHS did well. Funding is short.",
    "Check Trust wording before the report.",
])
def test_capitalised_everyday_words_stay(text):
    assert anon(text) == text


def test_handles_and_identifiers_stay_plain_in_a_project_numbering():
    numbering: dict = {}
    out = Anonymiser().anonymise_many(["@jo_w and @BrightStart: NI AB 12 34 56 C, 943 476 5919",
                                       "Kwame, @jo_w"], numbering=numbering)
    assert out == ["[HANDLE] and [HANDLE]: NI [ID], [ID]", "[PERSON_1], [HANDLE]"]
    assert set(numbering) == {"PERSON"}
