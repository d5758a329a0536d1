"""Text stage: text as it is stored (line ends, control characters) and blank or non-answers."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..types import Codebook, Flag

# Line separators other than \n (vertical tab, form feed, NEL, U+2028/9) become \n; other control
# characters (NUL, ESC, BEL...) are invisible junk that PostgreSQL and XML exports refuse: they go.
_LINE_SEPS = {ord(c): "\n" for c in "\x0b\x0c\x85\u2028\u2029"}
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Any character clean_text changes: most text has none, and is returned after one search.
_CHANGES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")

NON_ANSWERS = {
    "n/a", "na", "n.a", "none", "nothing", "no comment", "no comments", "nothing to add",
    "nothing further", "nothing else", "don't know", "dont know", "do not know", "dk",
    "not applicable", "not sure", "unsure", "no", "nil", "no answer", "prefer not to say",
    "see above", "as above", "same as above", "no opinion", "-", "--", "?", ".", "...", "x",
}


def clean_text(value: str) -> str:
    """Text as it is stored: line ends as \\n, control characters removed, a lone UTF-16
    surrogate (half an emoji, from a broken JSON export) replaced by U+FFFD. Tabs, emoji,
    right-to-left text and combining marks are kept as they are.

    Import cleans answers with it; the store cleans every name and note a person types (a
    coder's name from the app's URL, a memo, a theme's label) with it on the way in and out;
    the command line cleans whatever it prints with it (an escape sequence from a file name
    or an older project never reaches the terminal)."""
    if _CHANGES.search(value) is None:
        return value
    s = value.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_SEPS)
    s = _CONTROL.sub("", s)
    return _SURROGATE.sub("\ufffd", s)


def clean_codebook(codebook: "Codebook") -> "Codebook":
    """`codebook` with its name, version, question and themes' labels, definitions and
    examples cleaned as `clean_text` cleans answers (the same object when nothing changes).
    A YAML escape ("\\e", "\\x07") or the codebook editor can put a control character there."""
    def fix(value):
        return clean_text(value) if isinstance(value, str) else value

    themes = tuple(replace(t, label=fix(t.label), definition=fix(t.definition),
                           include=tuple(fix(x) for x in t.include),
                           exclude=tuple(fix(x) for x in t.exclude)) for t in codebook.themes)
    cleaned = replace(codebook, name=fix(codebook.name), version=fix(codebook.version),
                      question=fix(codebook.question), themes=themes)
    return codebook if cleaned == codebook else cleaned


def flag_for(text: str) -> Flag | None:
    """'empty' for blank answers, 'non_answer' for "N/A", "no comment", "don't know"...; else None."""
    t = text.strip()
    if not t:
        return "empty"
    norm = re.sub(r"[\s.!]+$", "", t.lower().replace("’", "'")).strip()
    norm = re.sub(r"\s+", " ", norm)
    if norm in NON_ANSWERS or t.lower() in NON_ANSWERS:
        return "non_answer"
    return None
