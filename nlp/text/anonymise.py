"""Anonymise stage: names, organisations, places and contact details -> typed placeholders."""
from __future__ import annotations

import bisect
import functools
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any, Mapping, Sequence

import spacy
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.matcher import PhraseMatcher

from .. import errors
from . import anon_rules
from .process import DEFAULT_BATCH_SIZE, DEFAULT_MODELS, ENV_MODEL, load_pipeline, pipe_chunks

logger = logging.getLogger("nlp.anonymise")

ALL_LABELS: tuple[str, ...] = ("PERSON", "ORG", "PLACE", "ADDRESS", "EMAIL", "PHONE", "POSTCODE",
                               "URL", "DOB", "HANDLE", "ID")
#: The types whose placeholders are numbered across a project ([ORG_3] is one organisation in
#: every quote and export); contact details are never told apart ([PHONE]).
NAMED_LABELS: tuple[str, ...] = ("PERSON", "ORG", "PLACE", "ADDRESS")

#: {label: {entity key: number}}: a project's placeholder numbering (JSON-serialisable).
Numbering = dict[str, dict[str, int]]
#: spaCy worker processes for the recogniser: environment variable NLP_SPACY_PROCESSES (default
#: 1: on a shared 2-core machine two processes were slower than one, see nlp.text.process; on a
#: machine with idle cores set it to their number).
ENV_PROCESSES = "NLP_SPACY_PROCESSES"
#: A progress bar is shown when at least this many texts go through spaCy at once.
PROGRESS_MIN_TEXTS = 1000
#: The recogniser's passes over texts since the process started: {"passes": calls of
#: `find_many` that ran spaCy, "texts": texts they took}. Read it to see whether an export
#: re-ran spaCy (the stored results of nlp.pipeline's anonymiser should make it not).
PIPE_STATS: dict[str, int] = {"passes": 0, "texts": 0}
#: Bump when a change of code changes what the recogniser finds (the rules' source files and
#: data are fingerprinted too, see `settings_fingerprint`), so stored results are recomputed.
RULES_VERSION = 1
# The data files the recogniser reads (nlp/data): a change to one invalidates stored results.
_RULE_DATA = ("common_words.txt", "nations.txt", "pii_first_names.txt", "pii_organisations.txt",
              "pii_places.txt", "pii_words.json", "programmes.txt", "pseudonym_nouns.txt",
              "public_bodies.txt", "sector_bodies.txt", "reference_nouns.txt")
_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(ALL_LABELS) + r")(?:_\d+)?\]")
# Characters a name never starts or ends with (Markdown marks, quotes, list punctuation).
_EDGE = " \t\r\n*_#~`\"“”‘'’,;:|•"


def _data(name: str) -> str:
    return resources.files("nlp").joinpath("data", name).read_text(encoding="utf-8")


def _lines(name: str) -> list[str]:
    return [x.rstrip("\n") for x in _data(name).splitlines() if x.strip() and not x.startswith("#")]


