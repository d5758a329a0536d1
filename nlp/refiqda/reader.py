"""Ingest stage: read a REFI-QDA .qdpx (ours or NVivo's, ATLAS.ti's, MAXQDA's, QualCoder's)
into a project. Private: use nlp.refiqda.import_qdpx."""
from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .. import errors
from ..codebook import next_version
from ..store.review import apply_change, _now
from ..text.clean import clean_text, flag_for
from ..types import MODEL_CODER, Codebook, ImportSummary, Response, Theme
from .schema import _FIELDS, _LINE, MODEL_USER_NAME, code_guid

log = logging.getLogger(__name__)

MAX_UNPACKED = 1_000_000_000  # bytes read out of one archive: a zip bomb stops here
_ID_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def _local(tag: Any) -> str:
    """Element name without its namespace: readers disagree on namespaces, we don't care."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(e: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in e if _local(c.tag) == name]


def _kid(e: ET.Element, name: str) -> ET.Element | None:
    k = _kids(e, name)
    return k[0] if k else None


def _norm_guid(g: str | None) -> str:
    return (g or "").strip().strip("{}").lower()


def parse_xml(path: Path, data: bytes) -> ET.Element:
    """Parse XML, refusing DTDs (no entity expansion tricks).

    Raises:
        InputError: not well-formed XML, or a DTD inside.
    """
    if b"<!DOCTYPE" in data.upper():
        raise errors.unreadable(path, "REFI-QDA", "the XML declares a DTD, which REFI-QDA "
                                "files never need")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise errors.unreadable(path, "REFI-QDA", f"bad XML: {exc}") from None


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:56] or "code"
    tid, n = base, 2
    while tid in taken:
        tid, n = f"{base}_{n}", n + 1
    return tid


def _theme_from_code(code: ET.Element, taken: set[str]) -> Theme:
    desc = (_kid(code, "Description").text or "") if _kid(code, "Description") is not None \
        else ""
    name = (code.get("name") or "code").strip()
    m = re.search(r"^Theme id: (\S+)\s*$", desc, re.M)
    tid = m.group(1) if m and _ID_OK.match(m.group(1)) and m.group(1) not in taken \
        else _slug(name, taken)
    blocks = re.split(r"\n\s*\n", desc.strip()) if desc.strip() else []
    definition, include, exclude = [], [], []
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

    def walk(e: ET.Element) -> None:
        for code in _kids(e, "Code"):
            if (code.get("isCodable") or "true").lower() in ("true", "1"):
                t = _theme_from_code(code, taken)
                themes.append(t)
                if guids is not None:
                    guids[_norm_guid(code.get("guid"))] = t.theme_id
            walk(code)

    if codes is not None:
        walk(codes)
    if not themes:
        raise errors.nothing_found(path, "codes (CodeBook/Codes/Code)")
    return themes


@dataclass
class _Read:
    responses: list[Response] = field(default_factory=list)
    # (response_id, theme_id or code guid, coder, status, origin, confidence)
    codings: dict[tuple[str, str, str], tuple[str, str, float | None]] = field(
        default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _open(path: Path) -> tuple[ET.Element, dict[str, bytes], bytes]:
    data = path.read_bytes() if path.is_file() else None
    if data is None:
        raise errors.missing_file(path)
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise errors.unreadable(path, ".qdpx", "not a ZIP archive") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise errors.unreadable(path, ".qdpx", "it unpacks to more than 1 GB")
        qde = [i for i in infos if i.filename.lower().endswith(".qde") and "/" not in
               i.filename.strip("/")]
        if not qde:
            raise errors.nothing_found(path, "project.qde")
        root = parse_xml(path, zf.read(qde[0]))
        # Implementations disagree on the folder's case ("sources/", "Sources/"): key on name.
        files = {i.filename.rsplit("/", 1)[-1].lower(): zf.read(i) for i in infos
                 if i.filename.lower().endswith(".txt")}
    if _local(root.tag) != "Project":
        raise errors.unreadable(path, ".qdpx", f"the root element is {_local(root.tag)!r}, "
                                "not Project")
    return root, files, data


def _text_of(src: ET.Element, files: dict[str, bytes], path: Path) -> str | None:
    inline = _kid(src, "PlainTextContent")
    if inline is not None:
        raw: bytes | str = inline.text or ""
    else:
        ref = (src.get("plainTextPath") or "").split("://", 1)[-1].rsplit("/", 1)[-1].lower()
        if ref not in files:
            return None
        raw = files[ref]
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("cp1252", errors="replace")
    # A BOM is not text: offsets count from the first real character.
    return raw[1:] if raw.startswith("\ufeff") else raw


def _value_of(vv: ET.Element) -> Any:
    for child in vv:
        kind, text = _local(child.tag), (child.text or "").strip()
        if kind == "VariableRef":
            continue
        if kind == "IntegerValue":
            return int(text)
        if kind == "FloatValue":
            return float(text)
        if kind == "BooleanValue":
            return text.lower() in ("true", "1")
        return child.text or ""
    return None


def _read_sources(root: ET.Element, files: dict[str, bytes], path: Path,
                  users: dict[str, str], codes: dict[str, str]) -> _Read:
    variables = {_norm_guid(v.get("guid")): v.get("name") or "" for v in
                 _kids(_kid(root, "Variables"), "Variable")} if _kid(root, "Variables") \
        is not None else {}
    out = _Read()
    seen: set[str] = set()
    sources = _kid(root, "Sources")
    for src in (list(sources) if sources is not None else []):
        if _local(src.tag) != "TextSource":
            out.notes.append(f"skipped {_local(src.tag)} {src.get('name')!r} (only text "
                             "sources are read)")
            continue
        text = _text_of(src, files, path)
        if text is None:
            out.notes.append(f"skipped source {src.get('name')!r}: its text file is missing")
            continue
        vars_: dict[str, Any] = {}
        for vv in _kids(src, "VariableValue"):
            ref = _kid(vv, "VariableRef")
            name = variables.get(_norm_guid(ref.get("targetGUID") if ref is not None else ""))
            if name:
                vars_[name] = _value_of(vv)
        rid = str(vars_.get("response_id") or src.get("name") or src.get("guid"))
        base, n = rid, 2
        while rid in seen:
            rid, n = f"{base}#{n}", n + 1
        seen.add(rid)
        fields = {f: vars_.get(v) for v, f in _FIELDS.items() if v in vars_}
        meta = {k: v for k, v in vars_.items() if k not in _FIELDS}
        if fields.get("source"):
            meta["source_file"] = fields["source"]
        loc = fields.get("location")

        def response(r_id: str, t: str, extra: dict[str, Any] | None = None) -> Response:
            t = clean_text(t).strip()
            return Response(response_id=r_id, text=t, source=path.name,
                            location=int(loc) if isinstance(loc, (int, float)) else None,
                            respondent_id=str(fields["respondent_id"]) if fields.get(
                                "respondent_id") else None,
                            question=fields.get("question") or None,
                            metadata={**meta, **(extra or {})}, flag=flag_for(t))

        whole = text.strip()
        spans: list[tuple[str, ET.Element | None, list[ET.Element]]] = []
        partial = False
        for sel in _kids(src, "PlainTextSelection"):
            try:
                a, b = int(sel.get("startPosition", "")), int(sel.get("endPosition", ""))
            except ValueError:
                out.notes.append(f"skipped a selection in {rid!r}: bad positions")
                continue
            a, b = max(0, min(a, b)), min(len(text), max(a, b))
            if text[a:b].strip() == whole:
                spans.append((rid, sel, _kids(sel, "Coding")))
            elif text[a:b].strip():
                partial = True
                span_id = f"{rid}@{a}-{b}"
                if span_id not in seen:
                    seen.add(span_id)
                    out.responses.append(response(span_id, text[a:b],
                                                  {"selection": f"{a}-{b}"}))
                spans.append((span_id, sel, _kids(sel, "Coding")))
        if not partial or _kids(src, "Coding"):
            out.responses.append(response(rid, text))
        spans.append((rid, None, _kids(src, "Coding")))
        for r_id, sel, codings in spans:
            desc = _kid(sel, "Description") if sel is not None else None
            lines = (desc.text or "").splitlines() if desc is not None else []
            sel_user = users.get(_norm_guid(sel.get("creatingUser"))) if sel is not None \
                else None
            coder = next((ln[7:].strip() for ln in lines if ln.startswith("coder: ")), None)
            described: set[str] = set()
            for ln in lines:
                m = _LINE.match(ln.strip())
                if m and coder:
                    who = coder
                    origin = "model" if who == MODEL_CODER or m.group(3) else "researcher"
                    conf = float(m.group(4)) if m.group(4) else None
                    out.codings[(r_id, m.group(1), who)] = (m.group(2), origin, conf)
                    described.add(m.group(1))
            for cd in codings:
                ref = _kid(cd, "CodeRef")
                tid = codes.get(_norm_guid(ref.get("targetGUID") if ref is not None else ""))
                if tid is None:
                    out.notes.append(f"skipped a coding in {r_id!r}: unknown code")
                    continue
                who = coder or users.get(_norm_guid(cd.get("creatingUser"))) or sel_user \
                    or "imported"
                if tid in described and who == coder:
                    continue
                model = who == MODEL_CODER
                out.codings[(r_id, tid, who)] = ("suggested" if model else "accepted",
                                                 "model" if model else "researcher", None)
    return out


def _target_codebook(store, themes: list[Theme], codes: dict[str, str]) -> Codebook | None:
    """The codebook to code with: the project's when it has every theme (codes matched by
    GUID, theme id or label), else the project's with the new themes added (a new version).
    Rewrites `codes` to the project's theme ids. Returns the codebook to add, or None."""
    current = store.active_codebook()
    by_guid = {code_guid(current, t.theme_id).lower(): t.theme_id for t in current.themes}
    by_label = {t.label.strip().lower(): t.theme_id for t in current.themes}
    ids = set(current.theme_ids)
    new: list[Theme] = []
    for g, tid in list(codes.items()):
        t = next(x for x in themes if x.theme_id == tid)
        match = by_guid.get(g) or (tid if tid in ids else None) or by_label.get(
            t.label.strip().lower())
        if match is None:
            match = tid if tid not in ids else _slug(t.label, ids | {x.theme_id for x in new})
            new.append(Theme(match, t.label, t.definition, t.include, t.exclude))
            ids.add(match)
        codes[g] = match
    if not new:
        return None
    return Codebook(name=current.name, version=next_version(current),
                    themes=current.themes + tuple(new), question=current.question)


