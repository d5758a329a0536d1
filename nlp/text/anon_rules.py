"""Anonymise stage, rules over the raw text: social-media handles, UK identifiers with a fixed
format (National Insurance, NHS, driving licence, vehicle registration, bank details, and
numbers after a cue such as "passport number" or "crime reference"), and places written next to
a postcode or a street address.

Each rule returns (start, end, label) triples; nlp.text.anonymise weighs them against its other
finds. Nothing here loads spaCy.
"""
from __future__ import annotations

import re
from importlib import resources
from typing import Callable, Iterable

Find = tuple[int, int, str]

# --- handles ------------------------------------------------------------------------------
# "@name", "@name_99", "@name.bsky.social"; not an e-mail (a word character before the "@"),
# not "@ 5pm" (a space after it), not "@5pm" (a name starts with a letter or "_").
_HANDLE = re.compile(r"(?<![\w@.+\-/])@([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)(?![\w@])")


def handles(text: str, common: Callable[[str], bool]) -> list[Find]:
    """Social-media handles; a lower-case everyday word ("@home", "@work") is "at", not one."""
    out = []
    for m in _HANDLE.finditer(text):
        name = m.group(1)
        if len(name) < 2 or (name.islower() and name.isalpha() and common(name)):
            continue
        out.append((m.start(), m.end(), "HANDLE"))
    return out


# --- identifiers with a fixed format --------------------------------------------------------
# National Insurance: two prefix letters (not D F I Q U V; second not O; not BG GB KN NK NT TN
# ZZ), six digits (often in pairs), a suffix A-D.
_NI = re.compile(r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])"
                 r"([ -]?)\d{2}\2\d{2}\2\d{2}\2([A-D])(?![\w])", re.I)
# NHS number: ten digits, 3-3-4 or together, with a mod-11 check digit.
_NHS = re.compile(r"(?<![\w\-/.])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w\-/]|\.\d)")
_NHS_CUE = re.compile(r"\bnhs\b[\s.:#-]*(?:(?:no|num|number|nos?)\b\.?)?[\s.:#-]*"
                      r"(?:(?:is|was|of)\s+)?\Z", re.I)
# UK driving licence: 5 of the surname (9-padded), 6 digits, 2 initials (9-padded), a digit,
# 2 check letters (and an optional 2-digit issue number).
_LICENCE = re.compile(r"(?<![\w])[A-Z9]{5}\s?\d{6}\s?[A-Z9]{2}\d[A-Z]{2}(?:\s?\d{2})?(?![\w])")
# Vehicle registration, the current format (2001-): AB12 CDE.
_PLATE = re.compile(r"(?<![\w])[A-Z]{2}\d{2} ?[A-Z]{3}(?![\w])")
# A sort code followed by an eight-digit account number; an IBAN.
_BANK = re.compile(r"(?<![\w-])(\d{2}-\d{2}-\d{2})(?:[\s,;/]+(?:(?:a/c|acc(?:ount)?)\.?"
                   r"(?:\s*(?:no|number)\.?)?\s*:?\s*)?(\d{8}))?(?![\w-])", re.I)
_SORT_CODE = re.compile(r"\bsort[\s-]?codes?\b[\s:.#=-]*(?:(?:is|was)\s+)?"
                        r"(\d{2}([- ]?)\d{2}\2\d{2})(?![\w-])", re.I)
_IBAN = re.compile(r"(?<![\w])GB\d{2} ?[A-Z]{4}(?: ?\d{4}){3} ?\d{2}(?![\w])")
# A number or reference right after words that say what it is: "passport number", "crime
# ref", "account"; a word that also has other senses ("case", "order") only with "number",
# "no.", "ref" or "reference" after it.
_QUAL = r"(?:number|no|num|nr|code|ref(?:erence)?|id|plate|details)"
# The words that need a qualifier are data (nlp/data/reference_nouns.txt), longest first.
_REF_NOUNS = "|".join(re.escape(w) for w in sorted(dict.fromkeys(
    x.strip() for x in resources.files("nlp").joinpath("data", "reference_nouns.txt")
    .read_text(encoding="utf-8").splitlines() if x.strip() and not x.startswith("#")),
    key=len, reverse=True))
_REF_CUE = re.compile(
    r"\b(?:(?:passport|driving\s+licen[cs]e|licen[cs]e|reference|ref|nino|utr|reg(?:istration)?|"
    rf"account|acc|a/c|sort[\s-]?code|national\s+insurance|ni)(?:\s+{_QUAL})?"
    r"|(?:" + _REF_NOUNS + rf")\s+{_QUAL})(?![A-Za-z])\.?"
    r"(?:\s*(?:is|was|:|#|=|-|of))*\s*", re.I)
_REF = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9/\-]*[A-Za-z0-9])?(?: \d{2,}(?![\w-]))*")
_DATELIKE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{2}|\d{4})|"
                       r"(?:19|20)\d{2}[/-]\d{2}(?:\d{2})?")


