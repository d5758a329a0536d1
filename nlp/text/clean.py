"""Text stage: text as it is stored (line ends, control characters) and blank or non-answers."""
from __future__ import annotations

import re

# Line separators other than \n (vertical tab, form feed, NEL, U+2028/9) become \n; other control
# characters (NUL, ESC, BEL...) are invisible junk that PostgreSQL and XML exports refuse: they go.
_LINE_SEPS = {ord(c): "\n" for c in "\x0b\x0c\x85\u2028\u2029"}
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")

NON_ANSWERS = {
    "n/a", "na", "n.a", "none", "nothing", "no comment", "no comments", "nothing to add",
    "nothing further", "nothing else", "don't know", "dont know", "do not know", "dk",
    "not applicable", "not sure", "unsure", "no", "nil", "no answer", "prefer not to say",
    "see above", "as above", "same as above", "no opinion", "-", "--", "?", ".", "...", "x",
}


def clean_text(value: str) -> str:
    """Text as it is stored: line ends as \\n, control characters removed, a lone UTF-16
    surrogate (half an emoji, from a broken JSON export) replaced by U+FFFD. Tabs, emoji,
    right-to-left text and combining marks are kept as they are."""
    s = value.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_SEPS)
    s = _CONTROL.sub("", s)
    return _SURROGATE.sub("\ufffd", s)


def flag_for(text: str) -> str | None:
    """'empty' for blank answers, 'non_answer' for "N/A", "no comment", "don't know"...; else None."""
    t = text.strip()
    if not t:
        return "empty"
    norm = re.sub(r"[\s.!]+$", "", t.lower().replace("’", "'")).strip()
    norm = re.sub(r"\s+", " ", norm)
    if norm in NON_ANSWERS or t.lower() in NON_ANSWERS:
        return "non_answer"
    return None
