"""Data model: the frozen types that flow between the stages."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Literal, Mapping, Sequence

Origin = Literal["model", "researcher"]
Status = Literal["suggested", "accepted", "rejected"]
Flag = Literal["empty", "non_answer"]

MODEL_CODER = "model"


def text_hash(text: str) -> str:
    """Stable hash of a text (sha256 hex of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Response:
    """One answer: a survey cell, an interview turn or a quote lifted from a report.

    `location` is the 1-based row (tables) or line (text files) it came from.
    `flag` marks empty answers and non-answers ("N/A", "don't know"): kept, not coded.
    """

    response_id: str
    text: str
    source: str = ""
    location: int | None = None
    respondent_id: str | None = None
    question: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    flag: Flag | None = None

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Corpus:
    """An ordered collection of responses: the one type passed between stages."""

    responses: tuple[Response, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "responses", tuple(self.responses))

    def __len__(self) -> int:
        return len(self.responses)

    def __iter__(self) -> Iterator[Response]:
        return iter(self.responses)

    def __getitem__(self, i: int) -> Response:
        return self.responses[i]

    @property
    def ids(self) -> list[str]:
        return [r.response_id for r in self.responses]

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.responses]

    def answers(self) -> "Corpus":
        """The responses that are real answers (not flagged empty or non-answer)."""
        return Corpus(tuple(r for r in self.responses if r.flag is None))

    def to_frame(self):  # -> pandas.DataFrame (import kept lazy: pandas is slow to import)
        import pandas as pd

        return pd.DataFrame([{
            "response_id": r.response_id, "text": r.text, "source": r.source,
            "location": r.location, "respondent_id": r.respondent_id,
            "question": r.question, "flag": r.flag, **{f"meta.{k}": v for k, v in r.metadata.items()},
        } for r in self.responses])

    @classmethod
    def from_texts(cls, texts: Sequence[str], ids: Sequence[str] | None = None) -> "Corpus":
        ids = list(ids) if ids is not None else [str(i) for i in range(len(texts))]
        return cls(tuple(Response(response_id=str(i), text=t) for i, t in zip(ids, texts)))


@dataclass(frozen=True)
class Theme:
    """A codebook theme: stable id, readable label, definition and borderline examples."""

    theme_id: str
    label: str
    definition: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    """A versioned set of themes, with the question the answers reply to (optional)."""

    name: str
    version: int | str
    themes: tuple[Theme, ...]
    question: str | None = None

    @property
    def theme_ids(self) -> list[str]:
        return [t.theme_id for t in self.themes]

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.theme_id == theme_id:
                return t
        raise KeyError(theme_id)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.question:
            d["question"] = self.question
        d["themes"] = []
        for t in self.themes:
            td: dict[str, Any] = {"id": t.theme_id, "label": t.label, "definition": t.definition}
            if t.include:
                td["include"] = list(t.include)
            if t.exclude:
                td["exclude"] = list(t.exclude)
            d["themes"].append(td)
        return d

    @property
    def content_hash(self) -> str:
        """Hash of what the themes mean (ids, labels, definitions, examples), order included."""
        d = self.to_dict()
        d["version"] = _hashed_version(self.version)
        return text_hash(json.dumps(d, sort_keys=True, ensure_ascii=False))[:16]


def _hashed_version(version: int | str) -> int | float | str:
    """The version as the hash takes it. Codebook YAML once read `version: 1.5` as the number
    1.5; it is now the text "1.5" as written. A text that reads back as the same number is
    hashed as that number, so a model or a project of an earlier release still matches."""
    if isinstance(version, str) and version.replace(".", "", 1).isdigit() \
            and version.isascii() and "." in version and repr(float(version)) == version:
        return float(version)
    return version


@dataclass(frozen=True)
class Coding:
    """One theme on one response, as decided by one coder.

    `coder` is who decided ("model" for the classifier, else a researcher's name);
    `origin` is where the theme came from (a model suggestion a researcher accepted keeps
    origin "model"); `confidence` is the model's probability when there is one.
    """

    response_id: str
    theme_id: str
    coder: str
    origin: Origin
    status: Status
    confidence: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    span: tuple[int, int] | None = None  # characters [start, end) it rests on; None: whole
    # Every span a researcher marked, in order (`span` is the first); (): the whole answer.
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ImportSummary:
    """What one imported file gave: counts, the choices made, and where it came from."""

    path: str
    format: str
    rows_read: int = 0
    imported: int = 0
    flagged: int = 0
    skipped_present: int = 0
    encoding: str | None = None
    columns: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source_already_present: bool = False


@dataclass(frozen=True)
class Memo:
    """One note: on an answer (target_id: its response id), a theme (its theme id) or the
    project (target_id "")."""

    memo_id: int
    target: str
    target_id: str
    author: str
    created_at: datetime
    text: str
