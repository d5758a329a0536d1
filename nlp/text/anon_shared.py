"""Anonymise stage, shared across outputs: one placeholder numbering and a project's options.

A `SharedAnonymiser` turns texts into anonymised texts with given options and a numbering kept
by a `NumberingStore` (the project's store, passed in by nlp.pipeline), so:

- the same name gets the same placeholder in every quote and every file: the numbering
  ({label: {entity: number}}) is kept by the store and grows as new names are met;
- a project's own options apply, parsed by `anonymise_options` from the "anonymise" section
  of its project.json:

      "anonymise": {"strict": false,
                    "keep": ["Bridges Project"],
                    "keep_file": "keep-names.txt",
                    "replace": {"Styal": "PLACE"}}

  `keep` (and `keep_file`, one name a line, relative to the project folder, # for comments):
  names that stay, on top of the shipped list of public bodies, programmes and sector bodies
  (nlp.text.anonymise.KEEP_TERMS); `strict`: replace the shipped list's names too (a
  project's own `keep` still stays); `replace`: names always replaced, with their type.

This module does not load spaCy: `nlp.text.anonymise` is imported when texts are anonymised.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from .. import errors
from ..fsio import read_input

log = logging.getLogger(__name__)

SECTION = "anonymise"
KNOWN = ("strict", "keep", "keep_file", "replace")
KEEP_FILE_BYTES = 16 * 1024 * 1024  # a keep-list is names, one a line


def anonymise_options(section: Any, *, root: str | Path | None = None) -> dict[str, Any]:
    """Anonymisation options (keyword arguments of `anonymise_texts`) from the "anonymise"
    section of a project.json (None or {}: the defaults).

    Args:
        section: the section as read.
        root: the folder a relative `keep_file` is read from (the project's).

    Raises:
        SettingsError: an unknown key or a value of the wrong kind.
    """
    section = section or {}
    if not isinstance(section, Mapping):
        raise errors.bad_setting("project.json 'anonymise'", "an object of settings")
    unknown = sorted(set(section) - set(KNOWN))
    if unknown:
        raise errors.unknown_settings("anonymise (project.json)", unknown, list(KNOWN))
    strict = section.get("strict", False)
    if not isinstance(strict, bool):
        raise errors.bad_setting("anonymise.strict", "true or false")
    keep = section.get("keep", [])
    if isinstance(keep, str) or not all(isinstance(x, str) for x in keep):
        raise errors.bad_setting("anonymise.keep", "a list of names")
    keep = list(keep)
    if section.get("keep_file"):
        path = Path(section["keep_file"])
        path = path if path.is_absolute() or root is None else Path(root) / path
        try:  # the one checked reader: never a pipe or a device, never without end
            text = read_input(path, limit=KEEP_FILE_BYTES, what="keep-list").decode("utf-8")
            keep += [x.strip() for x in text.splitlines()
                     if x.strip() and not x.lstrip().startswith("#")]
        except errors.InputError as exc:
            raise errors.keep_file_unreadable(path, exc.problem, exc.hint) from None
        except UnicodeDecodeError as exc:
            raise errors.keep_file_not_utf8(path, exc.start) from None
    replace = section.get("replace", {})
    if not isinstance(replace, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in replace.items()):
        raise errors.bad_setting("anonymise.replace", "an object of name: type (e.g. "
                                 "{\"Styal\": \"PLACE\"})")
    out: dict[str, Any] = {}
    if strict:
        out["strict"] = True
    if keep:
        out["allow_terms"] = keep
    if replace:
        out["extra_terms"] = dict(replace)
    return out


class NumberingStore(Protocol):
    """Where the shared placeholder numbering lives (the project's store)."""

    def placeholder_numbering(self) -> dict[str, dict[str, int]]: ...

    def save_placeholder_numbering(self, numbering: Mapping[str, Mapping[str, int]]
                                   ) -> dict[str, dict[str, int]]: ...


class SharedAnonymiser:
    """texts -> anonymised texts with given options and one shared numbering.

    Args:
        options: keyword arguments of `anonymise_texts` (see `anonymise_options`).
        numbering: where the numbering is kept (None: numbered afresh, kept nowhere).
        strict: overrides the options' `strict` when not None.
        defer: keep new placeholder numbers in memory until `save()` (an export calls it once
            its file is written, so a failed export leaves the project unchanged); by default
            each call saves them.
    """

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 numbering: NumberingStore | None = None, strict: bool | None = None,
                 defer: bool = False) -> None:
        self._store = numbering
        self.options = dict(options or {})
        self.defer = defer
        self._pending: dict[str, dict[str, int]] | None = None
        if strict is not None:
            self.options.pop("strict", None)
            if strict:
                self.options["strict"] = True

    def _numbering(self) -> dict[str, dict[str, int]]:
        return self._store.placeholder_numbering() if self._store is not None else {}

    def __call__(self, texts: Sequence[str]) -> list[str]:
        from .anonymise import anonymise_texts

        numbering = self._pending if self._pending is not None else self._numbering()
        before = {label: dict(table) for label, table in numbering.items()}
        out = anonymise_texts(list(texts), numbering=numbering, **self.options)
        if self.defer:
            self._pending = numbering
        elif numbering != before:
            self._save(numbering)
        return out

    def save(self) -> None:
        """Store the numbering a deferred anonymiser has met (nothing when it met no new name)."""
        if self._pending is not None:
            self._save(self._pending)
            self._pending = None

    def _save(self, numbering: dict[str, dict[str, int]]) -> None:
        if self._store is None:
            return
        try:  # merged with what another export may have saved meanwhile: first number wins
            self._store.save_placeholder_numbering(numbering)
        except Exception as exc:  # a read-only database: this output is still consistent
            log.warning("could not save the placeholder numbering (%s); placeholders of "
                        "later exports may be numbered differently", exc)