#: National public bodies: government departments, agencies, inspectorates, parliaments.
PUBLIC_BODIES: tuple[str, ...] = tuple(_lines("public_bodies.txt"))
#: National programmes, reforms and schemes ("the Troubled Families programme", "Sure Start").
PROGRAMMES: tuple[str, ...] = tuple(_lines("programmes.txt"))
#: Well-known national sector bodies (umbrella, infrastructure, representative, research).
SECTOR_BODIES: tuple[str, ...] = tuple(_lines("sector_bodies.txt"))
#: What anonymisation keeps by default: institutions are what findings are about, and they are
#: not personal data. ``Anonymiser(strict=True)`` replaces them too. Data, not code: extend the
#: files in nlp/data, or a project's list (``"anonymise": {"keep": [...]}`` in project.json).
KEEP_TERMS: tuple[str, ...] = tuple(dict.fromkeys(PUBLIC_BODIES + PROGRAMMES + SECTOR_BODIES))
#: Nations, the UK's regions, continents and countries: not personal details, kept by default
#: when they are the whole of a find ("Scotland's", not "Bridges Scotland"); strict mode
#: replaces them as places.
NATIONS: tuple[str, ...] = tuple(_lines("nations.txt"))
# A researcher's pseudonym already in the text ("Organisation H", "Participant 12"): not a name.
# The nouns are data (nlp/data/pseudonym_nouns.txt), longest first so none hides a longer one.
_PSEUDONYM = re.compile(
    r"\b(?:" + "|".join(re.escape(w) for w in sorted(dict.fromkeys(
        x.strip() for x in _lines("pseudonym_nouns.txt")), key=len, reverse=True))
    + r")\s+(?:[A-HJ-Z]|\d{1,3})(?![\w&'’-])")


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal information: char offsets in the text, its type and the text."""

    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class _Cand:
    start: int
    end: int
    label: str
    priority: float  # 5 researcher's terms, 4 patterns, 3 cue rules, 2 spaCy, 1-1.5 gazetteers


# --- patterns -----------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?<![@\w.])(?:https?://|www\.)[^\s<>\"')\]]+|(?<![@\w.\-])(?:[a-z0-9-]+\.)+"
                  r"(?:com|org|net|uk|io|ly|gov|info|biz|wales|scot|cymru|ie|eu)\b"
                  r"(?:/[^\s<>\"')\]]*)?", re.I)
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(0\)[\s.-]?)?\(?\d{1,5}\)?"
                    r"(?:[\s.-]?\d{2,5}){1,5}"  # international; then UK national below
                    r"|\(?0\d{2,5}\)?[\s.-]?\d{2,4}(?:[\s.-]?\d{2,4}){1,2})(?![\w])")
_POSTCODE = re.compile(r"(?<![\w])([A-Za-z]{1,2})(\d[A-Za-z\d]?) ?(\d[A-Za-z]{2})(?![\w])")
_AREAS = set("""AB AL B BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG
DH DL DN DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP
IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA
PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN
TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE""".split())
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|(?:19|20)\d{2}-\d{1,2}-\d{1,2}|"
                   rf"\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH}\.?,?\s+\d{{4}}|"
                   rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})(?!\w)", re.I)
_DOB_CUE = re.compile(r"\b(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s?date|birthday|born)",
                      re.I)
_DOB_STOP = re.compile(r"\n|[.!?]\s+[A-Z]")


def _pattern_cands(text: str) -> list[_Cand]:
    """Regex finds: e-mail, URL, phone, postcode, dates within 80 chars after a DOB cue, social
    handles and UK identifiers with a fixed format (nlp.text.anon_rules)."""
    out = [_Cand(*m.span(), "EMAIL", 4) for m in _EMAIL.finditer(text)]
    lex = _lexicon()
    out += [_Cand(a, b, label, 4) for a, b, label in
            anon_rules.handles(text, lex.is_common) + anon_rules.identifiers(text)]
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?")
        out.append(_Cand(m.start(), m.start() + len(url), "URL", 4))
    for m in _PHONE.finditer(text):
        digits = sum(ch.isdigit() for ch in m.group())
        if (10 <= digits <= 12) or (m.group().startswith("+") and 8 <= digits <= 15):
            out.append(_Cand(*m.span(), "PHONE", 4))
    for m in _POSTCODE.finditer(text):
        if m.group(1).upper() in _AREAS:
            out.append(_Cand(*m.span(), "POSTCODE", 4))
    for cue in _DOB_CUE.finditer(text):
        window = text[cue.end():cue.end() + 80]
        stop = _DOB_STOP.search(window, 1)
        for m in _DATE.finditer(window[:stop.start() if stop else None]):
            out.append(_Cand(cue.end() + m.start(), cue.end() + m.end(), "DOB", 4))
    return out


def _context_cands(text: str, found: list[_Cand]) -> list[_Cand]:
    """Address lines, and the towns next to a postcode or a street address (anon_rules)."""
    lex = _lexicon()
    posts = [(c.start, c.end) for c in found if c.label == "POSTCODE"]
    streets = [(c.start, c.end) for c in found if c.label == "ADDRESS"]

    def stop(word: str) -> bool:
        w = word.lower()
        return w in STOP_WORDS or w in lex.sets["date_words"]

    return [_Cand(a, b, label, 3) for a, b, label in anon_rules.places_near_addresses(
        text, posts, streets, stop=stop, common=lex.is_common)]


# --- gazetteers and token rules -----------------------------------------------------------
_NER = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
_NOT_PII = {"DATE", "TIME", "NORP", "EVENT", "LANGUAGE", "LAW", "MONEY", "PERCENT", "QUANTITY",
            "ORDINAL", "CARDINAL", "PRODUCT", "WORK_OF_ART"}
_DETERMINERS = {"the", "a", "an", "our", "my", "his", "her", "their", "this", "that", "your"}
_BREAKS = {".", "!", "?", ":", ";", "•", "-", "–", "—", "*", "|", "\"", "“", "(", "'",
           "‘"}


class _Lexicon:
    """The gazetteers and word lists in nlp/data, loaded once."""

    def __init__(self) -> None:
        self.names = dict((x.split("\t") + [""])[:2] for x in _lines("pii_first_names.txt"))
        self.places = {n.lower(): f for n, f in (x.split("\t") for x in _lines("pii_places.txt"))}
        self.orgs = _lines("pii_organisations.txt") + list(PUBLIC_BODIES)
        w = json.loads(_data("pii_words.json"))
        self.generic_terms = w["generic_terms"]
        self.generic = set(w["generic_org_words"]) | STOP_WORDS
        self.sets = {k: set(v) for k, v in w.items() if isinstance(v, list)}
        self.nations = frozenset(_norm(x) for x in NATIONS)

    @functools.cached_property
    def common(self) -> frozenset[str]:
        """Everyday English words in lower case (common_words.txt; loaded on first use)."""
        return frozenset(_lines("common_words.txt"))

    def is_common(self, word: str) -> bool:
        """Whether `word` (any case, a possessive "'s" aside) is an everyday English word."""
        w = re.sub(r"['’]s$", "", word).lower()
        return w in self.common or w in STOP_WORDS

    def phrase_matcher(self, nlp, extra: Mapping[str, str]) -> PhraseMatcher:
        """A matcher for the researcher's terms (labels "X_<LABEL>")."""
        matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for term, label in extra.items():
            matcher.add(f"X_{label}", [nlp.make_doc(term)])
        return matcher

    def is_generic_phrase(self, text: str) -> bool:
        return all(w.lower() in self.generic for w in re.findall(r"[\w&'’]+", text))


@functools.cache
def _lexicon() -> _Lexicon:
    return _Lexicon()


