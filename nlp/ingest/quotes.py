"""Ingest: lift respondents' quotes out of a published report's text, with section and speaker."""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

MIN_WORDS = 8

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_HTML_B = re.compile(r"^\s*<b>(.+?)</b>\s*$", re.I)
_NUM_HEADING = re.compile(
    r"^\s*(?:(?:chapter|section|part)\s+\d+[.:]?\s+|\d+(?:\.\d+){0,3}\.?\s+|"
    r"core principle \d+:\s*|appendix\s+\w+[.:]?\s*)[A-Z][^.!?]{2,100}$", re.I)
_OPEN_CLOSE = {"“": "”", '"': '"'}
_ATTR_AFTER = re.compile(
    r"^[\s*_’'”\".,;:]*(?:\(([^()]{2,80})\)|[–—-]\s*([A-Z][^.;()]{2,60}?)(?:[.;]|$))")


def _data_lines(name: str) -> list[str]:
    """The entries of a word list in nlp/data (one a line, "#" starts a comment line)."""
    text = resources.files("nlp").joinpath("data", name).read_text(encoding="utf-8")
    return [x.strip() for x in text.splitlines() if x.strip() and not x.startswith("#")]


def _alternation(words: list[str]) -> str:
    """A regex alternation of literal words, longest first (so none hides a longer one)."""
    return "|".join(re.escape(w) for w in sorted(dict.fromkeys(words), key=len, reverse=True))


# Who a quote is from: a role word (nlp/data/speaker_roles.txt), a pseudonym, a case study.
_ROLE = re.compile(
    r"\b((?:survey |workshop |focus group )?(?:" + _alternation(_data_lines("speaker_roles.txt"))
    + r")s?|organisation [A-Z]\b|case study[^.;,]{0,40})", re.I)
# A document, not a respondent, is being quoted: a cue just before the opening mark, such as
# "the white paper" or "<a public body> said" (the bodies of nlp/data/public_bodies.txt).
_DOC_CUE = re.compile(
    r"\b(white paper|green paper|the act|guidance|strategy|regulations?|the report|committee|"
    r"states?|stated|defin(?:es|ed|ition)|according to|published|entitled|called|titled|"
    r"prospectus|specification|the government|(?:"
    + _alternation(_data_lines("public_bodies.txt")) + r") said)\b[^“\"]{0,60}$",
    re.I)


# A footnote/reference right after the closing mark: a cited document, not a respondent.
_CITED = re.compile(r"^[\s.,;:’'”\"]*(?:<sup>|[¹²³⁴⁵⁶⁷⁸⁹⁰]|\[\d+\]|\(\d{4}\))")


@dataclass(frozen=True)
class Quote:
    """A quoted passage: its text (no quote marks), 1-based start line, section, speaker."""

    text: str
    line: int
    section: str | None = None
    speaker: str | None = None


def _heading(line: str, prev_blank: bool, next_blank: bool) -> str | None:
    if len(line) > 300:
        return None  # a paragraph on one line, never a heading (and no regex runs over it)
    if "\t" in line.strip():
        return None  # a table row
    m = _MD_HEADING.match(line)
    if m:
        inner = m.group(1).strip()
        if inner.startswith(">") or inner.endswith("<"):
            return None  # a pull-quote set as a heading
        return _strip_md(inner)
    m = _HTML_B.match(line)
    if m and len(m.group(1).split()) <= 12 and not line.rstrip().endswith("\t"):
        return _strip_md(m.group(1))
    s = line.strip()
    letters = sum(ch.isalpha() for ch in s)
    if not s or len(s) > 110 or letters < len(s) * 0.5 or s.endswith((".", ",", ";", ":", "”", '"')):
        return None
    if _NUM_HEADING.match(s) and prev_blank:
        return _strip_md(s)
    stripped = _strip_md(s)
    if (prev_blank and next_blank and s.startswith("**") and s.endswith("**")
            and 1 <= len(stripped.split()) <= 12):
        return stripped
    return None


def _strip_md(s: str) -> str:
    s = re.sub(r"</?b>", "", s)
    return s.strip().strip("*_ ").strip()


def _words(s: str) -> int:
    return len(re.findall(r"[A-Za-z0-9’']+", s))


