"""Report stage: choose the few quotes that best show a theme: representative, diverse, short."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

MAX_WORDS = 60
MIN_WORDS = 6
_SENT = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"”’')\]]))\s+(?=[\"“‘'(\[]?[A-Z0-9])")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class QuoteCandidate:
    """A coded response that could be quoted for a theme.

    `accepted`: a researcher confirmed the theme (else it is a model suggestion);
    `confidence`: the model's probability for the theme, when there is one;
    `reference`: where it came from, as the report cites it.
    """
    response_id: str
    text: str
    accepted: bool = False
    confidence: float | None = None
    reference: str = ""


@dataclass(frozen=True)
class SelectedQuote:
    """A quote chosen for a theme: the (possibly trimmed) text, its candidate and its score."""
    response_id: str
    text: str
    reference: str
    accepted: bool
    trimmed: bool
    score: float


_FOOTNOTE = re.compile(r"<(sup|script|style)\b[^<>]*>.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")


def plain_text(text: str) -> str:
    """`text` without markup, as a quote prints it: footnote markers (<sup>12</sup>) dropped
    with their number (scripts and styles with their code), any other HTML tag dropped with
    its text kept, entities (&amp;) decoded, and spaces left by a removed tag closed up
    ("limited<sup>12</sup>." -> "limited."). Text without tags or entities comes back
    unchanged ("<" and ">" in prose included)."""
    if "<" not in text and "&" not in text:
        return text
    out = _TAG.sub("", _FOOTNOTE.sub("", text))
    out = html.unescape(out) if "&" in out else out
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", out)).strip()


def words(text: str) -> int:
    return len(_WORD.findall(text))


def sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for quoting; no model needed)."""
    parts = [p.strip() for p in re.split(r"\n\s*\n|\n(?=[-•*] )", text) if p.strip()]
    out: list[str] = []
    for p in parts:
        out.extend(s.strip() for s in _SENT.split(" ".join(p.split())) if s.strip())
    return out


def _cut_words(text: str, max_words: int) -> str:
    ws = _WORD.findall(text)
    return " ".join(ws[:max_words]).rstrip(",;:–—-") + " …"


def trim(text: str, *, max_words: int = MAX_WORDS, focus: Sequence[str] = ()) -> tuple[str, bool]:
    """The shortest honest quote of `text`: the whole text if short enough, else the run of
    consecutive sentences (within `max_words`) that carries the most `focus` terms, with
    "…" where text was left out.

    Returns:
        (quote, trimmed?)
    """
    clean = " ".join(text.split())
    if words(clean) <= max_words:
        return clean, False
    sents = sentences(text)
    terms = {t.lower() for t in focus if len(t) > 2}

    def weight(s: str) -> float:
        toks = [w.strip(".,;:!?\"“”'’()").lower() for w in s.split()]
        return sum(1 for w in toks if w in terms) + 0.01 * min(words(s), 25)

    best: tuple[float, int, int] | None = None
    for i in range(len(sents)):
        n = 0
        for j in range(i, len(sents)):
            n += words(sents[j])
            if n > max_words:
                break
            w = sum(weight(s) for s in sents[i:j + 1])
            if best is None or w > best[0]:
                best = (w, i, j)
    if best is None:  # one sentence longer than max_words: cut it at a word boundary
        first = max(sents, key=weight) if sents else clean
        i = sents.index(first) if sents else 0
        return ("… " if i > 0 else "") + _cut_words(first, max_words), True
    _, i, j = best
    quote = " ".join(sents[i:j + 1])
    return ("… " if i > 0 else "") + quote + (" …" if j < len(sents) - 1 else ""), True


def _tfidf(texts: Sequence[str], extra: str = "") -> tuple[np.ndarray, np.ndarray | None]:
    docs = list(texts) + ([extra] if extra else [])
    try:
        m = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1).fit_transform(docs)
    except ValueError:  # every word a stop word
        m = TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(docs)
    dense = m.toarray()
    return (dense[:len(texts)], dense[len(texts)]) if extra else (dense, None)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n == 0, 1.0, n)