@functools.lru_cache(maxsize=4)
def _gazetteer_matcher(nlp) -> PhraseMatcher:
    """Places and organisations for one pipeline's vocab (built once: ~0.5 s)."""
    lex, matcher = _lexicon(), PhraseMatcher(nlp.vocab, attr="LOWER")
    matcher.add("PLACE", list(nlp.tokenizer.pipe(lex.places)))
    matcher.add("ORG", list(nlp.tokenizer.pipe(lex.orgs)))
    return matcher


def _initial(doc, i: int) -> bool:
    """Whether token i starts a sentence, a line or a quoted phrase."""
    while i > 0 and doc[i - 1].text in {"\"", "“", "'", "‘", "("}:
        i -= 1
    return i == 0 or doc[i - 1].text in _BREAKS or (doc[i - 1].is_space and "\n" in doc[i - 1].text)


def _capname(tok, lex: _Lexicon) -> bool:
    t = tok.text
    return (t[:1].isupper() and re.fullmatch(r"[^\W\d_][\w'’.]*", t) is not None
            and tok.lower_ not in STOP_WORDS and tok.lower_ not in lex.sets["date_words"]
            and t not in lex.sets["org_suffixes"] and t not in lex.sets["street_suffixes"]
            and t not in lex.sets["building_suffixes"])


def _name_end(doc, j: int, lex: _Lexicon, *, most: int = 3) -> int:
    """End (exclusive) of the name tokens starting at j: capitalised words, particles
    ("ap", "Ní", "van") and hyphens between them."""
    k, n = j, 0
    while k < len(doc) and n < most:
        t = doc[k]
        nxt = doc[k + 1] if k + 1 < len(doc) else None
        if nxt is not None and (t.lower_ in lex.sets["name_particles"] or (
                t.text == "-" and k > j and not doc[k - 1].whitespace_)) and _capname(nxt, lex):
            k += 1
        elif _capname(t, lex):
            k, n = k + 1, n + 1
        else:
            break
    return k


def _left_run(doc, i: int, lex: _Lexicon, most: int = 5) -> int:
    """Start of the run of capitalised words (and 'of', 'and', '&', "'s") ending before i."""
    j = i
    while j > 0 and i - j < most:
        p = doc[j - 1]
        if p.text in lex.sets["org_suffixes"] or p.text in lex.sets["street_suffixes"] or (
                p.text in lex.sets["building_suffixes"]):
            break  # the end of the previous name
        if p.text in ("of", "and", "for", "&", "'s", "’s", "-") or (
                p.text[:1].isupper() and p.lower_ not in _DETERMINERS and not p.is_punct):
            j -= 1
        else:
            break
    while j < i and (doc[j].text in ("of", "and", "for", "&", "'s", "’s", "-")):
        j += 1
    return j


def _street_end(doc, a: int, b: int, lex: _Lexicon) -> bool:
    """Whether tokens [a, b) name a street: they end in a street word ("Lane", "Road"), or in a
    weak one ("Park", "Way") after a house number; a first name before a street word that is
    also a surname ("Sarah Lane") is a person."""
    last = doc[b - 1].text
    if last in lex.sets["street_suffixes"]:
        return not (b - a == 2 and lex.names.get(doc[a].text) == "")
    return (last in lex.sets["street_suffixes_weak"]
            and re.fullmatch(r"\d+[A-Za-z]?", doc[a].text) is not None)


def _cue_name(doc, i: int, lex: _Lexicon) -> list[tuple[int, int, float]]:
    """Names right after a contact verb ("ask for X", "speak to X", "email X") or a role ("my
    caseworker X", "the driver, X"), and a second one after "or"/"and": (start, end, priority).
    A name led by a known first name is sure (3); capitalised words that are neither everyday
    words, places nor acronyms are a weak find (1.1: anything else found there wins)."""
    sets, out = lex.sets, []
    j = i + 1
    while j < len(doc):
        if j < len(doc) and doc[j].text in (",", ":", "-", "–"):
            j += 1
        if j >= len(doc) or doc[j].lower_.rstrip(".") in sets["honorifics"]:
            break  # the honorific rule takes it
        end = _name_end(doc, j, lex)
        if end == j or (end < len(doc) and doc[end].text in (
                sets["org_suffixes"] | sets["building_suffixes"] | sets["street_suffixes"]
                | sets["street_suffixes_weak"])):
            break  # not a name, or an organisation or a street ("contact Greenway Homes")
        flag = lex.names.get(doc[j].text)
        if flag == "" or (flag is not None and end - j >= 2):
            out.append((j, end, 3.0))
        elif (any(t.is_alpha and not lex.is_common(t.text) for t in doc[j:end])
              and not any(t.lower_ in lex.places or t.is_upper for t in doc[j:end])):
            out.append((j, end, 1.1))
        else:
            break
        if end + 1 < len(doc) and doc[end].lower_ in ("or", "and", "&", "/"):
            j = end + 1
            continue
        break
    return out


