"""Library code carries nothing of the bundled corpus's domain: another researcher brings another
codebook. Sector words live in data files (nlp/data/*.txt), the corpus name in one constant."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from nlp import corpora

NLP = Path(__file__).resolve().parents[2] / "nlp"

# The justice and commissioning sector of the bundled corpus: its bodies, services and words.
SECTOR_WORDS = ["prison", "prisons", "prisoner", "prisoners", "probation", "justice", "moj",
                "offender", "offenders", "reoffending", "rehabilitation", "commissioning",
                "clinks", "nacro", "nps", "hmpps", "through the gate", "dynamic framework"]


def _library_files() -> list[Path]:
    """Library code: every module of nlp/, not the data folder (where such terms belong)."""
    files = [p for p in NLP.rglob("*.py") if "data" not in p.relative_to(NLP).parts[:1]]
    assert len(files) > 30, files  # the walk found the package
    return files


def _domain_words() -> list[str]:
    cb = yaml.safe_load(corpora.codebook_path().read_text(encoding="utf-8"))
    labels = [t["label"] for t in cb["themes"]]
    assert labels, "the bundled codebook has no themes"
    return SECTOR_WORDS + labels + [corpora.DEFAULT_CORPUS]


def _hits(text: str, words: list[str]) -> list[str]:
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w-])",
                         re.I)
    return [m.group() for m in pattern.finditer(text)]


def test_the_word_check_finds_domain_words():
    words = _domain_words()
    assert _hits('matches "ministry of justice said"', words) == ["justice"]
    assert _hits(r"|Local authority|Prison|Prisons)\s+", words) == ["Prison", "Prisons"]
    assert _hits('corpus: str = "vcs-commissioning"', words) == ["vcs-commissioning"]
    assert _hits("'Bid candy' -> 'bid candy'", words) == ["Bid candy", "bid candy"]
    assert _hits("commissioner, commissioned, injustice, snps", words) == []


def test_library_code_names_no_domain_word():
    words = _domain_words()
    found = {}
    for path in _library_files():
        text = path.read_text(encoding="utf-8")
        if path == NLP / "corpora.py":  # the one constant naming the default corpus
            text = text.replace(f'DEFAULT_CORPUS = "{corpora.DEFAULT_CORPUS}"', "", 1)
        hits = _hits(text, words)
        if hits:
            found[str(path.relative_to(NLP))] = sorted(set(hits))
    assert not found, f"domain words in library code (move them to nlp/data/): {found}"


def test_default_corpus_constant_names_a_bundled_corpus():
    assert corpora.DEFAULT_CORPUS in corpora.available()
    assert corpora.corpus_path(corpora.DEFAULT_CORPUS).exists()
    assert corpora.codebook_path().parent.name == corpora.DEFAULT_CORPUS
