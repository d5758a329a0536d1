"""REFI-QDA stage: what the reader and the writer share (namespaces, GUIDs, the selection line)."""
from __future__ import annotations

import re
import uuid

from ..types import Codebook

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = "consultation-nlp"
MODEL_USER_NAME = "consultation-nlp model (suggestions, not yet reviewed)"
SUGGESTIONS = ("open", "all", "none")
# Fixed namespace: the same theme, coder or response always gets the same GUID, so two
# exports of one project diff cleanly and a re-import matches what is already there.
_GUID_NS = uuid.UUID("6f1c2d0e-8a55-4c3b-9a7e-2f4b1d9c0a11")
_LINE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,63}): (accepted|suggested|rejected)"
                   r"( \(model suggestion\))?(?:, confidence ([0-9.]+))?$")
# Response fields carried as variables; everything else in metadata is a variable of its own.
_FIELDS = {"response_id": "response_id", "source file": "source", "row": "location",
           "question": "question", "respondent": "respondent_id", "flag": "flag"}


def guid(*parts: str) -> str:
    """A stable GUID (upper-case UUID 5) for the given parts."""
    return str(uuid.uuid5(_GUID_NS, "\x1f".join(parts))).upper()


def code_guid(codebook: Codebook, theme_id: str) -> str:
    """The GUID of a theme's code: the same in the .qdc and the .qdpx of one codebook."""
    return guid("code", codebook.name, theme_id)