def import_qdpx(store, path: Path) -> ImportSummary:
    """Import a .qdpx: texts -> responses (a selection over part of a text becomes a response
    of its own), codes -> themes (missing ones added to a new codebook version), codings ->
    decisions (the model's user -> suggestions; any other user -> that researcher's).

    Responses already in the project (same id) keep their text; only codings are added.

    Raises:
        InputError: unreadable or empty file; nothing is stored.
    """
    root, files, data = _open(path)
    digest = hashlib.sha256(data).hexdigest()
    base = dict(path=str(path), format="qdpx")
    if store.source_by_hash(digest) is not None:
        return ImportSummary(**base, source_already_present=True)
    users = {}
    for u in _kids(_kid(root, "Users"), "User") if _kid(root, "Users") is not None else []:
        uid = u.get("id") or u.get("name") or "imported"
        users[_norm_guid(u.get("guid"))] = MODEL_CODER if (
            uid == MODEL_CODER or u.get("name") == MODEL_USER_NAME) else uid
    codes: dict[str, str] = {}
    themes = codes_to_themes(root, path, codes)
    read = _read_sources(root, files, path, users, dict(codes))
    if not read.responses:
        raise errors.nothing_found(path, "text sources")
    file_ids = dict(codes)
    new_cb = _target_codebook(store, themes, codes)
    to_project = {file_ids[g]: codes[g] for g in codes}
    current_themes = len(store.active_codebook().themes)
    known = set((new_cb or store.active_codebook()).theme_ids)
    for (rid, tid, coder), _ in read.codings.items():
        if to_project.get(tid, tid) not in known:
            raise errors.unreadable(path, "REFI-QDA", f"a coding of {rid!r} names theme "
                                    f"{tid!r}, which is neither a code of the file nor a "
                                    "theme of the project")
        if not coder.strip() or len(coder) > 200:
            raise errors.unreadable(path, "REFI-QDA", f"a coding of {rid!r} has a coder "
                                    f"name that is empty or over 200 characters")
    for r in read.responses:
        if len(r.response_id) > 200 or len(r.respondent_id or "") > 200:
            raise errors.unreadable(path, "REFI-QDA", f"the id of {r.response_id[:60]!r}... "
                                    "is over 200 characters")
    # One transaction: the new codebook version, the texts and every coding, or nothing.
    with store.write() as conn:
        if new_cb is not None:
            added = len(new_cb.themes) - current_themes
            store.add_codebook_in(conn, new_cb, activate=True)
            read.notes.append(f"added {added} new themes: codebook {new_cb.name} is now "
                              f"version {new_cb.version}")
        existing = store.existing_hashes([r.response_id for r in read.responses], conn)
        new = [r for r in read.responses if r.response_id not in existing]
        sid = store.add_source(conn, name=path.name, path=str(path.resolve()), format="qdpx",
                               content_hash=digest, encoding="utf-8", options={},
                               rows_read=len(read.responses))
        n = store.add_responses(conn, new, sid)
        now = _now()
        for (rid, tid, coder), (status, origin, conf) in read.codings.items():
            apply_change(conn, response_id=rid, theme_id=to_project.get(tid, tid), coder=coder,
                         after={"origin": origin, "status": status, "confidence": conf},
                         actor=coder, action="set", at=now)
    if len(new) < len(read.responses):
        read.notes.append(f"{len(read.responses) - len(new)} responses were already in the "
                          "project: their text was kept, their codings added")
    log.info("imported %s: %d responses, %d codings", path.name, n, len(read.codings))
    return ImportSummary(**base, rows_read=len(read.responses), imported=n,
                         flagged=sum(1 for r in new if r.flag),
                         skipped_present=len(read.responses) - len(new),
                         columns={"codings": str(len(read.codings))}, notes=tuple(read.notes))
