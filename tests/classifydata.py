"""A small three-theme codebook shared by the classifier's unit tests."""
from __future__ import annotations

from nlp.codebook import loads_codebook
from nlp.types import Codebook

_THEMES = """
  - id: money
    label: Money
    definition: funding budget reserves cost price money{money}
  - id: talk
    label: Communication
    definition: communication reply email told contact{talk}
  - id: kids
    label: Children
    definition: children young people families school
"""


def three_themes(*, question: str | None = None, examples: bool = True) -> Codebook:
    """Money, Communication and Children; with `examples`, an include example on money and
    an exclude example on communication; `question` as the codebook's question."""
    themes = _THEMES.format(
        money="\n    include: [we used our reserves]" if examples else "",
        talk="\n    exclude: [long complex documents]" if examples else "")
    head = "name: t\nversion: 1\n" + (f"question: {question}\n" if question else "")
    return loads_codebook(head + "themes:" + themes)
