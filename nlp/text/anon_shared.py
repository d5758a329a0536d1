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

With a `SpanStore` (the project's stored results, passed in by nlp.pipeline), the spans found
in a text are kept, keyed by the text and a fingerprint of the settings and rules
(`nlp.text.anonymise.settings_fingerprint`): spaCy runs only over texts it has not seen with
these settings. Placeholders are always given afresh from the spans, text after text in the
order asked, with the shared numbering: so the output is exactly that of a run without stored
results (the spans of a text do not depend on other texts; its placeholders do, on the
numbering and on which texts came first).

This module does not load spaCy: `nlp.text.anonymise` is imported when texts are anonymised.
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from .. import errors
from ..fsio import read_input
from ..types import text_hash

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


class SpanStore(Protocol):
    """Where the spans found in texts are kept between runs (the project's stored results)."""

    def stored_spans(self, fingerprint: str, hashes: Sequence[str]
                     ) -> Mapping[str, Sequence[Sequence[Any]]]:
        """{text hash: span rows (`spans_to_json`)} for those of `hashes` stored under
        `fingerprint`."""
        ...

    def keep_spans(self, fingerprint: str,
                   found: Sequence[tuple[str, str, list[list[Any]]]]) -> None:
        """Keep (text, anonymised text, span rows with their placeholders) of texts just run
        through the recogniser under `fingerprint` (those it does not keep, it drops)."""
        ...


class SharedAnonymiser:
    """texts -> anonymised texts with given options and one shared numbering.

    Args:
        options: keyword arguments of `anonymise_texts` (see `anonymise_options`).
        numbering: where the numbering is kept (None: numbered afresh, kept nowhere).
        strict: overrides the options' `strict` when not None.
        defer: keep new placeholder numbers (and found spans) in memory until `save()` (an
            export calls it once its file is written, so a failed export leaves the project
            unchanged); by default each call saves them.
        spans: where found spans are kept between runs (None: every text goes through spaCy
            at every call).
    """

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 numbering: NumberingStore | None = None, strict: bool | None = None,
                 defer: bool = False, spans: SpanStore | None = None) -> None:
        self._store = numbering
        self._spans = spans
        self._fingerprint: str | None = None
        self._pending_spans: dict[str, tuple[str, str, list[list[Any]]]] = {}  # by text hash
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
        # The recogniser as imported now (a stand-in without the span API, such as a test's,
        # is called whole, never with stored results).
        engine = importlib.import_module(".anonymise", __package__)

        numbering = self._pending if self._pending is not None else self._numbering()
        before = {label: dict(table) for label, table in numbering.items()}
        if self._spans is None or not hasattr(engine, "settings_fingerprint"):
            out = engine.anonymise_texts(list(texts), numbering=numbering, **self.options)
        else:
            out = self._with_stored(list(texts), numbering, self._spans)
        if self.defer:
            self._pending = numbering
        elif numbering != before:
            self._save(numbering)
        return out

    @property
    def fingerprint(self) -> str:
        """The fingerprint of these settings and the rules (what stored spans are kept under)."""
        if self._fingerprint is None:
            from .anonymise import settings_fingerprint
            self._fingerprint = settings_fingerprint(**self.options)
        return self._fingerprint

    def _with_stored(self, texts: list[str], numbering: dict[str, dict[str, int]],
                     store: SpanStore) -> list[str]:
        """`anonymise_texts` over `texts` with the spans `store` keeps; spaCy runs once over
        the texts it lacks, which it then keeps."""
        from .anonymise import (anonymiser_for, placeholders, put_placeholders, spans_from_json,
                                spans_to_json)

        fingerprint = self.fingerprint
        hashes = [text_hash(t) for t in texts]
        known = dict(store.stored_spans(fingerprint, list(dict.fromkeys(hashes))))
        known.update((h, self._pending_spans[h][2]) for h in hashes if h in self._pending_spans)
        missing = list(dict.fromkeys(t for t, h in zip(texts, hashes) if h not in known))
        found: dict[str, Any] = {}
        if missing:
            options = {k: v for k, v in self.options.items() if k != "batch_size"}
            kw = {"batch_size": self.options["batch_size"]} if "batch_size" in self.options else {}
            log.info("anonymising %d of %d texts (the others are stored)", len(missing),
                     len(texts))
            found = dict(zip(missing, anonymiser_for(**options).find_many(missing, **kw)))
        out: list[str] = []
        fresh: dict[str, tuple[str, str, list[list[Any]]]] = {}
        for text, h in zip(texts, hashes):  # in order: placeholders numbered as asked
            spans = found[text] if text in found else spans_from_json(text, known[h])
            marks = placeholders(spans, numbering=numbering)
            out.append(put_placeholders(text, spans, marks))
            if text in found and h not in fresh:
                fresh[h] = (text, out[-1], spans_to_json(spans, marks))
        if self.defer:  # kept with the numbering, once the output is written
            self._pending_spans.update(fresh)
        elif fresh:
            self._keep_spans(list(fresh.values()))
        return out

    def _keep_spans(self, found: list[tuple[str, str, list[list[Any]]]]) -> None:
        if self._spans is None or not found:
            return
        try:
            self._spans.keep_spans(self.fingerprint, found)
        except Exception as exc:  # a read-only database: this output is still right
            log.warning("could not store the anonymised answers (%s); the next export "
                        "will anonymise them again", exc)

    def save(self) -> None:
        """Store the numbering a deferred anonymiser has met (nothing when it met no new name)
        and the spans it found (with a `SpanStore`)."""
        if self._pending_spans:
            found, self._pending_spans = list(self._pending_spans.values()), {}
            self._keep_spans(found)
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
