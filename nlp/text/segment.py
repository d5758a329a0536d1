"""Classify stage helper: split answers into sentence/clause segments, fast and dependency-free.

spaCy's parser segments better (nlp.process), but coding 100k answers needs a splitter that
costs microseconds; this one is used for scoring segments against theme definitions and for
the evidence offsets stored with each suggestion.
"""
from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])|\s*\n\s*\n\s*|\s*;\s+|\s+[–—]\s+")
MIN_SEGMENT_WORDS = 4
MAX_SEGMENTS = 12


def segment_spans(text: str, *, min_words: int = MIN_SEGMENT_WORDS,
                  max_segments: int = MAX_SEGMENTS) -> list[tuple[int, int]]:
    """Character spans (start, end) of the sentences and clauses of `text`; a piece shorter
    than `min_words` joins its neighbour; long answers keep their first `max_segments` pieces.
    `text[start:end]` is the segment, stripped of surrounding white space."""
    pieces: list[tuple[int, int]] = []
    pos = 0
    for m in [*_SENT.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        chunk = text[pos:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            pieces.append((pos + lead, pos + len(chunk.rstrip())))
        if m is not None:
            pos = m.end()
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        if out and (len(text[s:e].split()) < min_words
                    or len(text[out[-1][0]:out[-1][1]].split()) < min_words):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    out = out[:max_segments]
    if not out:
        stripped = text.strip()
        start = text.find(stripped) if stripped else 0
        return [(start, start + len(stripped))]
    return out


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
    return [text[s:e] for s, e in segment_spans(text, min_words=min_words,
                                                  max_segments=max_segments)]
