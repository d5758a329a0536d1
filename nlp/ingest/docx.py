"""Ingest stage: a Word (.docx) document's text, streamed under the limits. Private: use
nlp.ingest.readers.docx_lines.

Only the parts that hold the text are read (the main document and its styles), through expat
as they stream out of the archive (`nlp.limits.Archive`): images, embedded files and other
media are never unpacked, so a media part that inflates to gigabytes costs nothing, and the
document is never held as a tree. The lines are what python-docx gives: the body's paragraphs
in order (a heading style marked "# "), then the text of each cell of the body's tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import errors
from .ooxml import local, make_parser, parse_all, rels
from ..limits import Archive, Budget, Limits

KIND = "Word (.docx)"
_SKIP = {"del", "moveFrom"}  # deleted or moved-away text (tracked changes)
_RUN_CHARS = {"tab": "\t", "ptab": "\t", "cr": "\n", "noBreakHyphen": "-"}
_OBJECTS = {"object", "drawing", "pict"}


class NotWord(Exception):
    """The main part is not a Word document (a workbook, a presentation)."""


@dataclass
class DocxText:
    """A document's lines, and what else it holds (for saying why there is no text)."""

    lines: list[str] = field(default_factory=list)
    objects: int = 0  # embedded objects, pictures, drawings


def _styles(archive: Archive, part: str | None) -> tuple[dict[str, str], str]:
    """({paragraph style id: name}, the default paragraph style's id)."""
    names: dict[str, str] = {}
    default = ""
    if part is None:
        return names, default
    cur: dict[str, str | None] = {"id": None}

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal default
        name = local(tag)
        a = {local(k): v for k, v in attrs.items()}
        if name == "style":
            cur["id"] = a.get("styleId", "") if a.get("type", "paragraph") == "paragraph" \
                else None
            if cur["id"] is not None and a.get("default") in ("1", "true"):
                default = cur["id"]
        elif name == "name" and cur["id"] is not None:
            names[cur["id"]] = a.get("val", "")

    def end(tag: str) -> None:
        if local(tag) == "style":
            cur["id"] = None

    parse_all(archive, part, make_parser(start, end))
    return names, default


def read_docx(path: str | Path, data: bytes, limits: Limits) -> DocxText:
    """The text of a .docx, as lines.

    Raises:
        InputError: damaged, or over a limit.
    """
    out = DocxText()
    budget = Budget(path, limits)
    with Archive(path, data, KIND, limits) as archive:
        root = {t.rsplit("/", 1)[-1]: p for t, p in rels(archive, "").values()}
        main = archive.find(root.get("officeDocument", "word/document.xml"))
        if main is None:
            raise errors.unreadable(path, KIND, "no main document part")
        doc_rels = {t.rsplit("/", 1)[-1]: p for t, p in rels(archive, main).values()}
        style_names, default_style = _styles(archive, archive.find(doc_rels.get("styles", "")
                                                                   or "-"))
        stack: list[str] = []
        paras: list[dict] = []  # open paragraphs, innermost last
        tables: list[str] = []
        cell: list[str] | None = None
        depth = {"tbl": 0, "txbx": 0, "skip": 0, "t": 0}

        def start(tag: str, attrs: dict[str, str]) -> None:
            nonlocal cell
            name = local(tag)
            if not stack and name != "document":
                raise NotWord(name)
            parent = stack[-1] if stack else ""
            stack.append(name)
            if name in _SKIP:
                depth["skip"] += 1
            elif name == "tbl":
                depth["tbl"] += 1
            elif name == "txbxContent":
                depth["txbx"] += 1
            elif name == "tc" and depth["tbl"] == 1 and not depth["txbx"]:
                cell = []
            elif name == "p":
                paras.append({"parts": [], "style": None})
            elif name in _OBJECTS:
                out.objects += 1
            elif not paras or depth["skip"]:
                return
            elif name == "t" and parent == "r":
                depth["t"] += 1
            elif parent == "r" and name in _RUN_CHARS:
                paras[-1]["parts"].append(_RUN_CHARS[name])
            elif parent == "r" and name == "br":
                t = next((v for k, v in attrs.items() if local(k) == "type"), "textWrapping")
                if t == "textWrapping":
                    paras[-1]["parts"].append("\n")
            elif name == "pStyle" and parent == "pPr" and len(stack) > 2 and stack[-3] == "p":
                paras[-1]["style"] = next((v for k, v in attrs.items() if local(k) == "val"),
                                          None)

        def end(tag: str) -> None:
            nonlocal cell
            name = stack.pop() if stack else local(tag)
            if name in _SKIP:
                depth["skip"] -= 1
            elif name == "tbl":
                depth["tbl"] -= 1
            elif name == "txbxContent":
                depth["txbx"] -= 1
            elif name == "t" and depth["t"]:
                depth["t"] -= 1
            elif name == "tc" and cell is not None and depth["tbl"] == 1 and not depth["txbx"]:
                tables.append("\n".join(cell))
                cell = None
            elif name == "p" and paras:
                p = paras.pop()
                text = "".join(p["parts"])
                budget.text(len(text))
                if paras or depth["txbx"]:
                    return  # a text box inside a paragraph: python-docx leaves it out too
                if depth["tbl"] == 0:
                    style = style_names.get(p["style"] or default_style,
                                            style_names.get(default_style, ""))
                    if style.lower().startswith("heading") and text.strip():
                        text = "# " + text.strip()
                    out.lines.append(text)
                elif depth["tbl"] == 1 and cell is not None:
                    cell.append(text)

        def text(data: str) -> None:
            if depth["t"] and paras and not depth["skip"]:
                paras[-1]["parts"].append(data)

        try:
            parse_all(archive, main, make_parser(start, end, text))
        except NotWord as exc:
            raise errors.not_a_word_file(path, main, exc) from None
        out.objects += sum(1 for n in archive.names()
                           if n.lower().startswith(("word/embeddings/", "word/media/")))
    out.lines.extend(tables)
    return out