def _nhs_valid(digits: str) -> bool:
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    return check != 10 and (0 if check == 11 else check) == int(digits[9])


def _ref_like(token: str) -> bool:
    """A reference number: 5+ digits, or 3+ digits with 2+ letters; not a date."""
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    if _DATELIKE.fullmatch(token):
        return False
    return digits >= 5 or (digits >= 3 and letters >= 2 and len(token) >= 6)


def identifiers(text: str) -> list[Find]:
    """UK identifiers with a fixed format, as "ID"."""
    out: list[Find] = []
    for m in _NI.finditer(text):
        # spaced or hyphenated ("AB 12 34 56 C") only in capitals: "at 12 34 56 a" is not one
        if m.group(2) and not (m.group(1).isupper() and m.group(3).isupper()):
            continue
        out.append((m.start(), m.end(), "ID"))
    for m in _NHS.finditer(text):
        digits = m.group(1) + m.group(3) + m.group(4)
        if _nhs_valid(digits) or _NHS_CUE.search(text[max(0, m.start() - 30):m.start()]):
            out.append((m.start(), m.end(), "ID"))
    for rx in (_LICENCE, _PLATE, _IBAN):
        out.extend((m.start(), m.end(), "ID") for m in rx.finditer(text))
    out.extend((m.start(1), m.end(1), "ID") for m in _SORT_CODE.finditer(text))
    for m in _BANK.finditer(text):
        if m.group(2):
            out.append((m.start(1), m.end(1), "ID"))
            out.append((m.start(2), m.end(2), "ID"))
    for cue in _REF_CUE.finditer(text):
        ref = _REF.match(text, cue.end())
        if ref and cue.end() > cue.start() and _ref_like(ref.group()):
            out.append((ref.start(), ref.end(), "ID"))
    return out


# --- places next to postcodes and street addresses ------------------------------------------
_LINKS = r"(?:upon|on|in|le|under|by|the|next|de|en|super|sub|cum|y|yr|of)"
_LETTER = r"[^\W\d_]"
_WORD = rf"[A-Z](?:{_LETTER}|['’.])*(?:-{_LETTER}+)*(?![\w-])"
_TOWN = rf"(?<![\w'’-]){_WORD}(?: (?:{_LINKS} )*{_WORD}){{0,3}}"
_BEFORE = re.compile(rf"({_TOWN})[ \t]*,?[ \t]*\n?[ \t]*\Z")
_AFTER = re.compile(rf"[ \t]*(?:,[ \t]*|\n[ \t]*)({_TOWN})")  # used with .match(text, pos)
# "Flat 3, ...", "Unit 9, ...": an address line up to its next comma or line end.
_UNIT = re.compile(r"\b(?:Flat|Unit|Apartment|Apt|Suite|Room|Block|Plot)\.?\s+\d+[A-Za-z]?"
                   r"(?:,\s*|\s+)(?:\d+[A-Za-z]?\s+)?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,4}")
_NOT_TOWN = {"postcode", "post", "code", "area", "address", "zone", "district", "sector",
             "postal", "zip", "tel", "phone", "mobile", "email", "uk", "gb"}


def _town(words: str, start: int, text: str, stop: Callable[[str], bool],
          common: Callable[[str], bool]) -> tuple[int, int] | None:
    """The town in a run of capitalised words: label words and stop words out; a leading
    everyday word dropped at a sentence start ("Visit Hull HU1 ...")."""
    parts = words.split(" ")
    while parts and (parts[0].lower().strip(".") in _NOT_TOWN or stop(parts[0])):
        start += len(parts[0]) + 1
        parts = parts[1:]
    head = text[:start].rstrip(" \t")
    initial = not head or head[-1] in ".!?:\n"
    if len(parts) > 1 and initial and common(parts[0]):
        start += len(parts[0]) + 1
        parts = parts[1:]
    if not parts or parts[-1].lower().strip(".") in _NOT_TOWN:
        return None
    return start, start + len(" ".join(parts).rstrip("."))


def places_near_addresses(text: str, postcodes: Iterable[tuple[int, int]],
                          streets: Iterable[tuple[int, int]], *, stop: Callable[[str], bool],
                          common: Callable[[str], bool]) -> list[Find]:
    """Address lines ("Flat 3, Kenmore Court"), the town written just before a postcode
    ("Leeds LS1 4AB", "Leeds,\\nLS1 4AB") and the town after a street address ("12 Park Row,
    Leeds")."""
    out: list[Find] = [(m.start(), m.end(), "ADDRESS") for m in _UNIT.finditer(text)]
    for a, _ in postcodes:
        m = _BEFORE.search(text, max(0, a - 80), a)
        if m:
            found = _town(m.group(1), m.start(1), text, stop, common)
            if found:
                out.append((*found, "PLACE"))
    for _, b in [*streets, *((x[0], x[1]) for x in out if x[2] == "ADDRESS")]:
        m = _AFTER.match(text, b)
        if m:
            found = _town(m.group(1), m.start(1), text, stop, common)
            if found:
                out.append((*found, "PLACE"))
    return out