def _token_cands(doc, lex: _Lexicon, matchers: Sequence[PhraseMatcher]) -> list[_Cand]:
    """spaCy's entities, gazetteer matches and rules over tokens (names, orgs, addresses)."""
    out: list[_Cand] = []

    def span_c(a: int, b: int, label: str, priority: float) -> _Cand:
        return _Cand(doc[a].idx, doc[b - 1].idx + len(doc[b - 1]), label, priority)

    gaz: dict[tuple[int, int], str] = {}
    for key, a, b in [m for matcher in matchers for m in matcher(doc)]:
        kind, text = doc.vocab.strings[key], doc[a:b].text
        cap, initial = text[:1].isupper(), _initial(doc, a)
        if kind.startswith("X_"):
            out.append(span_c(a, b, kind[2:], 5))
        elif kind == "ORG" and cap and (b - a > 1 or not initial or text.isupper()):
            out.append(span_c(a, b, "ORG", 1.4))
            gaz[(a, b)] = "ORG"
        elif (kind == "PLACE" and doc[a].ent_type_ not in ("DATE", "TIME", "EVENT", "LAW")
              and text.lower() not in lex.sets["date_words"]  # the town of March: collateral
              and not (text.isupper() and len(text) > 1 and lex.is_common(text))):  # SEND
            place_kind = lex.places.get(text.lower(), "S")
            prev = doc[a - 1].lower_ if a else ""
            gaz.setdefault((a, b), "PLACE")
            kept = {"L": cap or (text.islower() and len(text) >= 4), "S": cap,
                    "M": cap and not initial,
                    "C": cap and (prev in lex.sets["place_preps"]
                                  or (prev == "the" and text.endswith("s")))}
            if kept[place_kind]:
                out.append(span_c(a, b, "PLACE", 1.2))
    for ent in doc.ents:
        label = _NER.get(ent.label_)
        a = ent.start
        while a < ent.end and (doc[a].lower_ in _DETERMINERS
                               or doc[a].lower_ in lex.sets["lead_words"]):
            a += 1  # "the", "Contact", "Later" are not part of the name
        if not label or a >= ent.end or not any(t.is_alpha for t in doc[a:ent.end]):
            continue
        one = ent.end - a == 1 or (ent.end - a == 2 and doc[a + 1].text in ("'s", "’s"))
        if (one and (a, a + 1) not in gaz and lex.is_common(doc[a].text)
                and not (label == "PERSON" and doc[a].text in lex.names)
                and (_initial(doc, a)
                     or (doc[a].is_upper and len(doc[a]) > 1 and label != "PERSON"))):
            continue  # "Stance:", "Society's ...", "the SEND review": capitals alone
        if ent.end - a >= 2 and _street_end(doc, a, ent.end, lex):
            label = "ADDRESS"  # "Mill Lane", "4 Station Road": a street, never a person
        elif (a, ent.end) in gaz:
            label = gaz[(a, ent.end)]  # spaCy's boundaries, the gazetteer's type
        elif (label == "PERSON" and ent.end - a >= 2
              and doc[ent.end - 1].text in lex.sets["building_suffixes"]):
            label = "PLACE"  # "Lansdowne House"
        elif (label == "PERSON" and ent.end - a >= 2
              and doc[ent.end - 1].text in lex.sets["org_suffixes"]):
            label = "ORG"  # "Bridges Trust"
        elif (label != "PERSON" and lex.names.get(doc[a].text) == ""
              and doc[a].lower_ not in lex.places and _name_end(doc, a, lex) >= ent.end):
            label = "PERSON"  # "Kwame", "Aoife Ní Bhriain" tagged GPE/ORG
        out.append(span_c(a, ent.end, label, 2))
    sets = lex.sets
    for tok in doc:
        i, low, text = tok.i, tok.lower_, tok.text
        prev = doc[i - 1].lower_ if i else ""
        title = low.rstrip(".")
        if title in sets["honorifics"] and (text[:1].isupper()
                                            or title in ("mr", "mrs", "ms", "dr")):
            j = i + 1 + (i + 1 < len(doc) and doc[i + 1].text == ".")
            end = _name_end(doc, j, lex)
            if end > j:
                out.append(span_c(j, end, "PERSON", 3))
            continue
        if low in sets["called"] or (low, prev) in (("me", "call"), ("is", "name")):
            end = _name_end(doc, i + 1, lex)
            if end > i + 1:
                out.append(span_c(i + 1, end, "PERSON", 3))
            elif (i + 1 < len(doc) and doc[i + 1].is_lower
                  and doc[i + 1].text.capitalize() in lex.names):
                out.append(span_c(i + 1, i + 2, "PERSON", 3))
            continue
        if (low in sets["contact_cues"] or f"{prev} {low}" in sets["contact_cues"]
                or low in sets["person_roles"] or low in sets["person_cues"]):
            out.extend(span_c(a, b, "PERSON", pr) for a, b, pr in _cue_name(doc, i, lex))
        if text in sets["org_of_prefixes"] and i + 2 < len(doc) and doc[i + 1].lower_ == "of":
            end = _name_end(doc, i + 2, lex)  # "Friends of Saltmarsh Park"
            if end > i + 2 and not lex.is_generic_phrase(doc[i + 2:end].text):
                out.append(span_c(i, end, "ORG", 3))
        if text in sets["org_prefixes"] or text in sets["street_prefixes"]:  # HMP X, Heol y X
            end = _name_end(doc, i + 1, lex)
            if end > i + 1:
                out.append(span_c(i, end, "ORG" if text in sets["org_prefixes"] else "ADDRESS", 3))
        if i and (text in sets["org_suffixes"] or text in sets["building_suffixes"]
                  or text in sets["street_suffixes"] or text in sets["street_suffixes_weak"]):
            j = _left_run(doc, i, lex)
            number = j > 0 and re.fullmatch(r"\d+[A-Za-z]?", doc[j - 1].text) is not None
            street = text in sets["street_suffixes"] or text in sets["street_suffixes_weak"]
            if (j == i - 1 and not number and text in sets["org_suffixes"] and _initial(doc, j)
                    and lex.is_common(doc[j].text)):
                j = i  # "Check Trust wording": an everyday word at a sentence start
            if j < i and (not lex.is_generic_phrase(doc[j:i].text) or (number and street)):
                if text in sets["org_suffixes"]:
                    out.append(span_c(j, i + 1, "ORG", 1.3))
                elif text in sets["building_suffixes"] and not number:
                    out.append(span_c(j, i + 1, "PLACE", 1.3))
                elif text not in sets["street_suffixes_weak"] or number:
                    out.append(span_c(j - number, i + 1, "ADDRESS", 1.3))
        # first names, with a following surname when there is one
        flag = lex.names.get(text) if text[:1].isupper() and not text.isupper() else (
            lex.names.get(text.capitalize()) if tok.is_lower and len(text) >= 3 else None)
        if flag is None or tok.ent_type_ in _NOT_PII:
            continue
        cue = prev in sets["person_cues"]
        end = _name_end(doc, i + 1, lex, most=2) if not tok.is_lower else i + 1
        named = end > i + 1 or cue
        if tok.is_lower:
            ok = flag == "" or (flag == "~" and cue)
        else:
            ok = flag == "" or (flag == "~" and (named or not _initial(doc, i))) or named
        if ok:
            out.append(span_c(i, end, "PERSON", 1.5 if named else 1))
    return out


