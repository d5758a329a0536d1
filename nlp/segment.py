"""Classify stage helper: split answers into sentence/clause segments, fast and dependency-free.

spaCy's parser segments better (nlp.process), but coding 100k answers needs a splitter that
costs microseconds; this one is used for scoring segments against theme definitions.
"""
from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])|\s*\n\s*\n\s*|\s*;\s+|\s+[–—]\s+")
MIN_SEGMENT_WORDS = 4
MAX_SEGMENTS = 12


def split_segments(text: str, *, min_words: int = MIN_SEGMENT_WORDS,
                   max_segments: int = MAX_SEGMENTS) -> list[str]:
    """Sentences and clauses of `text` (short pieces merged into their neighbour).

    Args:
        text: one answer.
        min_words: a piece shorter than this joins the one before it.
        max_segments: long answers keep their first pieces only (scoring cost stays bounded).

    Returns:
        The segments; a single segment (the text) when it does not split.
    """
    pieces = [p.strip() for p in _SENT.split(text) if p and p.strip()]
    out: list[str] = []
    for p in pieces:
        if out and len(p.split()) < min_words:
            out[-1] = f"{out[-1]} {p}"
        elif out and len(out[-1].split()) < min_words:
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out[:max_segments] or [text.strip()]