def select_quotes(candidates: Sequence[QuoteCandidate], *, k: int = 5,
                  embeddings: np.ndarray | None = None, theme_text: str = "",
                  max_words: int = MAX_WORDS, min_words: int = MIN_WORDS,
                  diversity: float = 0.35, duplicate: float = 0.85,
                  pool: int = 300) -> list[SelectedQuote]:
    """Pick up to `k` quotes for one theme by maximal marginal relevance.

    Relevance rewards a researcher's confirmation, the model's confidence and closeness to
    the theme's centroid (over `embeddings` when given, else TF-IDF vectors of the quotes,
    which also count closeness to `theme_text`); diversity penalises similarity to the quotes
    already chosen, and a quote closer than `duplicate` (cosine) to one of them is never taken.

    Args:
        candidates: the responses coded with the theme.
        k: how many quotes at most.
        embeddings: one row per candidate (same order), e.g. sentence embeddings.
        theme_text: the theme's label and definition (helps trimming and TF-IDF relevance).
        max_words: longer texts are trimmed to the sentences that carry the theme.
        min_words: shorter quotes are only used when nothing longer is left.
        diversity: weight of dissimilarity in MMR (0: relevance only).
        duplicate: cosine similarity above which two quotes count as the same.
        pool: only the `pool` most relevant candidates by status and confidence are scored.

    Returns:
        The chosen quotes, best first.
    """
    if not candidates or k <= 0:
        return []
    order = sorted(range(len(candidates)), key=lambda i: (
        not candidates[i].accepted, -(candidates[i].confidence or 0.0)))[:pool]
    cands = [candidates[i] for i in order]
    focus = re.findall(r"[A-Za-z]{3,}", theme_text)
    trimmed = [trim(c.text, max_words=max_words, focus=focus) for c in cands]
    quotes = [t for t, _ in trimmed]
    keep = [i for i, q in enumerate(quotes) if q.strip()]
    if not keep:
        return []
    cands, quotes = [cands[i] for i in keep], [quotes[i] for i in keep]
    trimmed = [trimmed[i] for i in keep]
    if embeddings is not None:
        vecs = _unit(np.asarray(embeddings, dtype=float)[[order[i] for i in keep]])
        theme_sim = np.zeros(len(cands))
    else:
        tf, theme_vec = _tfidf(quotes, theme_text)
        vecs = _unit(tf)
        theme_sim = vecs @ _unit(theme_vec) if theme_vec is not None else np.zeros(len(cands))
    centroid = _unit(vecs.mean(axis=0))
    central = vecs @ centroid
    status = np.array([1.0 if c.accepted else 0.0 for c in cands])
    conf = np.array([c.confidence if c.confidence is not None else (0.9 if c.accepted else 0.5)
                     for c in cands])
    n_words = np.array([words(q) for q in quotes])
    short = np.where(n_words < min_words, -1.0, 0.0)
    # A researcher's confirmation counts most; then closeness to what the theme's quotes share.
    relevance = 0.5 * status + 0.25 * conf + 0.35 * central + 0.15 * theme_sim + short
    sims = vecs @ vecs.T
    chosen: list[int] = []
    left = set(range(len(cands)))
    while left and len(chosen) < k:
        def mmr(i: int) -> float:
            red = max((sims[i, j] for j in chosen), default=0.0)
            return (1 - diversity) * relevance[i] - diversity * red

        best = max(sorted(left), key=mmr)
        left.discard(best)
        if any(sims[best, j] >= duplicate for j in chosen) or any(
                quotes[best].lower() == quotes[j].lower() for j in chosen):
            continue
        chosen.append(best)
    return [SelectedQuote(response_id=cands[i].response_id, text=quotes[i],
                          reference=cands[i].reference, accepted=cands[i].accepted,
                          trimmed=trimmed[i][1], score=float(relevance[i])) for i in chosen]


def with_text(quotes: Sequence[SelectedQuote], texts: Sequence[str]) -> list[SelectedQuote]:
    """The same quotes with new texts (e.g. anonymised), in order."""
    return [replace(q, text=t) for q, t in zip(quotes, texts)]
