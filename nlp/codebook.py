"""Codebook stage: load, validate, save and version codebooks (YAML)."""
from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import errors
from .fsio import atomic_path, read_input
from .types import Codebook, Theme

_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
MAX_CODEBOOK_BYTES = 2_000_000


class _SafeNoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses YAML aliases: a codebook never needs them, and
    alias expansion is how a 'billion laughs' YAML bomb eats memory."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a codebook", event.start_mark)
        return super().compose_node(parent, index)


_NULL = "tag:yaml.org,2002:null"
_WHOLE = "tag:consultation-nlp:whole-number"


class _SafeTextLoader(_SafeNoAliasLoader):
    """A codebook's scalars are text exactly as written: YAML 1.1 would read `id: 010` as 8,
    `id: yes` as True, `version: 1.10` as 1.1 and `2024-01-01` as a date. Only an empty value
    (`~`, `null`, nothing) is None, and a plain whole number written the usual way (`3`, no
    sign, no leading zero) an int, so `version: 3` counts up as it always has. An explicit
    tag (`!!int 010`, `!!bool yes`, `!!timestamp ...`) also gives the text as written."""

    def construct_as_written(self, node):
        return self.construct_scalar(node)

    def construct_whole(self, node):
        return int(self.construct_scalar(node))


_SafeTextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == _NULL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "123456789":
    _SafeTextLoader.yaml_implicit_resolvers.setdefault(_first, []).append(
        (_WHOLE, re.compile(r"^[1-9][0-9]{0,17}$")))
_SafeTextLoader.yaml_implicit_resolvers["0"] = [(_WHOLE, re.compile(r"^0$"))]
_SafeTextLoader.add_constructor(_WHOLE, _SafeTextLoader.construct_whole)
for _tag in ("bool", "int", "float", "timestamp"):
    _SafeTextLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _SafeTextLoader.construct_as_written)


