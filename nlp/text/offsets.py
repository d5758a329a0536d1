"""Text stage: rewrite texts (line ends, spaces, anonymisation) and carry character spans along,
so a span coded on the stored answer still covers the same words in an exported text."""
from __future__ import annotations

import re
from typing import Callable, Sequence

Span = tuple[int, int]
_CRLF = re.compile(r"\r\n?")
_WS = re.compile(r"\s+")


def _sub_with_map(text: str, pattern: re.Pattern[str], repl: str) -> tuple[str, list[int]]:
    """`pattern.sub(repl, text)` and a map: offset i of `text` -> its offset in the result
    (an offset inside a replaced run goes to the end of its replacement; len+1 entries)."""
    out: list[str] = []
    pos: list[int] = []
    last, n = 0, 0
    for m in pattern.finditer(text):
        a, b = m.span()
        out.append(text[last:a])
        pos.extend(range(n, n + (a - last)))
        n += a - last
        out.append(repl)
        pos.append(n)  # the run's start maps to the replacement's start
        pos.extend([n + len(repl)] * (b - a - 1))
        n += len(repl)
        last = b
    out.append(text[last:])
    pos.extend(range(n, n + len(text) - last))
    n += len(text) - last
    pos.append(n)
    return "".join(out), pos


def _map_spans(spans: Sequence[Span], pos: list[int]) -> tuple[Span, ...]:
    return tuple((pos[a], pos[b]) for a, b in spans)


def normalise_line_breaks(text: str, spans: Sequence[Span] = (), *, collapse: bool = False
                          ) -> tuple[str, tuple[Span, ...]]:
    """CRLF/CR -> LF (and with `collapse`, every run of white space -> one space, the ends
    stripped), with `spans` moved to cover the same characters (in the input's order; a span
    of nothing but white space may come back empty)."""
    t, pos = _sub_with_map(text, _CRLF, "\n")
    spans = _map_spans(spans, pos)
    if collapse:
        t, pos = _sub_with_map(t, _WS, " ")
        spans = _map_spans(spans, pos)
        lead = len(t) - len(t.lstrip(" "))
        t2 = t.strip(" ")
        spans = tuple((min(len(t2), max(0, a - lead)), min(len(t2), max(0, b - lead)))
                      for a, b in spans)
        t = t2
    return t, spans


def rewrite_with_spans(texts: Sequence[str], spans: Sequence[Sequence[Span]],
                       rewrite: Callable[[list[str]], list[str]]
                       ) -> tuple[list[str], list[tuple[Span, ...]]]:
    """Rewrite texts with `rewrite` (texts -> texts, e.g. the anonymiser) in one call, each
    text cut at its spans' edges so every span is rewritten on its own and its new offsets
    are known. A text without spans is rewritten whole.

    Returns:
        (new texts, new spans per text, in the input's order; a span rewritten to nothing
        comes back empty).
    """
    pieces: list[str] = []
    cuts: list[list[int]] = []
    for text, sp in zip(texts, spans):
        edges = sorted({0, len(text), *(e for s in sp for e in s if 0 <= e <= len(text))})
        cuts.append(edges)
        pieces.extend(text[a:b] for a, b in zip(edges, edges[1:]))
    done = list(rewrite(pieces)) if pieces else []
    out_texts: list[str] = []
    out_spans: list[tuple[Span, ...]] = []
    k = 0
    for text, sp, edges in zip(texts, spans, cuts):
        new_at = {edges[0]: 0}
        parts = []
        for a, b in zip(edges, edges[1:]):
            parts.append(done[k])
            k += 1
            new_at[b] = new_at[a] + len(parts[-1])
        out_texts.append("".join(parts))
        # Aligned with the input: a span rewritten to nothing comes back empty (a == b).
        out_spans.append(tuple((new_at.get(a, 0), new_at.get(b, 0)) for a, b in sp))
    return out_texts, out_spans
