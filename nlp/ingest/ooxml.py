"""Ingest stage: the parts of Office Open XML files (.xlsx, .docx) streamed through expat,
under the limits, without building a tree. Private: used by nlp.ingest.xlsx and
nlp.ingest.docx."""
from __future__ import annotations

import posixpath
from typing import Callable, Iterator
from xml.parsers import expat

from .. import errors
from ..limits import XML_DEPTH, Archive

CHUNK = 1 << 16


class BadPart(ValueError):
    """Raised by a parse handler: what is wrong in the part, in words."""


def local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def make_parser(start: Callable | None = None, end: Callable | None = None,
                text: Callable | None = None) -> expat.XMLParserType:
    """An expat parser with namespaces as "URI}local" that refuses entity declarations."""
    p = expat.ParserCreate(namespace_separator="}")
    p.buffer_text = True
    p.buffer_size = CHUNK
    depth = 0

    def opened(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > XML_DEPTH:  # a bomb of nesting: expat would keep every open element
            raise BadPart(f"elements are nested more than {XML_DEPTH:,} deep")
        if start:
            start(tag, attrs)

    def closed(tag: str) -> None:
        nonlocal depth
        depth -= 1
        if end:
            end(tag)

    p.StartElementHandler = opened
    p.EndElementHandler = closed
    if text:
        p.CharacterDataHandler = text

    def refuse(*_a) -> None:  # an entity declaration: never needed, a classic bomb
        raise BadPart("the XML declares entities")

    p.EntityDeclHandler = refuse
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


def feed(archive: Archive, member: str, parser: expat.XMLParserType) -> Iterator[None]:
    """Feed `member` to `parser` chunk by chunk, yielding after each chunk (so a caller can
    hand out what the handlers collected); XML errors name the part."""
    with archive.open(member, xml=True) as fh:
        try:
            while True:
                chunk = fh.read(CHUNK)
                parser.Parse(chunk, not chunk)
                yield
                if not chunk:
                    return
        except expat.ExpatError as exc:
            raise errors.unreadable(archive.path, archive.kind,
                                    f"{member}: bad XML ({exc})") from None
        except BadPart as exc:
            raise errors.unreadable(archive.path, archive.kind, f"{member}: {exc}") from None


def parse_all(archive: Archive, member: str, parser: expat.XMLParserType) -> None:
    for _ in feed(archive, member, parser):
        pass


def rels(archive: Archive, part: str) -> dict[str, tuple[str, str]]:
    """{relationship id: (type, target part)} of `part` (targets resolved to member names)."""
    folder, name = posixpath.split(part)
    rels_name = archive.find(posixpath.join(folder, "_rels", name + ".rels"))
    out: dict[str, tuple[str, str]] = {}
    if rels_name is None:
        return out

    def start(tag: str, attrs: dict[str, str]) -> None:
        if local(tag) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            target = (target.lstrip("/") if target.startswith("/")
                      else posixpath.normpath(posixpath.join(folder, target)))
            out[attrs.get("Id", "")] = (attrs.get("Type", ""), target)

    parse_all(archive, rels_name, make_parser(start))
    return out