def _text(value: Any) -> str | None:
    """A scalar field's text (a whole number counts as its digits); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def default_codebook_path() -> Path:
    """The codebook bundled with the toolkit (the default bundled corpus's, nlp.corpora.DEFAULT_CORPUS)."""
    return Path(str(resources.files("nlp") / "data" / "codebook.yaml"))


def parse_codebook(data: Any, *, source: str = "<codebook>") -> Codebook:
    """Validate a parsed YAML/JSON mapping and build a Codebook.

    Raises:
        CodebookError: naming the missing or bad field and the theme it is in.
    """
    if not isinstance(data, dict):
        raise errors.codebook_problem(source, "the top level must be a mapping with "
                                      "'name', 'version' and 'themes'.")
    for key in ("name", "version", "themes"):
        if key not in data or data[key] in (None, ""):
            raise errors.codebook_problem(source, f"missing field {key!r}.")
    head: dict[str, str] = {}
    for key in ("name", "version"):
        text = _text(data[key])
        if text is None or not text.strip():
            raise errors.codebook_problem(source, f"{key!r} must be a text or a number, "
                                          f"not {_kind(data[key])}.")
        head[key] = text
    question = data.get("question")
    question_text = _text(question)
    if question is not None and question_text is None:
        raise errors.codebook_problem(source, f"'question' must be a text, not {_kind(question)}.")
    if not isinstance(data["themes"], list) or not data["themes"]:
        raise errors.codebook_problem(source, "'themes' must be a non-empty list.")
    themes: list[Theme] = []
    seen: set[str] = set()
    for i, t in enumerate(data["themes"], start=1):
        where = f"theme {i}"
        if not isinstance(t, dict):
            raise errors.codebook_problem(source, f"{where} is not a mapping.")
        t = _with_synonyms(t)
        if "id" in t and t["id"] is None:
            raise errors.codebook_problem(source, f"{where} has an empty id ('~', 'null' or "
                                          "nothing); write the id, in quotes if it is the "
                                          "word null.")
        fields: dict[str, str] = {}
        for key in ("id", "label", "definition"):
            value = t.get(key)
            text = _text(value)
            if value is not None and text is None:
                raise errors.codebook_problem(source, f"{where} ({_name(t)}): {key!r} must be "
                                              f"a text, not {_kind(value)}.")
            if text is None or not text.strip():
                also = f" (or {' or '.join(repr(x) for x in _SYNONYMS[key])})" \
                    if key in _SYNONYMS else ""
                raise errors.codebook_problem(source, f"{where} ({_name(t)}) is "
                                              f"missing field {key!r}{also}.")
            fields[key] = text
        tid = fields["id"].strip()
        if not _ID_RE.match(tid):
            raise errors.codebook_problem(source, f"{where}: id {tid!r} must be letters, digits, "
                                          "'_', '-' or '.', at most 64 characters.")
        if tid in seen:
            raise errors.codebook_problem(source, f"duplicate theme id {tid!r} ({where}).")
        seen.add(tid)
        lists = {}
        for key in ("include", "exclude"):
            v = t.get(key) or []
            if isinstance(v, (str, int)):
                v = [v]
            if not isinstance(v, list):
                raise errors.codebook_problem(source, f"{where} ({tid}): {key!r} must be a list.")
            items = [_text(x) for x in v if x is not None]
            examples = [x for x in items if x is not None]
            if len(examples) < len(items):
                raise errors.codebook_problem(source, f"{where} ({tid}): every {key!r} example "
                                              "must be a text (a list or mapping was found).")
            lists[key] = tuple(x.strip() for x in examples if x.strip())
        themes.append(Theme(theme_id=tid, label=fields["label"].strip(),
                            definition=" ".join(fields["definition"].split()),
                            include=lists["include"], exclude=lists["exclude"]))
    version = data["version"]
    return Codebook(name=head["name"].strip(),
                    version=version.strip() if isinstance(version, str) else version,
                    themes=tuple(themes),
                    question=question_text.strip() if question_text and question_text.strip()
                    else None)


def _kind(value: Any) -> str:
    """What a YAML value that is not text is, in words."""
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return f"a {type(value).__name__}"


def _name(theme: dict) -> str:
    """How a message names a theme: its id when it has a usable one."""
    tid = _text(theme.get("id"))
    return tid.strip()[:64] if tid and tid.strip() else "no id"


# Other names researchers' codebooks use for a theme's fields (exports of other tools, other
# teams' templates); the first one present is taken when the field itself is absent.
_SYNONYMS = {"label": ("name", "title"), "definition": ("description",),
             "include": ("examples",), "exclude": ("counterexamples",)}


def _with_synonyms(theme: dict) -> dict:
    out = dict(theme)
    for key, names in _SYNONYMS.items():
        if out.get(key) in (None, ""):
            for name in names:
                if out.get(name) not in (None, ""):
                    out[key] = out[name]
                    break
    return out


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load a codebook YAML file (the bundled default when `path` is None).

    Raises:
        CodebookError: unreadable file, bad YAML, or a missing/duplicate field.
    """
    p = Path(path) if path is not None else default_codebook_path()
    if p.is_dir():
        raise errors.codebook_problem(p, "is a folder, not a codebook file.")
    try:  # the one checked reader: a regular file (never a pipe or a device), size first
        raw = read_input(p, limit=MAX_CODEBOOK_BYTES, what="codebook")
    except errors.InputError as exc:
        if "over the limit" in exc.problem:
            raise errors.codebook_problem(p, "the file is too large to be a codebook (over "
                                          "2 MB).") from None
        raise errors.codebook_problem(p, f"{exc.problem} {exc.hint}".strip()) from None
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise errors.codebook_problem(p, f"not UTF-8 text (byte {exc.start}); a codebook is a "
                                      "YAML text file saved as UTF-8.") from None
    return loads_codebook(text, source=str(p))


def loads_codebook(text: str, *, source: str = "<codebook>") -> Codebook:
    """Parse codebook YAML text (see `load_codebook`)."""
    try:
        data = yaml.load(text, Loader=_SafeTextLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise errors.codebook_problem(source, f"not valid YAML ({exc}).") from None
    except RecursionError:
        raise errors.codebook_problem(source, "not a codebook: the YAML is nested thousands "
                                      "of levels deep.") from None
    return parse_codebook(data, source=source)


def dumps_codebook(codebook: Codebook) -> str:
    """The codebook as YAML text (round-trips through `loads_codebook`)."""
    return yaml.safe_dump(codebook.to_dict(), sort_keys=False, allow_unicode=True, width=88)


def save_codebook(codebook: Codebook, path: str | Path) -> Path:
    """Write the codebook as YAML; returns the path."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(dumps_codebook(codebook), encoding="utf-8")
    return p


def next_version(codebook: Codebook) -> int | str:
    """The version number a changed codebook gets (integers count up; other versions get '.1')."""
    v = codebook.version
    if isinstance(v, int):
        return v + 1
    try:
        return int(str(v)) + 1
    except ValueError:
        return f"{v}.1"


def with_theme(codebook: Codebook, theme: Theme) -> Codebook:
    """A new codebook version with `theme` added (or replaced when its id exists)."""
    themes = [t for t in codebook.themes if t.theme_id != theme.theme_id]
    if len(themes) == len(codebook.themes):
        themes.append(theme)
    else:
        themes = [theme if t.theme_id == theme.theme_id else t for t in codebook.themes]
    return replace(codebook, themes=tuple(themes), version=next_version(codebook))
