"""Pipeline (anonymise): the one anonymiser every export and report of a project uses.

Its options come from the "anonymise" section of the project's project.json; its placeholder
numbering is kept in the project's database, so a name gets the same placeholder in every file
(see nlp.text.anon_shared). Stages never look it up: the pipeline builds it and passes it in.

Each answer is anonymised once per setting: the spans found in it are stored in the project's
database (nlp.store.anonymised), keyed by the answer and a fingerprint of the settings and
rules, and every later export, report or app page reads them instead of running spaCy again;
only answers new (or changed) since, or all of them after a change of settings, go through
spaCy. Placeholders are given from the stored spans in each output's order with the shared
numbering, so an output is byte-identical to one made without stored results.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..project import Project
from ..store import Store
from ..store.anonymised import save_anonymised, stored_anonymised
from ..store.core import PLACEHOLDER_NUMBERING_KEY as NUMBERING_KEY
from ..text.anon_shared import SECTION, SharedAnonymiser, anonymise_options
from ..types import text_hash

__all__ = ["NUMBERING_KEY", "StoredSpans", "anonymise_settings", "project_anonymiser"]


def anonymise_settings(project: Project | Store) -> dict[str, Any]:
    """The project's anonymisation options (keyword arguments of `anonymise_texts`), read from
    the "anonymise" section of its project.json; the defaults for a bare Store.

    Raises:
        SettingsError: an unknown key or a value of the wrong kind.
    """
    if isinstance(project, Store):
        return anonymise_options(None)
    return anonymise_options(project.settings.sections.get(SECTION), root=project.root)


class StoredSpans:
    """The project's stored anonymisation as the anonymiser's `SpanStore`: read once per
    fingerprint, written through nlp.store.anonymised (answers by response id; other texts,
    such as memos and metadata values, by their hash)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, dict[str, list[list[Any]]]] = {}

    def stored_spans(self, fingerprint: str, hashes: Sequence[str]
                     ) -> Mapping[str, Sequence[Sequence[Any]]]:
        if fingerprint not in self._known:
            self._known[fingerprint] = stored_anonymised(self.store, fingerprint)
        known = self._known[fingerprint]
        return {h: known[h] for h in hashes if h in known}

    def keep_spans(self, fingerprint: str,
                   found: Sequence[tuple[str, str, list[list[Any]]]]) -> None:
        known = self._known.setdefault(fingerprint, {})
        known.update((text_hash(text), spans) for text, _, spans in found)
        save_anonymised(self.store, fingerprint, found)


def project_anonymiser(project: Project | Store, *, strict: bool | None = None,
                       defer: bool = False, stored: bool = True) -> SharedAnonymiser:
    """The anonymiser every export of `project` uses: its settings (a bare Store: the
    defaults), the numbering its store keeps and the answers' stored anonymisation.

    Args:
        strict: overrides the project's `strict` setting when not None.
        defer: keep new placeholder numbers until `save()` (see SharedAnonymiser).
        stored: use and fill the stored anonymisation (False: spaCy over every text, as a
            fresh run; the output is the same).
    """
    store = project if isinstance(project, Store) else project.store
    return SharedAnonymiser(anonymise_settings(project), numbering=store, strict=strict,
                            defer=defer, spans=StoredSpans(store) if stored else None)
