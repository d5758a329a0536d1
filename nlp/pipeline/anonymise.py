"""Pipeline (anonymise): the one anonymiser every export and report of a project uses.

Its options come from the "anonymise" section of the project's project.json; its placeholder
numbering is kept in the project's database, so a name gets the same placeholder in every file
(see nlp.text.anon_shared). Stages never look it up: the pipeline builds it and passes it in.
"""
from __future__ import annotations

from typing import Any

from ..project import Project
from ..store import Store
from ..store.core import PLACEHOLDER_NUMBERING_KEY as NUMBERING_KEY
from ..text.anon_shared import SECTION, SharedAnonymiser, anonymise_options

__all__ = ["NUMBERING_KEY", "anonymise_settings", "project_anonymiser"]


def anonymise_settings(project: Project | Store) -> dict[str, Any]:
    """The project's anonymisation options (keyword arguments of `anonymise_texts`), read from
    the "anonymise" section of its project.json; the defaults for a bare Store.

    Raises:
        SettingsError: an unknown key or a value of the wrong kind.
    """
    if isinstance(project, Store):
        return anonymise_options(None)
    return anonymise_options(project.settings.sections.get(SECTION), root=project.root)


def project_anonymiser(project: Project | Store, *, strict: bool | None = None,
                       defer: bool = False) -> SharedAnonymiser:
    """The anonymiser every export of `project` uses: its settings (a bare Store: the
    defaults) and the numbering its store keeps.

    Args:
        strict: overrides the project's `strict` setting when not None.
        defer: keep new placeholder numbers until `save()` (see SharedAnonymiser).
    """
    store = project if isinstance(project, Store) else project.store
    return SharedAnonymiser(anonymise_settings(project), numbering=store, strict=strict,
                            defer=defer)
