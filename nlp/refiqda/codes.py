"""REFI-QDA stage: REFI-QDA codes as themes (a .qdpx's or a .qdc's code book), and the codebook
a project codes with after an import. Private: used by nlp.refiqda.reader and
nlp.refiqda.writer."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .. import errors
from ..codebook import next_version
from ..limits import ANSWER_CHARS
from ..types import Codebook, Theme
from .schema import code_guid

KIND = "REFI-QDA (.qdpx)"
_ID_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_MAX_NAME = 1000  # a code, user or variable name


def _local(tag: Any) -> str:
    """Element name without its namespace: readers disagree on namespaces, we don't care."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(e: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in e if _local(c.tag) == name] if e is not None else []


def _kid(e: ET.Element | None, name: str) -> ET.Element | None:
    if e is None:
        return None
    return next((c for c in e if _local(c.tag) == name), None)


def _norm_guid(g: str | None) -> str:
    return (g or "").strip().strip("{}").lower()


def _bad(path: Path, problem: str) -> errors.InputError:
    return errors.unreadable(path, KIND, problem)


def parse_xml(path: Path, data: bytes) -> ET.Element:
    """Parse a whole (small) XML document, refusing DTDs (no entity expansion tricks): a .qdc
    codebook.

    Raises:
        InputError: not well-formed XML, or a DTD inside.
    """
    if b"<!DOCTYPE" in data.upper():
        raise _bad(path, "the XML declares a DTD, which REFI-QDA files never need")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise _bad(path, f"bad XML: {exc}") from None


def _slug(name: str, taken: set[str], counters: dict[str, int] | None = None) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:56] or "code"
    tid = base
    n = (counters or {}).get(base, 2)
    while tid in taken:  # counters make many codes of one name linear, not quadratic
        tid, n = f"{base}_{n}", n + 1
    if counters is not None:
        counters[base] = n
    return tid


def _theme_from_code(code: ET.Element, taken: set[str], counters: dict[str, int],
                     path: Path) -> Theme:
    d = _kid(code, "Description")
    desc = (d.text or "") if d is not None else ""
    name = (code.get("name") or "code").strip() or "code"
    if len(name) > _MAX_NAME or len(desc) > ANSWER_CHARS:
        raise _bad(path, f"code {name[:60]!r} has a name or description over the limit "
                   f"({_MAX_NAME:,} / {ANSWER_CHARS:,} characters)")
    m = re.search(r"^Theme id: (\S+)\s*$", desc, re.M)
    tid = m.group(1) if m and _ID_OK.match(m.group(1)) and m.group(1) not in taken \
        else _slug(name, taken, counters)
    blocks = re.split(r"\n\s*\n", desc.strip()) if desc.strip() else []
    definition: list[str] = []
    include: list[str] = []
    exclude: list[str] = []
    for b in blocks:
        if b.startswith("Theme id:"):
            continue
        head, _, rest = b.partition("\n")
        if head in ("Include:", "Exclude:"):
            items = [ln[2:].strip() for ln in rest.splitlines() if ln.startswith("- ")]
            (include if head == "Include:" else exclude).extend(items)
        else:
            definition.append(b.strip())
    taken.add(tid)
    return Theme(theme_id=tid, label=name, definition="\n\n".join(definition) or name,
                 include=tuple(include), exclude=tuple(exclude))


def codes_to_themes(root: ET.Element, path: Path,
                    guids: dict[str, str] | None = None) -> list[Theme]:
    """Every codable code under CodeBook/Codes (nested ones flattened) as a Theme; fills
    `guids` with {code guid: theme id}.

    Raises:
        InputError: no codes.
    """
    book = root if _local(root.tag) == "CodeBook" else _kid(root, "CodeBook")
    codes = _kid(book, "Codes") if book is not None else None
    themes: list[Theme] = []
    taken: set[str] = set()
    counters: dict[str, int] = {}
    # Depth first, in document order, without recursion: codes may nest thousands deep.
    todo = list(reversed(_kids(codes, "Code"))) if codes is not None else []
    while todo:
        code = todo.pop()
        if (code.get("isCodable") or "true").lower() in ("true", "1"):
            t = _theme_from_code(code, taken, counters, path)
            themes.append(t)
            if guids is not None:
                guids[_norm_guid(code.get("guid"))] = t.theme_id
        todo.extend(reversed(_kids(code, "Code")))
    if not themes:
        raise errors.nothing_found(path, "codes (CodeBook/Codes/Code)")
    return themes


def _target_codebook(current: Codebook, themes: list[Theme], codes: dict[str, str]
                     ) -> Codebook | None:
    """The codebook to code with: `current` when it has every theme (codes matched by GUID,
    theme id or label), else `current` with the new themes added (a new version).
    Rewrites `codes` to the project's theme ids. Returns the codebook to add, or None."""
    by_guid = {code_guid(current, t.theme_id).lower(): t.theme_id for t in current.themes}
    by_label = {t.label.strip().lower(): t.theme_id for t in current.themes}
    by_id = {t.theme_id: t for t in themes}
    ids = set(current.theme_ids)
    new: list[Theme] = []
    counters: dict[str, int] = {}
    for g, tid in list(codes.items()):
        t = by_id[tid]
        match = by_guid.get(g) or (tid if tid in ids else None) or by_label.get(
            t.label.strip().lower())
        if match is None:
            match = tid if tid not in ids else _slug(t.label, ids, counters)
            new.append(Theme(match, t.label, t.definition, t.include, t.exclude))
            ids.add(match)
        codes[g] = match
    if not new:
        return None
    return Codebook(name=current.name, version=next_version(current),
                    themes=current.themes + tuple(new), question=current.question)
