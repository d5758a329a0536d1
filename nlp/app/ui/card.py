"""App: what the review card shows, as plain data (no Streamlit calls): the theme rows in score
order, the answer's sentences, and the answer as safe Markdown with its spans and search hits."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ...store.review import ReviewContext
from ...text.segment import segment_spans
from ...types import MODEL_CODER, Codebook
from .widgets import escape_md

NEAR_MISSES = 2     # unsuggested themes with the highest scores, offered as possible
SHOWN_SCORE = 0.005  # a score that prints as 0.00 is no suggestion at all: not offered
MAX_SENTENCES = 200


@dataclass(frozen=True)
class ThemeRow:
    """One theme on the card: why it is there, its score, and who decided what."""

    theme_id: str
    label: str
    definition: str
    kind: str               # "suggested", "possible" (a near miss) or "not suggested"
    score: float | None
    mine: str | None        # this coder's status
    others: Mapping[str, str] = field(default_factory=dict)  # other researchers' statuses
    cut: float | None = None  # the theme's cut in the model's last run (None: not known)

    @property
    def origin(self) -> str:
        return "researcher" if self.kind == "not suggested" else "model"

    @property
    def strength(self) -> str:
        """The state and the score against the theme's own cut, and why, where the two seem
        to disagree: "suggested · 0.15 (cut 0.12)"."""
        if self.score is None:
            return self.kind
        text = f"{self.kind} · {self.score:.2f}"
        if self.cut is None:
            return text
        text += f" (cut {self.cut:.2f})"
        if self.kind == "suggested" and self.score < self.cut:
            text += " · under its cut, but the answer's likeliest theme"
        elif self.kind == "possible" and self.score >= self.cut:
            text += " · over its cut, but far below the answer's likeliest theme"
        return text


CUT_HELP = ("Each theme has its own cut, learned from the coded examples: the model suggests "
            "a theme when its score reaches the cut and is not far below the answer's "
            "likeliest theme, and always suggests the likeliest theme. A score is only "
            "comparable with its own theme's cut, not with another theme's score.")


def theme_rows(ctx: ReviewContext, codebook: Codebook, coder: str, *, blind: bool = False,
               near_misses: int = NEAR_MISSES, cuts: Mapping[str, float] | None = None
               ) -> list[ThemeRow]:
    """The themes in play on an answer, highest score first: the model's suggestions, the
    themes a researcher decided (in blind mode only this coder's), and the `near_misses`
    best-scoring others. A theme whose score rounds to 0.00 is never offered as possible.
    `cuts` ({theme id: cut} of the model's last run) go on the rows, to show beside scores.
    """
    dec = ctx.decisions
    score = {t: ctx.scores.get(t, ctx.confidences.get(t)) for t in codebook.theme_ids}

    def people(t: str) -> dict[str, str]:
        d = {c: s for c, s in dec.get(t, {}).items() if c != MODEL_CODER}
        return {c: s for c, s in d.items() if c == coder} if blind else d

    suggested = {t for t in codebook.theme_ids if dec.get(t, {}).get(MODEL_CODER)}
    decided = {t for t in codebook.theme_ids if people(t)}
    near = [t for t in sorted(codebook.theme_ids, key=lambda t: -(score[t] or 0.0))
            if t not in suggested and t not in decided
            and (score[t] or 0.0) >= SHOWN_SCORE][:near_misses]
    in_play = suggested | decided | set(near)
    order = {t: i for i, t in enumerate(codebook.theme_ids)}

    def rank(t: str) -> tuple[float, int]:
        """Highest score first (unscored last), then codebook order."""
        s = score[t]
        return -(s if s is not None else -1.0), order[t]

    rows = []
    for t in sorted(in_play, key=rank):
        theme = codebook.theme(t)
        who = people(t)
        rows.append(ThemeRow(
            theme_id=t, label=theme.label, definition=theme.definition,
            kind="suggested" if t in suggested else "possible" if t in near else "not suggested",
            score=score[t], mine=who.get(coder),
            others={c: s for c, s in who.items() if c != coder},
            cut=(cuts or {}).get(t)))
    return rows


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The answer's sentences as character spans, as the model cut them for its evidence."""
    return segment_spans(text, max_segments=MAX_SENTENCES)


def spans_of(picked: Sequence[int], sentences: Sequence[tuple[int, int]]
             ) -> list[tuple[int, int]]:
    """Picked sentence numbers (0-based) as character spans, neighbours joined into one."""
    out: list[tuple[int, int]] = []
    last = None
    for i in sorted(set(picked)):
        if not 0 <= i < len(sentences):
            continue
        s, e = sentences[i]
        if out and last == i - 1:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
        last = i
    return out


def sentences_in(span: tuple[int, int] | None, sentences: Sequence[tuple[int, int]]
                 ) -> list[int]:
    """The sentence numbers a character span overlaps (to preselect the model's evidence)."""
    if span is None:
        return []
    s, e = span
    return [i for i, (a, b) in enumerate(sentences) if a < e and s < b]


def search_hits(text: str, query: str | None) -> list[tuple[int, int]]:
    """Where `query` occurs in `text`, ignoring case (as the queue's search does)."""
    q = (query or "").strip()
    if not q:
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(q), text, re.IGNORECASE)]


MARK, HIT, CODED = 1, 2, 4


def _wrap(chunk: str, f: int) -> str:
    """One run of text with the same marks, as Markdown (white space kept outside markup)."""
    core = chunk.strip()
    if not core or not f:
        return escape_md(chunk)
    lead, tail = chunk[: len(chunk) - len(chunk.lstrip())], chunk[len(chunk.rstrip()):]
    body = escape_md(core)
    if f & HIT:
        body = f"**{body}**"
    colour = "green" if f & CODED else "orange" if f & MARK else "blue"
    return f"{lead}:{colour}-background[{body}]{tail}"


def highlight_md(text: str, *, marks: Sequence[tuple[int, int]] = (),
                 hits: Sequence[tuple[int, int]] = (),
                 coded: Sequence[tuple[int, int]] = ()) -> str:
    """`text` as Markdown that shows exactly its characters (see escape_md), with the `marks`
    (the model's evidence, or the sentences picked to code) on an orange background, the
    spans this coder `coded` on green, and the search `hits` in bold (on blue outside a
    mark). Line breaks are kept."""
    n = len(text)
    flags = [0] * n
    for bit, spans in ((MARK, marks), (HIT, hits), (CODED, coded)):
        for s, e in spans:
            for i in range(max(0, s), min(n, e)):
                flags[i] |= bit
    lines: list[str] = []
    for line_start, line in _lines(text):
        out, i = [], 0
        while i < len(line):
            f = flags[line_start + i]
            j = i
            while j < len(line) and flags[line_start + j] == f:
                j += 1
            out.append(_wrap(line[i:j], f))
            i = j
        lines.append("".join(out))
    return "  \n".join(lines)


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out
