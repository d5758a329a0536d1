"""Topics stage (labels): readable topic labels from keywords, led by the words that tell a
topic apart from the others (not the consultation's subject word, shared by most topics)."""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

__all__ = ["distinct_first", "distinct_label", "shared_words", "topic_label"]


def shared_words(keywords: Mapping[int, Sequence[str]], *, share: float = 0.5) -> set[str]:
    """Words held by a keyword of more than `share` of the topics (and at least two): a
    consultation's subject word, in every topic's keywords, tells no topic apart."""
    if len(keywords) < 2:
        return set()
    holders = Counter(w for ws in keywords.values() for w in {p for k in ws for p in k.split()})
    need = max(2, int(share * len(keywords)) + 1)
    return {w for w, c in holders.items() if c >= need}


def distinct_first(keywords: Mapping[int, Sequence[str]], *, share: float = 0.5
                   ) -> dict[int, list[str]]:
    """Each topic's keywords with those holding a word shared by most topics (`shared_words`)
    moved last, so that labels (from the first keywords) tell topics apart; the keywords
    themselves are all kept."""
    shared = shared_words(keywords, share=share)
    return {t: sorted(ws, key=lambda k: any(p in shared for p in k.split()))
            for t, ws in keywords.items()}


def distinct_label(keywords: Sequence[str], shared: set[str], *, display=None) -> str:
    """`topic_label` of the keywords holding no shared word (all of them when none is left)."""
    own = [k for k in keywords if not any(p in shared for p in k.split())]
    return topic_label(own or keywords, display=display)


def topic_label(keywords: Sequence[str], *, n: int = 3, display=None) -> str:
    """A readable label from keywords: the first `n` that share no word with one chosen
    (`display` maps a keyword to how it is shown, e.g. `LemmaAnalyzer.display`)."""
    chosen: list[str] = []
    for w in keywords:
        if any(set(w.split()) & set(c.split()) for c in chosen):
            continue
        chosen.append(w)
        if len(chosen) == n:
            break
    label = ", ".join(display(c) if display else c for c in chosen) or "(no keywords)"
    return label[:1].upper() + label[1:]
