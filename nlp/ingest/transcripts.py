"""Ingest: split an interview transcript into speaker turns; respondents' turns become answers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

INTERVIEWER_LABELS = {
    "interviewer", "int", "i", "q", "question", "facilitator", "moderator", "researcher",
    "chair", "host",
}
_TURN = re.compile(
    r"^\s*(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?\)?\]?\s*)?"          # optional timestamp
    r"(?:\*\*)?([A-Z][A-Za-z0-9 .'’-]{0,30}?|[A-Z]{1,3}\d{0,3})(?:\*\*)?"  # speaker label
    r"\s*(?:\(\d{1,2}:\d{2}(?::\d{2})?\))?\s*:(?:\*\*)?\s+(\S.*)$")


@dataclass(frozen=True)
class Turn:
    """One speaker turn: label, text, 1-based first line, and whether it is the interviewer's."""

    speaker: str
    text: str
    line: int
    interviewer: bool


def _is_interviewer(label: str) -> bool:
    return label.strip().lower().rstrip(".") in INTERVIEWER_LABELS


def looks_like_transcript(lines: Sequence[str]) -> bool:
    """True when speaker-labelled lines ("Interviewer:", "R1:", "Q:") make up much of the text."""
    nonblank = [ln for ln in lines if ln.strip()]
    if not nonblank:
        return False
    labelled = [m.group(1) for ln in nonblank if (m := _TURN.match(ln))]
    if len(labelled) < 2:
        return False
    distinct = {lb.strip().lower() for lb in labelled}
    return len(labelled) / len(nonblank) >= 0.3 and (
        len(distinct) >= 2 or any(_is_interviewer(lb) for lb in labelled))


def split_turns(lines: Sequence[str]) -> list[Turn]:
    """Speaker turns in order; unlabelled lines continue the turn above them."""
    turns: list[Turn] = []
    cur: dict | None = None
    for i, line in enumerate(lines, start=1):
        m = _TURN.match(line)
        if m:
            if cur:
                turns.append(Turn(**cur))
            label = m.group(1).strip()
            cur = {"speaker": label, "text": m.group(2).strip(), "line": i,
                   "interviewer": _is_interviewer(label)}
        elif cur and line.strip():
            cur["text"] = f"{cur['text']} {line.strip()}"
    if cur:
        turns.append(Turn(**cur))
    return turns


def respondent_turns(lines: Sequence[str]) -> list[tuple[Turn, str | None]]:
    """Each respondent turn with the interviewer question it answers (None before any)."""
    out: list[tuple[Turn, str | None]] = []
    question: str | None = None
    for t in split_turns(lines):
        if t.interviewer:
            question = t.text
        else:
            out.append((t, question))
    return out