def _clean_quote(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^[*_\s]+|[*_\s]+$", "", s)
    return s.strip()


def _speaker(after: str, before: str) -> str | None:
    m = _ATTR_AFTER.match(after)
    if m:
        who = (m.group(1) or m.group(2) or "").strip()
        if who and _words(who) <= 8 and not re.match(r"^(?:p\.|page|see|\d)", who, re.I):
            return who
    tail = before[-160:]
    roles = _ROLE.findall(tail)
    if roles:
        return roles[-1].strip().lower() if not roles[-1].lower().startswith("organisation") \
            else roles[-1].strip()
    m = _ROLE.search(after[:120])
    if m:
        w = m.group(1)
        return w if w.lower().startswith(("organisation", "case study")) else w.lower()
    return None


def _find_close(text: str, start: int, opener: str) -> int:
    """Index of the mark closing a quote opened by `opener` (reports mix “ with ")."""
    if opener == "“":
        c = [i for i in (text.find("”", start), text.find('"', start)) if i >= 0]
        return min(c) if c else -1
    return text.find('"', start)


class _Closer:
    """`_find_close` over one paragraph, remembering where each mark is next found, so a
    paragraph with thousands of quotes (and no ” at all) is searched once, not per quote."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.next: dict[str, int] = {}

    def _find(self, mark: str, start: int) -> int:
        hit = self.next.get(mark)
        if hit is None or (hit >= 0 and hit < start):
            hit = self.text.find(mark, start)
            self.next[mark] = hit
        return hit

    def find(self, start: int, opener: str) -> int:
        if opener == "“":
            c = [i for i in (self._find("”", start), self._find('"', start)) if i >= 0]
            return min(c) if c else -1
        return self._find('"', start)


_TAIL = 200  # characters after a quote read for its attribution, before it for its cue
_OPEN_MARK = re.compile(r"[“\"]")


_ATTR_LINE = re.compile(r"^[*_\s]*([A-Z][^.!?“”\"]{1,70}?)[*_\s]*$")


def _attribution_line(text: str) -> str | None:
    """A short paragraph that names the speaker of the quote above ("Organisation D")."""
    m = _ATTR_LINE.match(text)
    if not m or len(m.group(1).split()) > 8:
        return None
    who = m.group(1).strip()
    return who if _ROLE.search(who) or re.match(r"^(?:[A-Z][\w’'-]*\s?){1,6}$", who) else None


def _paragraphs(lines: Sequence[str], headings: dict[int, str]
                ) -> list[tuple[int, str, list[int]]]:
    """Join consecutive non-blank lines into paragraphs: (first line index, text, line starts).
    A heading line is always a paragraph of its own (PDF text often has no blank lines)."""
    paras: list[tuple[int, str, list[int]]] = []
    cur: list[str] = []
    starts: list[int] = []
    first = 0
    offset = 0  # where the next line starts in the joined paragraph (linear, not quadratic)
    for i, line in enumerate(lines):
        if i in headings:
            if cur:
                paras.append((first, " ".join(cur), starts))
                cur, starts, offset = [], [], 0
            paras.append((i, line.strip(), [0]))
        elif line.strip():
            if not cur:
                first = i
            starts.append(offset)
            cur.append(line.strip())
            offset += len(cur[-1]) + 1
        elif cur:
            paras.append((first, " ".join(cur), starts))
            cur, starts, offset = [], [], 0
    if cur:
        paras.append((first, " ".join(cur), starts))
    return paras


def extract_quotes(lines: Sequence[str], *, min_words: int = MIN_WORDS) -> list[Quote]:
    """Find respondents' quoted passages in a report's lines.

    Quoted passages are text in typographic (“...”) or straight ("...") double quotes of at
    least `min_words` words, including quotes that run across paragraphs; passages that look
    like quotes of documents (after "the White Paper states", "entitled") and pull-quotes
    (Markdown `> ... <`) are left out. Each quote carries the nearest heading above it.

    Args:
        lines: the document's text, one entry per line.
        min_words: shortest passage kept.

    Returns:
        Quotes in document order.
    """
    section: str | None = None
    out: list[Quote] = []
    headings: dict[int, str] = {}
    for i, line in enumerate(lines):
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_blank = i + 1 >= len(lines) or not lines[i + 1].strip()
        h = _heading(line, prev_blank, next_blank)
        if h and _words(h) >= 1:
            headings[i] = h
    paras = _paragraphs(lines, headings)
    carry: tuple[int, str, str, str] | None = None  # open quote spanning paragraphs
    for pi, (first, text, starts) in enumerate(paras):
        nxt = paras[pi + 1][1] if pi + 1 < len(paras) else ""
        for j in sorted(k for k in headings if k <= first):
            section = headings[j]
        if first in headings:
            carry = None
            continue
        if text.lstrip().startswith(">") and text.rstrip().endswith("<"):
            continue  # a pull-quote: the authors' own words repeated large
        pos = 0
        closer = _Closer(text)

        def after_of(close: int) -> tuple[str, bool]:
            """Text after a closing mark (bounded), and whether nothing but punctuation
            follows it in the paragraph."""
            rest = text[close + 1:close + 1 + _TAIL]
            bare = not rest.strip(" .,*_”\"'") and (
                close + 1 + _TAIL >= len(text) or not text[close + 1:].strip(" .,*_”\"'"))
            return rest, bare

        if carry is not None:
            cline, ctext, cbefore, csection = carry
            close = closer.find(0, "“")
            if close >= 0:
                full = f"{ctext} {text[:close]}"
                carry = None
                q = _clean_quote(full)
                if _words(q) >= min_words:
                    rest, bare = after_of(close)
                    who = _speaker(rest, cbefore)
                    if who is None and bare:
                        who = _attribution_line(nxt)
                    out.append(Quote(q, cline + 1, csection, who))
                pos = close + 1
            else:
                if len(ctext) < 3000:
                    carry = (cline, f"{ctext} {text}", cbefore, csection)
                else:
                    carry = None
                continue
        while True:
            m = _OPEN_MARK.search(text, pos)
            if m is None:
                break
            opener = m.group(0)
            close = closer.find(m.end(), opener)
            before = text[max(0, m.start() - _TAIL):m.start()]
            line_idx = first + bisect_right(starts, m.start()) - 1
            if close < 0:
                if opener == "“" or _words(text[m.end():]) >= min_words:
                    carry = (line_idx, text[m.end():], before, section or "")
                break
            inner = text[m.end():close]
            pos = close + 1
            q = _clean_quote(inner)
            if _words(q) < min_words:
                continue
            rest, bare = after_of(close)
            if _DOC_CUE.search(before[-80:]) or _CITED.match(rest):
                continue
            who = _speaker(rest, before)
            if who is None and bare:
                who = _attribution_line(nxt)
            out.append(Quote(q, line_idx + 1, section, who))
    return drop_repeats(out)


_TOKEN = re.compile(r"\w+")
REPEAT_SHARE = 0.8  # share of a quote's words found in a longer quote that makes it a repeat
REPEAT_LONGER = 1.25  # the longer quote has at least this many times the words: not a variant
REPEAT_MAX = 5000  # above this many quotes in one document the pairwise check is skipped


def drop_repeats(quotes: Sequence[Quote]) -> list[Quote]:
    """Leave out quotes that repeat part of a longer quote of the same document (reports print
    a line of a respondent's quote again as a pull-quote), keeping the longer one.

    A quote is a repeat when at least 80% of its distinct words are words of one quote with a
    quarter more words or more (or it is the same words again); two answers of like length
    that differ in a few words are both kept.
    """
    if len(quotes) > REPEAT_MAX:
        return list(quotes)
    words = [frozenset(_TOKEN.findall(q.text.lower())) for q in quotes]
    index: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            index.setdefault(w, []).append(i)
    keep = []
    for i, ws in enumerate(words):
        shared: dict[int, int] = {}
        for w in ws:
            for j in index[w]:
                if j != i:
                    shared[j] = shared.get(j, 0) + 1
        repeat = any(n >= REPEAT_SHARE * len(ws) and
                     (len(words[j]) >= REPEAT_LONGER * len(ws) or (words[j] == ws and j < i))
                     for j, n in shared.items())
        if not repeat:
            keep.append(quotes[i])
    return keep