class Anonymiser:
    """Find PII with spaCy NER plus gazetteers and patterns; replace it with placeholders.

    The same entity gets the same placeholder within one text; two or more distinct entities of
    one type are numbered ([PERSON_1], [PERSON_2]). Numbering restarts with each text, unless
    a `numbering` is passed to `anonymise_many`: then names are numbered across every text
    (and every call given the same numbering), so one organisation is one placeholder
    throughout a project. A placeholder already in the text is left alone, and a name in
    brackets ("Health Service [NHS]") becomes one placeholder, never "[[ORG]]".

    By default national public bodies, national programmes and well-known sector bodies
    (KEEP_TERMS) stay in the text: they are institutions, not people. `strict=True` replaces
    them too.

    Args:
        pipeline_name: spaCy pipeline to load (see `nlp.process.load_pipeline`); loaded on
            first use, not here.
        extra_terms: researcher's terms -> label (e.g. {"Bridges Project": "ORG"}); matched
            case-insensitively as whole phrases, and they win over everything else.
        allow_terms: phrases that stay (case-insensitive, whole phrase, a plural "s" allowed),
            on top of KEEP_TERMS (and kept in strict mode too: they were asked for by name).
        labels: the types to replace; others are left in the text.
        strict: replace KEEP_TERMS (public bodies, programmes, sector bodies) too.
    """

    def __init__(self, *, pipeline_name: str | None = None,
                 extra_terms: Mapping[str, str] | None = None,
                 allow_terms: Sequence[str] = (), labels: Sequence[str] = ALL_LABELS,
                 strict: bool = False) -> None:
        self.pipeline_name = pipeline_name
        self.extra_terms = extra_terms
        self.allow_terms = allow_terms
        self.labels = labels
        self.strict = strict

    # --- configuration --------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict (what `from_config` takes)."""
        return {"pipeline_name": self.pipeline_name,
                "extra_terms": dict(self.extra_terms or {}),
                "allow_terms": list(self.allow_terms), "labels": list(self.labels),
                "strict": bool(self.strict)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Anonymiser":
        """An Anonymiser from a dict made by `to_config` (missing keys take the defaults).

        Raises:
            SettingsError: a key that is not a setting.
        """
        known = ("pipeline_name", "extra_terms", "allow_terms", "labels", "strict")
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise errors.unknown_settings("anonymiser", unknown, list(known))
        return cls(**{k: config[k] for k in known if k in config})

    def _setup(self) -> None:
        """Validate the settings and build matchers (once)."""
        if getattr(self, "nlp_", None) is not None:
            return
        labels = tuple(self.labels)
        extra = dict(self.extra_terms or {})
        for label in [*labels, *extra.values()]:
            if label not in ALL_LABELS:
                raise errors.unknown_pii_label(label, list(ALL_LABELS))
        if isinstance(self.allow_terms, str):
            raise errors.bad_setting("allow_terms", "a list of phrases, not one string")
        nlp = load_pipeline(self.pipeline_name, components="ner")
        self.labels_ = frozenset(labels)
        self.matchers_ = (_gazetteer_matcher(nlp), _lexicon().phrase_matcher(nlp, extra))
        allow = [*self.allow_terms] + ([] if self.strict else list(KEEP_TERMS))
        self.allow_ = _phrase_regex(allow)
        self.generic_ = frozenset(map(_norm, _lexicon().generic_terms))
        self.nations_ = frozenset() if self.strict else _lexicon().nations
        self.nlp_ = nlp
        logger.debug("anonymiser ready: pipeline %s, %d labels, %d extra, %d allowed terms",
                     nlp.meta.get("name"), len(labels), len(extra), len(allow))

    # --- finding --------------------------------------------------------------------------
    def find(self, text: str) -> list[PiiSpan]:
        """The PII in one text.

        Args:
            text: any text (very long ones are processed in pieces).

        Returns:
            Non-overlapping spans sorted by start.
        """
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
                  n_process: int | None = None, progress: bool | None = None
                  ) -> list[list[PiiSpan]]:
        """`find` over many texts with spaCy's batching (one list of spans per text).

        Args:
            batch_size: texts per spaCy batch.
            n_process: spaCy worker processes (None: `process_count()`).
            progress: show a progress bar (None: when PROGRESS_MIN_TEXTS or more texts).
        """
        self._setup()
        cands: list[list[_Cand]] = [[] for _ in texts]
        if not texts:
            return []
        PIPE_STATS["passes"] += 1
        PIPE_STATS["texts"] += len(texts)
        n_process = process_count() if n_process is None else n_process
        progress = len(texts) >= PROGRESS_MIN_TEXTS if progress is None else progress
        for i, offset, doc in pipe_chunks(texts, pipeline=self.nlp_, batch_size=batch_size,
                                          n_process=n_process, progress=progress):
            found = _token_cands(doc, _lexicon(), self.matchers_) + _pattern_cands(doc.text)
            found += _context_cands(doc.text, found)
            cands[i].extend(_Cand(c.start + offset, c.end + offset, c.label, c.priority)
                            for c in found)
        return [self._resolve(text, cs) for text, cs in zip(texts, cands)]

    def _resolve(self, text: str, cands: list[_Cand]) -> list[PiiSpan]:
        """Drop generic and allowed phrases, then keep the best non-overlapping candidates."""
        allowed = [m.span() for m in self.allow_.finditer(text)] if self.allow_ and cands else []
        if cands:
            allowed = _merge(allowed + [m.span() for m in _PSEUDONYM.finditer(text)])
        done = [m.span() for m in _PLACEHOLDER.finditer(text)] if cands and "[" in text else []
        kept: list[_Cand] = []
        for c in cands:
            if done and any(c.start < b and a < c.end for a, b in done):
                continue  # a placeholder already there ("[ORG_2]") is not a name
            edge = _EDGE if c.label in NAMED_LABELS else None
            a, b = c.start + len(text[c.start:c.end]) - len(text[c.start:c.end].lstrip(edge)), c.end
            b -= len(text[a:b]) - len(text[a:b].rstrip(edge))
            if edge and b - a > 2 and text[b - 2:b] in ("'s", "’s"):
                b -= 2  # the possessive stays: "[PERSON_1]'s"
                b -= len(text[a:b]) - len(text[a:b].rstrip(edge))
            if b <= a:
                continue
            c = _Cand(a, b, c.label, c.priority)
            if c.label not in self.labels_:
                continue
            if c.priority < 5:  # a researcher's own terms are never allow-listed away
                norm = _norm(text[c.start:c.end])
                if norm in self.generic_ or (norm in self.nations_ and c.label != "PERSON"):
                    continue
                kept.extend(_cut(text, c, allowed))
            else:
                kept.append(c)
        kept = _drop_contained(kept)
        kept.sort(key=lambda c: (-c.priority, -(c.end - c.start), c.start))
        starts: list[int] = []
        taken: list[_Cand] = []  # sorted by start, non-overlapping
        for c in kept:
            k = bisect.bisect_left(starts, c.start)
            if (k and taken[k - 1].end > c.start) or (k < len(taken) and taken[k].start < c.end):
                # A name overlapping a better find keeps what lies outside it ("Leeds" of
                # spaCy's "Leeds LS1 4AB" beside the postcode), when that still reads as one.
                if c.label in NAMED_LABELS and c.priority < 4:
                    for part in self._outside(text, c, taken):
                        k = bisect.bisect_left(starts, part.start)
                        starts.insert(k, part.start)
                        taken.insert(k, part)
                continue
            starts.insert(k, c.start)
            taken.insert(k, c)
        return [PiiSpan(c.start, c.end, c.label, text[c.start:c.end]) for c in taken]

    def _outside(self, text: str, c: _Cand, taken: list[_Cand]) -> list[_Cand]:
        """The capitalised, non-generic pieces of `c` that no span in `taken` covers."""
        pieces, pos = [], c.start
        for t in taken:
            if t.end <= c.start or t.start >= c.end:
                continue
            pieces.append((pos, t.start))
            pos = max(pos, t.end)
        pieces.append((pos, c.end))
        out = []
        for a, b in pieces:
            frag = text[a:b]
            core = frag.strip(_EDGE + ".-–()")
            low = core.lower().rstrip(".")
            if (not core or not core[:1].isupper() or _FILLER.match(core) or len(core) < 2
                    or low in _lexicon().sets["honorifics"] or low in _lexicon().sets["lead_words"]
                    or low in _DETERMINERS):
                continue
            a += len(frag) - len(frag.lstrip(_EDGE + ".-–()"))
            if _norm(core) in self.generic_ or _norm(core) in self.nations_:
                continue
            if any(t.start < a + len(core) and a < t.end for t in taken):
                continue
            out.append(_Cand(a, a + len(core), c.label, c.priority))
        return out

    # --- replacing ------------------------------------------------------------------------
    def anonymise(self, text: str, *, numbering: Numbering | None = None) -> str:
        """`text` with its PII replaced by typed placeholders (see `anonymise_many`)."""
        return replace_spans(text, self.find(text), numbering=numbering)

    def anonymise_many(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
                       n_process: int | None = None,
                       numbering: Numbering | None = None) -> list[str]:
        """Anonymise many texts through `nlp.pipe` (batched; ~300-450 short texts/s on 2 cores).

        Args:
            texts: the texts.
            batch_size: texts per spaCy batch.
            n_process: spaCy worker processes (None: `process_count()`).
            numbering: {label: {entity key: number}}, updated in place: names are numbered
                across all texts with it ([ORG_1] is the same organisation everywhere); keep
                it (a project does, in its database) to number later texts the same way.

        Returns:
            The anonymised texts, in order.
        """
        return [replace_spans(t, s, numbering=numbering) for t, s in
                zip(texts, self.find_many(texts, batch_size=batch_size, n_process=n_process))]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the overlapping ones joined."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _phrase_regex(terms: Sequence[str]) -> re.Pattern[str] | None:
    parts = sorted({r"\s+".join(map(re.escape, t.split())) for t in terms if t.strip()},
                   key=len, reverse=True)
    if not parts:
        return None
    return re.compile(r"(?<![\w&])(?:the\s+)?(?:" + "|".join(parts) + r")s?(?![\w&])", re.I)


