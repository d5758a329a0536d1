"""Ingest stage: the project-wide key of each answer read from a file, given a lookup of
what the project stores (nlp.pipeline passes the store's).

An id only has to be unique within its file. A second survey wave, or a second question
exported to its own file, numbers its answers from 1 again: when a file's own ids are already
in the project from another file with other texts, every id of the file is stored as
STEM:ID (its file name without the extension, e.g. wave2:1) and the file's own id is kept in
the answer's metadata as `id_in_file`, so both files import and stay traceable. An id stored
with the same text is skipped as already present (a cumulative export imported again); the
same file edited in place, or ids that still clash, are errors that name the row.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from .. import errors
from ..types import Response

ID_IN_FILE = "id_in_file"


class Stored(Protocol):
    """What the project stores under a response id (nlp.store.StoredAnswer)."""

    @property
    def text_hash(self) -> str: ...

    @property
    def source(self) -> str: ...  # file name ("" when entered directly)

    @property
    def path(self) -> str | None: ...  # resolved path the file was imported from


Lookup = Callable[[Sequence[str]], Mapping[str, Stored]]


def key_answers(lookup: Lookup, p: Path, answers: list[Response], file_ids: dict[str, str],
                *, unit: str, max_len: int
                ) -> tuple[list[Response], Mapping[str, Stored], list[str]]:
    """The answers under their project-wide keys, what is stored under those keys, and notes.

    Args:
        lookup: ids -> {id: what the project stores under it} for those stored (read in the
            import's transaction: `Store.stored_answers`).
        file_ids: {response_id: the file's own id} for answers whose id came from the file
            (not generated from the row or line).

    Raises:
        InputError: a re-keyed id too long for the database.
    """
    existing = lookup([r.response_id for r in answers])
    here = str(p.resolve())
    same = differ = 0
    others: set[str] = set()
    for r in answers:
        s = existing.get(r.response_id)
        if s is None or r.response_id not in file_ids:
            continue
        if s.text_hash == r.text_hash:
            same += 1
        elif s.path != here:
            differ += 1
            others.add(s.source)
    # Mostly other texts under the same ids, from another file: a numbering of its own.
    if differ == 0 or differ <= same:
        return answers, existing, []
    stem = p.stem
    keyed = []
    for r in answers:
        own = file_ids.get(r.response_id)
        if own is None:
            keyed.append(r)
            continue
        key = f"{stem}:{own}"
        if len(key) > max_len:
            raise errors.value_too_long(p, r.location or 0, "id (as " + repr(key[:40]) + "...)",
                                        len(key), max_len, unit=unit)
        keyed.append(dataclasses.replace(r, response_id=key,
                                         metadata={**r.metadata, ID_IN_FILE: own}))
    shown = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
    note = (f"{differ} of its ids are already in the project from another file ({shown}) with "
            f"other texts: its answers are stored as '{stem}:ID' (the file's own id is kept "
            f"as '{ID_IN_FILE}'; --id-prefix sets another prefix)")
    return keyed, lookup([r.response_id for r in keyed]), [note]
