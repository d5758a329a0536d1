"""Resolve: the one rule that turns every coder's codings into one status per answer and theme
(used by the exports, the report and training examples), keeping each coder's call and
whether researchers disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from .types import MODEL_CODER, Coding

RESOLUTION_RULE = ("A researcher's decision beats the model's suggestion; where researchers "
                   "differ, the latest decision wins (the disagreement flag marks those "
                   "answers and themes, and every coder's call is kept apart).")
#: What the exports' `resolution` column holds on every row: the rule's short name. The rule
#: itself (RESOLUTION_RULE) is written once, in the Excel README sheet and the README.
RESOLUTION_NAME = "decision over suggestion, latest decision wins"


@dataclass(frozen=True)
class Resolved:
    """One answer and theme after the rule: the status that stands, whose it is, each
    researcher's own call, the model's confidence, and whether researchers disagree."""

    status: str  # accepted | rejected | suggested
    coder: str  # whose decision stands ("model" for an open suggestion)
    decided_at: datetime | None = None
    coders: Mapping[str, str] = field(default_factory=dict)  # {researcher: status}
    confidence: float | None = None  # the model's, when it scored the theme
    suggested: bool = False  # the model suggested it
    spans: tuple[tuple[int, int], ...] = ()  # of the coding that stands

    @property
    def disagreement(self) -> bool:
        """Researchers who decided differ (accepted vs rejected)."""
        return len(set(self.coders.values())) > 1


def resolve_codings(codings: Iterable[Coding]) -> dict[tuple[str, str], Resolved]:
    """{(response_id, theme_id): Resolved} by RESOLUTION_RULE: the latest researcher decision
    (ties: the one stored last), else the model's suggestion."""
    latest: dict[tuple[str, str], Coding] = {}
    coders: dict[tuple[str, str], dict[str, str]] = {}
    model: dict[tuple[str, str], Coding] = {}
    for c in codings:
        key = (c.response_id, c.theme_id)
        if c.coder == MODEL_CODER:
            model[key] = c
            continue
        coders.setdefault(key, {})[c.coder] = c.status
        prev = latest.get(key)
        if prev is None or c.created_at >= prev.created_at:
            latest[key] = c
    out: dict[tuple[str, str], Resolved] = {}
    for key in model.keys() | latest.keys():
        m, d = model.get(key), latest.get(key)
        win = d or m
        assert win is not None
        out[key] = Resolved(status=d.status if d else "suggested", coder=win.coder,
                            decided_at=d.created_at if d else None,
                            coders=dict(sorted(coders.get(key, {}).items())),
                            confidence=m.confidence if m else None, suggested=m is not None,
                            spans=win.spans or ((win.span,) if win.span else ()))
    return out


def resolve_statuses(codings: Iterable[Coding]) -> dict[tuple[str, str], str]:
    """{(response_id, theme_id): accepted | rejected | suggested} by RESOLUTION_RULE."""
    return {k: r.status for k, r in resolve_codings(codings).items()}