_FILLER = re.compile(r"^(?:[\W_]|\b(?:the|of|and|for|in|at|on|a|an|s)\b)*$", re.I)


_NAMES = ("PERSON", "ORG", "PLACE")


def _drop_contained(cands: list[_Cand]) -> list[_Cand]:
    """Drop a name, org or place find that lies inside a longer one from a list or pattern
    ("Shelter" from spaCy inside the gazetteer's "Shelter Cymru"): the longer one hides more."""
    out, best = [], (-1, -1)  # (start, end) of the furthest-reaching container so far
    for c in sorted(cands, key=lambda c: (c.start, -c.end)):
        if (c.label in _NAMES and c.priority < 3 and c.start < best[1]
                and (best[1] > c.end or (best[0] < c.start and best[1] >= c.end))):
            continue
        out.append(c)
        if c.label in _NAMES and c.priority >= 1.3 and c.end > best[1]:
            best = (c.start, c.end)
    return out


def _norm(text: str) -> str:
    return re.sub(r"^the\s+|['’]s$", "", " ".join(text.split()).casefold())


def _cut(text: str, cand: _Cand, allowed: list[tuple[int, int]]) -> list[_Cand]:
    """The parts of `cand` outside the (sorted, non-overlapping) allowed phrase spans."""
    inside = []
    for j in range(max(0, bisect.bisect_right(allowed, (cand.start, len(text) + 1)) - 1),
                   len(allowed)):
        if allowed[j][0] >= cand.end:
            break
        if allowed[j][1] > cand.start:
            inside.append(allowed[j])
    if not inside:
        return [cand]
    pieces, pos = [], cand.start
    for a, b in inside + [(cand.end, cand.end)]:
        if a > pos:
            pieces.append((pos, min(a, cand.end)))
        pos = max(pos, b)
    out = []
    for a, b in pieces:
        frag = text[a:b]
        core = frag.strip(" \t\n,;:'’-")
        if _FILLER.match(core):
            continue
        a += len(frag) - len(frag.lstrip(" \t\n,;:'’-"))
        out.append(_Cand(a, a + len(core), cand.label, cand.priority))
    return out


