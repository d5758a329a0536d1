"""REFI-QDA stage: read a REFI-QDA .qdpx (ours or NVivo's, ATLAS.ti's, MAXQDA's, QualCoder's)
into data (`read_qdpx`), and what storing it in a project means (`plan_qdpx`); nlp.pipeline
stores it (`import_qdpx`).

The archive is read under the limits (`nlp.limits.Archive`); project.qde streams through
expat and only the elements the import uses are kept (anything else, however much of it,
costs no memory), each text source being turned into responses as soon as it ends. Every
answer (a whole text or a selection of one) obeys the 100,000-character limit, and typed
values (IntegerValue, FloatValue, BooleanValue, a confidence) are checked, the message naming
the source and the variable.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from .. import errors
from ..fsio import read_input
from ..limits import ANSWER_CHARS, XML_DEPTH, Archive, Budget, Limits, current
from ..text.clean import clean_text, flag_for
from ..types import MODEL_CODER, Codebook, Response, Theme
from .codes import (_MAX_NAME, _bad, _kid, _kids, _local, _norm_guid, _target_codebook,
                    codes_to_themes, parse_xml)
from .schema import _FIELDS, _LINE, MODEL_USER_NAME

log = logging.getLogger(__name__)

_INT = re.compile(r"^[+-]?\d{1,19}$")
_VALUES = {"TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue",
           "DateTimeValue"}
# Elements the import reads; everything else is skipped as it streams past.
_KEEP = {"Users", "User", "CodeBook", "Codes", "Code", "Description", "Variables", "Variable",
         "Sources", "PlainTextContent", "PlainTextSelection", "Coding", "CodeRef",
         "VariableValue", "VariableRef", "Notes", "Note", "NoteRef", *_VALUES}
_TEXT = {"Description", "PlainTextContent", *_VALUES}
__all__ = ["QdpxPlan", "QdpxRead", "codes_to_themes", "parse_xml", "plan_qdpx", "read_qdpx"]


@dataclass
class QdpxRead:
    """What reading a .qdpx gave, before anything is stored."""

    path: Path
    digest: str
    themes: list[Theme]
    codes: dict[str, str]  # code guid -> theme id in the file
    responses: list[Response] = field(default_factory=list)
    # (response_id, theme id or code guid, coder) -> (status, origin, confidence)
    codings: dict[tuple[str, str, str], tuple[str, str, float | None]] = field(
        default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # (response_id, theme id or code guid, coder) -> the spans of the answer it rests on
    # (selections of part of a text that this toolkit wrote: their Description has a
    # "span: a-b" line); absent: the whole answer.
    spans: dict[tuple[str, str, str], list[tuple[int, int]]] = field(default_factory=dict)
    # Notes as memos: (target "answer" | "theme" | "project", response id | theme id or code
    # guid | "", author, written at or None, text); a note nothing refers to is the project's.
    memos: list[tuple[str, str, str, datetime | None, str]] = field(default_factory=list)


class _Reader:
    """project.qde streamed: a small tree of the elements the import reads; each text source
    read into responses when it ends (once the code book, users and variables are known)."""

    def __init__(self, path: Path, archive: Archive, limits: Limits) -> None:
        self.path, self.archive = path, archive
        self.budget = Budget(path, limits)
        self.root: ET.Element | None = None
        self.stack: list[ET.Element | None] = []
        self.texts: list[list[str] | None] = []
        self.sources_el: ET.Element | None = None
        self.ready = False
        self.pending: list[ET.Element] = []
        self.files = {n.rsplit("/", 1)[-1].lower(): n for n in archive.names()
                      if n.lower().endswith(".txt")}
        self.users: dict[str, str] = {}
        self.codes: dict[str, str] = {}
        self.themes: list[Theme] = []
        self.variables: dict[str, str] = {}
        self.seen: set[str] = set()
        self.counters: dict[str, int] = {}
        self.out: list[Response] = []
        self.codings: dict[tuple[str, str, str], tuple[str, str, float | None]] = {}
        self.spans: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        self.note_refs: list[tuple[str, str, str]] = []  # (note guid, target, target id)
        self.memos: list[tuple[str, str, str, datetime | None, str]] = []
        self.notes: list[str] = []

    # -- building the kept tree ----------------------------------------------------------------
    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if len(self.stack) >= XML_DEPTH:  # a bomb of nesting: every open level costs memory
            raise _Stop(f"elements are nested more than {XML_DEPTH:,} deep")
        name = _local(tag)
        parent = self.stack[-1] if self.stack else None
        if self.root is None:
            if name != "Project":
                raise _Stop(f"the root element is {name!r}, not Project")
            self.root = el = ET.Element(tag, attrs)
        elif parent is not None and (parent is self.sources_el or name in _KEEP):
            el = ET.SubElement(parent, tag, attrs)
        else:
            el = None  # not read: skipped, whatever it holds
        if el is not None and name == "Sources" and parent is self.root:
            self.sources_el = el
            self._prepare()
        self.stack.append(el)
        self.texts.append([] if el is not None and name in _TEXT else None)

    def text(self, data: str) -> None:
        buf = self.texts[-1] if self.texts else None
        if buf is not None:
            buf.append(data)

    def end(self, tag: str) -> None:
        el = self.stack.pop()
        buf = self.texts.pop()
        if el is None:
            return
        if buf is not None:
            el.text = "".join(buf)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent is self.sources_el:
            if self.ready:
                self._source(el)
                del parent[-1]  # read: the source's tree is not kept
            else:
                self.pending.append(el)

    # -- once the code book and users are known --------------------------------------------------
    def _prepare(self) -> None:
        root = self.root
        if root is None or _kid(root, "CodeBook") is None:
            return  # out of the schema's order: read sources at the end
        self.themes = codes_to_themes(root, self.path, self.codes)
        for u in _kids(_kid(root, "Users"), "User"):
            uid = (u.get("id") or u.get("name") or "imported").strip() or "imported"
            self.users[_norm_guid(u.get("guid"))] = MODEL_CODER if (
                uid == MODEL_CODER or u.get("name") == MODEL_USER_NAME) else uid
        self.variables = {_norm_guid(v.get("guid")): (v.get("name") or "")[:_MAX_NAME]
                          for v in _kids(_kid(root, "Variables"), "Variable")}
        self.ready = True

    def finish(self) -> None:
        if self.root is None:
            raise _Stop("the file holds no XML element")
        if not self.ready:
            self._prepare() if _kid(self.root, "CodeBook") is not None else \
                codes_to_themes(self.root, self.path)  # raises: no codes
        for el in self.pending:
            self._source(el)
        self.pending.clear()
        self._memos()

    def _memos(self) -> None:
        """The file's notes as memos, on what refers to them (a source's answer, a code's
        theme, the project)."""
        root = self.root
        if root is None:
            return
        refs = list(self.note_refs)
        refs += [(_norm_guid(r.get("targetGUID")), "project", "") for r in _kids(root, "NoteRef")]
        for code in root.iter():
            if _local(code.tag) == "Code":
                tid = self.codes.get(_norm_guid(code.get("guid")))
                refs += [(_norm_guid(r.get("targetGUID")), "theme", tid)
                         for r in _kids(code, "NoteRef") if tid]
        by_note: dict[str, list[tuple[str, str]]] = {}
        for g, target, tid in refs:
            by_note.setdefault(g, []).append((target, tid))
        for note in _kids(_kid(root, "Notes"), "Note"):
            content = _kid(note, "PlainTextContent")
            body = (content.text or "").strip() if content is not None else ""
            if not body:
                self.notes.append(f"skipped note {note.get('name') or note.get('guid')!r}: "
                                  "no text inside the project file")
                continue
            if len(body) > ANSWER_CHARS:
                raise errors.qdpx_text_too_long(self.path, note.get("name") or "a note",
                                                len(body), ANSWER_CHARS)
            self.budget.text(len(body))
            author = self.users.get(_norm_guid(note.get("creatingUser"))) or "imported"
            try:
                at = datetime.fromisoformat((note.get("creationDateTime") or "")
                                            .replace("Z", "+00:00"))
            except ValueError:
                at = None
            for target, tid in by_note.get(_norm_guid(note.get("guid")), [("project", "")]):
                self.memos.append((target, tid, author, at, body))

    # -- one text source -> responses and codings ------------------------------------------------
    def _text_of(self, src: ET.Element) -> str | None:
        inline = _kid(src, "PlainTextContent")
        if inline is not None:
            raw: bytes | str = inline.text or ""
        else:
            ref = (src.get("plainTextPath") or "").split("://", 1)[-1].rsplit("/", 1)[-1]
            member = self.files.get(ref.lower())
            if member is None:
                return None
            raw = self.archive.read(member, xml=False)
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
        else:
            text = raw
        # A BOM is not text: offsets count from the first real character.
        return text[1:] if text.startswith("\ufeff") else text

    def _value(self, vv: ET.Element, source: str, variable: str) -> Any:
        for child in vv:
            kind, raw = _local(child.tag), child.text or ""
            text = raw.strip()
            if kind == "VariableRef":
                continue

            def bad(why: str) -> errors.InputError:
                return errors.bad_qdpx_value(self.path, source, f"variable {variable!r}",
                                             kind, text, why)

            if kind == "IntegerValue":
                if not _INT.match(text) or not -2**63 <= int(text) < 2**63:
                    raise bad("a whole number that fits in 64 bits")
                return int(text)
            if kind == "FloatValue":
                try:
                    value = float(text) if len(text) <= 64 else math.nan
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise bad("a finite number")
                return value
            if kind == "BooleanValue":
                if text.lower() not in ("true", "false", "1", "0"):
                    raise bad("true or false")
                return text.lower() in ("true", "1")
            if len(raw) > ANSWER_CHARS:
                raise bad(f"at most {ANSWER_CHARS:,} characters long")
            return raw
        return None

    def _response(self, r_id: str, t: str, fields: dict[str, Any], meta: dict[str, Any],
                  source: str, extra: dict[str, Any] | None = None) -> Response:
        t = clean_text(t).strip()
        if len(t) > ANSWER_CHARS:
            raise errors.qdpx_text_too_long(self.path, source, len(t), ANSWER_CHARS)
        self.budget.row()
        self.budget.text(len(t))
        loc = fields.get("location")
        return Response(response_id=r_id, text=t, source=self.path.name,
                        location=int(loc) if isinstance(loc, (int, float)) and not
                        isinstance(loc, bool) and 0 <= loc < 2**31 else None,
                        respondent_id=str(fields["respondent_id"]) if fields.get(
                            "respondent_id") not in (None, "") else None,
                        question=str(fields["question"]) if fields.get("question")
                        not in (None, "") else None,
                        metadata={**meta, **(extra or {})}, flag=flag_for(t))

    def _unique(self, rid: str) -> str:
        if rid not in self.seen:
            self.seen.add(rid)
            return rid
        n = self.counters.get(rid, 2)
        while f"{rid}#{n}" in self.seen:
            n += 1
        self.counters[rid] = n + 1
        out = f"{rid}#{n}"
        self.seen.add(out)
        return out

    def _source(self, src: ET.Element) -> None:
        tag, name = _local(src.tag), src.get("name") or src.get("guid") or "?"
        if tag != "TextSource":
            self.notes.append(f"skipped {tag} {name!r} (only text sources are read)")
            return
        text = self._text_of(src)
        if text is None:
            self.notes.append(f"skipped source {name!r}: its text file is missing")
            return
        vars_: dict[str, Any] = {}
        for vv in _kids(src, "VariableValue"):
            ref = _kid(vv, "VariableRef")
            var = self.variables.get(_norm_guid(ref.get("targetGUID") if ref is not None
                                                else ""))
            if var:
                vars_[var] = self._value(vv, name, var)
        rid = self._unique(str(vars_.get("response_id") or src.get("name") or src.get("guid")))
        fields = {f: vars_.get(v) for v, f in _FIELDS.items() if v in vars_}
        meta = {k: v for k, v in vars_.items() if k not in _FIELDS}
        if fields.get("source"):
            meta["source_file"] = fields["source"]
        # The whole text, without slicing it once per selection (thousands of selections of
        # a long text would copy it thousands of times).
        lead = len(text) - len(text.lstrip())
        tail = len(text.rstrip())
        spans: list[tuple[str, ET.Element | None, list[ET.Element],
                          tuple[int, int] | None]] = []
        partial = False
        for sel in _kids(src, "PlainTextSelection"):
            try:
                a, b = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
            except ValueError:
                self.notes.append(f"skipped a selection in {rid!r}: bad positions")
                continue
            a, b = max(0, min(a, b, len(text))), min(len(text), max(a, b, 0))
            if a <= lead and b >= tail:
                spans.append((rid, sel, _kids(sel, "Coding"), None))
                continue
            if _span_selection(sel) and b > a:
                # Ours: a span coding of the whole answer (its text is stored stripped).
                spans.append((rid, sel, _kids(sel, "Coding"),
                              (max(0, a - lead), min(tail, b) - lead)))
                continue
            if b - a > 2 * ANSWER_CHARS:
                raise errors.qdpx_text_too_long(self.path, name, b - a, ANSWER_CHARS,
                                                selection=f"{a}-{b}")
            if text[a:b].strip():
                partial = True
                span_id = f"{rid}@{a}-{b}"
                if span_id not in self.seen:
                    self.seen.add(span_id)
                    self.out.append(self._response(span_id, text[a:b], fields, meta, name,
                                                   {"selection": f"{a}-{b}"}))
                spans.append((span_id, sel, _kids(sel, "Coding"), None))
        if not partial or _kids(src, "Coding"):
            self.out.append(self._response(rid, text, fields, meta, name))
        self.note_refs += [(_norm_guid(r.get("targetGUID")), "answer", rid)
                           for r in _kids(src, "NoteRef")]
        spans.append((rid, None, _kids(src, "Coding"), None))
        for r_id, selection, codings, span in spans:
            self._codings(r_id, selection, codings, name, span)

    def _codings(self, r_id: str, sel: ET.Element | None, codings: list[ET.Element],
                 source: str, span: tuple[int, int] | None = None) -> None:
        desc = _kid(sel, "Description") if sel is not None else None
        lines = (desc.text or "").splitlines() if desc is not None else []
        sel_user = self.users.get(_norm_guid(sel.get("creatingUser"))) if sel is not None \
            else None
        coder = next((ln[7:].strip() for ln in lines if ln.startswith("coder: ")), None)
        described: set[str] = set()
        for ln in lines:
            m = _LINE.match(ln.strip())
            if m and coder:
                origin = "model" if coder == MODEL_CODER or m.group(3) else "researcher"
                conf = None
                if m.group(4):
                    try:
                        conf = float(m.group(4))
                    except ValueError:
                        conf = math.nan
                    if not 0.0 <= conf <= 1.0:
                        raise errors.bad_qdpx_value(
                            self.path, source, f"coding {m.group(1)!r} of {r_id[:60]!r}",
                            "confidence", m.group(4), "a number between 0 and 1")
                self.codings[(r_id, m.group(1), coder)] = (m.group(2), origin, conf)
                described.add(m.group(1))
                if span is not None:
                    self.spans.setdefault((r_id, m.group(1), coder), []).append(span)
        for cd in codings:
            ref = _kid(cd, "CodeRef")
            tid = self.codes.get(_norm_guid(ref.get("targetGUID") if ref is not None else ""))
            if tid is None:
                self.notes.append(f"skipped a coding in {r_id!r}: unknown code")
                continue
            who = coder or self.users.get(_norm_guid(cd.get("creatingUser"))) or sel_user \
                or "imported"
            if tid in described and who == coder:
                continue
            model = who == MODEL_CODER
            self.codings[(r_id, tid, who)] = ("suggested" if model else "accepted",
                                              "model" if model else "researcher", None)
            if span is not None:
                self.spans.setdefault((r_id, tid, who), []).append(span)


def _span_selection(sel: ET.Element) -> bool:
    """A selection this toolkit wrote for a span coding ("coder:" and "span:" lines)."""
    desc = _kid(sel, "Description")
    lines = (desc.text or "").splitlines() if desc is not None else []
    return any(ln.startswith("coder: ") for ln in lines) and any(
        ln.startswith("span: ") for ln in lines)


class _Stop(Exception):
    """The file is not a REFI-QDA project (raised from a parse handler)."""


def read_qdpx(path: Path, limits: Limits | None = None) -> QdpxRead:
    """Read and check a .qdpx without touching any project.

    Raises:
        InputError: unreadable, over a limit, a bad value, or no text sources.
    """
    data = read_input(path)  # a regular file under the size limit (never a pipe, a device)
    digest = hashlib.sha256(data).hexdigest()
    with Archive(path, data, "REFI-QDA (.qdpx)", limits or current()) as archive:
        qde = [n for n in archive.names() if n.lower().endswith(".qde")
               and "/" not in n.strip("/")]
        if not qde:
            raise errors.nothing_found(path, "project.qde")
        reader = _Reader(path, archive, archive.limits)
        p = expat.ParserCreate(namespace_separator="}")
        p.buffer_text = True
        p.StartElementHandler = reader.start
        p.EndElementHandler = reader.end
        p.CharacterDataHandler = reader.text

        def refuse(*_a) -> None:
            raise _Stop("the XML declares entities, which REFI-QDA files never need")

        p.EntityDeclHandler = refuse
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        try:
            with archive.open(qde[0], xml=True) as fh:
                while True:
                    chunk = fh.read(1 << 16)
                    p.Parse(chunk, not chunk)
                    if not chunk:
                        break
            reader.finish()
        except expat.ExpatError as exc:
            raise _bad(path, f"bad XML: {exc}") from None
        except _Stop as exc:
            raise _bad(path, str(exc)) from None
        except RecursionError:
            raise _bad(path, "the XML is nested too deeply") from None
    if not reader.out:
        raise errors.nothing_found(path, "text sources")
    for (rid, _tid, coder) in reader.codings:
        if not coder.strip() or len(coder) > 200:
            raise _bad(path, f"a coding of {rid[:60]!r} has a coder name that is empty or "
                       "over 200 characters")
    for r in reader.out:
        if len(r.response_id) > 200 or len(r.respondent_id or "") > 200:
            raise _bad(path, f"the id of {r.response_id[:60]!r}... is over 200 characters")
    return QdpxRead(path=path, digest=digest, themes=reader.themes, codes=reader.codes,
                    responses=reader.out, codings=reader.codings, notes=reader.notes,
                    spans=reader.spans, memos=reader.memos)


@dataclass(frozen=True)
class QdpxPlan:
    """What a read .qdpx means for a project whose active codebook is known: the codebook
    version to add (the file's codes that are not yet themes; None when there are none) and
    the project's theme id for each theme id or code guid the file's codings name."""

    codebook: Codebook | None
    theme_ids: dict[str, str]
    known: frozenset[str]  # the project's theme ids once the file's codes are added

    def theme(self, tid: str) -> str:
        """The project's theme id for a file's theme id or code guid."""
        return self.theme_ids.get(tid, tid)


def plan_qdpx(read: QdpxRead, current: Codebook) -> QdpxPlan:
    """Match a read .qdpx's codes to the themes of `current` (missing ones go to a new
    codebook version).

    Raises:
        InputError: a coding names a theme that is neither a code of the file nor a theme of
            the project.
    """
    codes = dict(read.codes)
    new_cb = _target_codebook(current, read.themes, codes)
    to_project = {read.codes[g]: codes[g] for g in codes}
    known = frozenset((new_cb or current).theme_ids)
    for (rid, tid, _coder) in read.codings:
        if to_project.get(tid, tid) not in known:
            raise _bad(read.path, f"a coding of {rid[:60]!r} names theme {tid[:60]!r}, which "
                       "is neither a code of the file nor a theme of the project")
    return QdpxPlan(codebook=new_cb, theme_ids=to_project, known=known)