# --- placeholders ---------------------------------------------------------------------------
_HONORIFIC = re.compile(r"^(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|cllr)\.?\s+", re.I)


def _key(span: PiiSpan) -> str:
    t = " ".join(span.text.split()).casefold()
    if span.label == "PHONE":
        digits = re.sub(r"\D", "", t)
        return digits[2:].lstrip("0") if t.startswith("+44") else digits.lstrip("0")
    if span.label == "POSTCODE":
        return t.replace(" ", "")
    t = re.sub(r"^the\s+", "", t)
    t = re.sub(r"['’]s$", "", t)
    return _HONORIFIC.sub("", t) if span.label == "PERSON" else t


def placeholders(spans: Sequence[PiiSpan], *, numbering: Numbering | None = None) -> list[str]:
    """The placeholder for each span of one text: same entity, same placeholder.

    Without `numbering`, an entity type is numbered within the text when it holds two or
    more distinct entities of that type. With it, names (NAMED_LABELS) are always numbered from
    `numbering`, which gains the entities it has not seen (so [ORG_2] is the same organisation
    in every text numbered with it); contact details stay plain ([PHONE]).

    A person mentioned by part of a name given in full elsewhere in the text ("Fatuma",
    "Fatuma Hassan") counts as the same person when only one full name fits.
    """
    keys = [_key(s) for s in spans]
    people = {k for k, s in zip(keys, spans) if s.label == "PERSON"}
    alias: dict[str, str] = {}
    for k in people:
        fits = {o for o in people if set(k.split()) < set(o.split())}
        if len(fits) == 1:
            alias[k] = fits.pop()
    keys = [alias.get(k, k) if s.label == "PERSON" else k for k, s in zip(keys, spans)]
    if numbering is not None:
        out = []
        for k, s in zip(keys, spans):
            if s.label not in NAMED_LABELS:
                out.append(f"[{s.label}]")
                continue
            table = numbering.setdefault(s.label, {})
            if k not in table:
                table[k] = max(table.values(), default=0) + 1
            out.append(f"[{s.label}_{table[k]}]")
        return out
    order: dict[str, dict[str, int]] = {}
    for k, s in zip(keys, spans):
        order.setdefault(s.label, {}).setdefault(k, len(order.get(s.label, {})) + 1)
    out = []
    for k, s in zip(keys, spans):
        n = order[s.label]
        out.append(f"[{s.label}]" if len(n) == 1 else f"[{s.label}_{n[k]}]")
    return out


def replace_spans(text: str, spans: Sequence[PiiSpan], *,
                  numbering: Numbering | None = None) -> str:
    """`text` with each (non-overlapping, sorted) span replaced by its placeholder. A span that
    fills a pair of square brackets takes them with it ("[NHS]" -> "[ORG]", not "[[ORG]]")."""
    return put_placeholders(text, spans, placeholders(spans, numbering=numbering))


def put_placeholders(text: str, spans: Sequence[PiiSpan], marks: Sequence[str]) -> str:
    """`text` with each (non-overlapping, sorted) span replaced by its mark (`placeholders`
    gives them; see `replace_spans`)."""
    parts, pos = [], 0
    for span, ph in zip(spans, marks):
        a, b = span.start, span.end
        if a > pos and text[a - 1:a] == "[" and text[b:b + 1] == "]":
            a, b = a - 1, b + 1
        parts.append(text[pos:a])
        parts.append(ph)
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


@functools.lru_cache(maxsize=4)
def _cached(config: str) -> Anonymiser:
    return Anonymiser.from_config(json.loads(config))


def anonymise_texts(texts: Sequence[str], **options: Any) -> list[str]:
    """Anonymise texts with an Anonymiser built from `options` (its keyword arguments).

    Args:
        texts: the texts.
        **options: pipeline_name, extra_terms, allow_terms, labels, strict; and batch_size,
            numbering (see `Anonymiser.anonymise_many`).

    Returns:
        The anonymised texts, in order.
    """
    batch_size = options.pop("batch_size", DEFAULT_BATCH_SIZE)
    numbering = options.pop("numbering", None)
    config = Anonymiser(**options).to_config()
    return _cached(json.dumps(config, sort_keys=True)).anonymise_many(
        texts, batch_size=batch_size, numbering=numbering)


def anonymiser_for(**options: Any) -> Anonymiser:
    """The (shared, cached) Anonymiser built from `options` (its keyword arguments), as
    `anonymise_texts` uses it."""
    config = Anonymiser(**options).to_config()
    return _cached(json.dumps(config, sort_keys=True))


def process_count() -> int:
    """spaCy worker processes for the recogniser: ENV_PROCESSES when set to a whole number of
    at least 1, else 1."""
    raw = os.environ.get(ENV_PROCESSES, "").strip()
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        logger.warning("%s=%r is not a whole number; using 1 process", ENV_PROCESSES, raw)
        return 1


def _pipeline_version(name: str | None) -> str:
    """The spaCy pipeline package the recogniser would load and its version, read from the
    installed packages (the model itself is not loaded)."""
    for candidate in dict.fromkeys([name or os.environ.get(ENV_MODEL) or None, *DEFAULT_MODELS]):
        if candidate is None:
            continue
        try:
            return f"{candidate}=={metadata.version(candidate)}"
        except metadata.PackageNotFoundError:
            continue
    return "blank"


@functools.lru_cache(maxsize=1)
def _rules_digest() -> str:
    h = hashlib.sha256(f"rules {RULES_VERSION}\n".encode())
    for module in ("anonymise.py", "anon_rules.py", "process.py"):
        h.update(resources.files("nlp.text").joinpath(module).read_bytes())
    for name in _RULE_DATA:
        h.update(resources.files("nlp").joinpath("data", name).read_bytes())
    return h.hexdigest()


def settings_fingerprint(**options: Any) -> str:
    """A fingerprint of what decides the spans an Anonymiser built from `options` finds: its
    settings (keep list, strict mode, extra terms, labels, pipeline), the rules (RULES_VERSION,
    the source of this module, anon_rules and process, their data files), the spaCy version
    and the pipeline package's version. Stored results are valid for one fingerprint only.
    """
    options = {k: v for k, v in options.items() if k not in ("batch_size", "numbering")}
    config = Anonymiser(**options).to_config()
    blob = json.dumps({"config": config, "rules": _rules_digest(), "spacy": spacy.__version__,
                       "pipeline": _pipeline_version(config["pipeline_name"])},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def spans_to_json(spans: Sequence[PiiSpan], marks: Sequence[str] = ()) -> list[list[Any]]:
    """Spans as JSON-serialisable rows [start, end, label] (plus the placeholder each got, when
    `marks` is given): what a store keeps; `spans_from_json` reads them back."""
    if marks:
        return [[s.start, s.end, s.label, m] for s, m in zip(spans, marks)]
    return [[s.start, s.end, s.label] for s in spans]


def spans_from_json(text: str, rows: Sequence[Sequence[Any]]) -> list[PiiSpan]:
    """The spans of `text` from the rows `spans_to_json` made."""
    return [PiiSpan(int(r[0]), int(r[1]), str(r[2]), text[int(r[0]):int(r[1])]) for r in rows]
