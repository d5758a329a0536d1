"""REFI-QDA stage (writer): project (.qdpx) and codebook (.qdc) files for NVivo, ATLAS.ti,
MAXQDA and QualCoder, from data (a codebook, answers, codings and memos; nlp.pipeline reads
them from a project)."""
from __future__ import annotations

import logging
import re
import zipfile
from collections import defaultdict
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from xml.etree import ElementTree as ET

from .. import errors
from ..fsio import atomic_path, read_input
from ..text.offsets import normalise_line_breaks, rewrite_with_spans
from ..types import MODEL_CODER, Codebook, Coding, Corpus, Memo, Response, Theme
from .codes import codes_to_themes, parse_xml
from .schema import CODEBOOK_NS, MODEL_USER_NAME, ORIGIN, PROJECT_NS, SUGGESTIONS, code_guid, guid

log = logging.getLogger(__name__)

_PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2",
            "#7F7F7F", "#BCBD22", "#17BECF")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def schema_path(kind: str = "project") -> Path:
    """The vendored REFI-QDA XSD: kind "project" (Project-mrt2019) or "codebook"."""
    name = "Project-mrt2019.xsd" if kind == "project" else "Codebook-mrt2019.xsd"
    return Path(str(resources.files("nlp") / "data" / "refi" / name))


def validate_xml(xml: bytes, kind: str = "project") -> list[str]:
    """Validate REFI-QDA XML against the vendored schema; returns the errors ([] if valid).

    Raises:
        NotReadyError: lxml is not installed.
    """
    try:
        from lxml import etree
    except ImportError:
        raise errors.optional_dependency("lxml") from None
    schema = etree.XMLSchema(etree.parse(str(schema_path(kind))))
    ok = schema.validate(etree.fromstring(xml))
    return [] if ok else [f"line {e.line}: {e.message}" for e in schema.error_log]


def _clean(s: Any) -> str:
    """Text XML 1.0 can hold (control characters dropped)."""
    return _XML_BAD.sub("", "" if s is None else str(s))


def _when(dt: datetime | None) -> str:
    dt = dt or datetime.now(timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent: ET.Element | None, tag: str, ns: str = PROJECT_NS, text: str | None = None,
        **attrs: Any) -> ET.Element:
    a = {k: _clean(v) for k, v in attrs.items() if v is not None}
    e = ET.Element(f"{{{ns}}}{tag}", a) if parent is None else ET.SubElement(
        parent, f"{{{ns}}}{tag}", a)
    if text is not None:
        e.text = _clean(text)
    return e


def _to_bytes(root: ET.Element, ns: str) -> bytes:
    ET.register_namespace("", ns)
    ET.indent(root, space=" ")
    # A double-quoted declaration, as every QDA program writes it (ElementTree's is single).
    return (b'<?xml version="1.0" encoding="utf-8"?>\n'
            + ET.tostring(root, encoding="unicode").encode("utf-8"))


# -- codebook -------------------------------------------------------------------------------
def theme_description(theme: Theme) -> str:
    """A theme as a code's Description: definition, include/exclude lists, its id last."""
    parts = [theme.definition.strip()]
    for title, items in (("Include", theme.include), ("Exclude", theme.exclude)):
        if items:
            parts.append(f"{title}:\n" + "\n".join(f"- {x}" for x in items))
    parts.append(f"Theme id: {theme.theme_id}")
    return "\n\n".join(parts)


def _codes(parent: ET.Element, codebook: Codebook, ns: str,
           notes: Mapping[str, Sequence[str]] | None = None) -> None:
    codes = _el(parent, "Codes", ns)
    for i, t in enumerate(codebook.themes):
        c = _el(codes, "Code", ns, guid=code_guid(codebook, t.theme_id), name=t.label,
                isCodable="true", color=_PALETTE[i % len(_PALETTE)])
        _el(c, "Description", ns, text=theme_description(t))
        for g in (notes or {}).get(t.theme_id, ()):
            _el(c, "NoteRef", ns, targetGUID=g)


def codebook_xml(codebook: Codebook) -> bytes:
    """The codebook as a REFI-QDA .qdc document (namespace urn:QDA-XML:codebook:1.0)."""
    root = _el(None, "CodeBook", CODEBOOK_NS, origin=ORIGIN)
    _codes(root, codebook, CODEBOOK_NS)
    return _to_bytes(root, CODEBOOK_NS)


def write_qdc(codebook: Codebook, out: str | Path) -> Path:
    """Write `codebook` as a REFI-QDA .qdc file (atomically)."""
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(codebook_xml(codebook))
    return out


# -- project ---------------------------------------------------------------------------------
def _var_type(values: Iterable[Any]) -> str:
    vals = [v for v in values if v is not None and v != ""]
    if vals and all(isinstance(v, bool) for v in vals):
        return "Boolean"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "Integer"
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "Float"
    return "Text"


def _value(parent: ET.Element, var_guid: str, vtype: str, value: Any) -> None:
    vv = _el(parent, "VariableValue")
    _el(vv, "VariableRef", targetGUID=var_guid)
    if vtype == "Boolean":
        _el(vv, "BooleanValue", text="true" if value else "false")
    elif vtype == "Integer":
        _el(vv, "IntegerValue", text=str(int(value)))
    elif vtype == "Float":
        _el(vv, "FloatValue", text=format(float(value), "f"))
    else:
        _el(vv, "TextValue", text=str(value))


def _response_vars(r: Response, respondent: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"response_id": r.response_id, "source file": r.source or None,
                           "row": r.location, "question": r.question, "respondent": respondent,
                           "flag": r.flag}
    for k, v in r.metadata.items():
        out.setdefault(str(k), v)
    return {k: v for k, v in out.items() if v is not None and v != ""}


def _selection_lines(codings: Sequence[Coding]) -> list[str]:
    lines = []
    for c in codings:
        line = f"{c.theme_id}: {c.status}"
        if c.coder != MODEL_CODER and c.origin == "model":
            line += " (model suggestion)"
        if c.confidence is not None:
            line += f", confidence {c.confidence:.3f}"
        lines.append(line)
    return lines


def _spans(c: Coding) -> tuple[tuple[int, int], ...]:
    return tuple(c.spans) or ((c.span,) if c.span else ())


def _exported_codings(all_codings: Sequence[Coding], suggestions: str
                      ) -> dict[str, dict[str, list[Coding]]]:
    """{response_id: {coder: [codings]}}: every researcher decision, and the model's
    suggestions as asked ("open": those no researcher has decided on yet)."""
    if suggestions not in SUGGESTIONS:
        raise errors.unknown_suggestions(suggestions, list(SUGGESTIONS))
    decided = {(c.response_id, c.theme_id) for c in all_codings if c.coder != MODEL_CODER}
    out: dict[str, dict[str, list[Coding]]] = defaultdict(lambda: defaultdict(list))
    for c in all_codings:
        if c.coder == MODEL_CODER:
            if suggestions == "none" or (suggestions == "open"
                                         and (c.response_id, c.theme_id) in decided):
                continue
        out[c.response_id][c.coder].append(c)
    return out


def _pseudonyms(ids: Sequence[str], anonymiser: Callable[[list[str]], list[str]]
                ) -> dict[str, str]:
    """Respondent ids the anonymiser would change (names) become 'respondent N'."""
    changed = [i for i, a in zip(ids, anonymiser(list(ids))) if a != i]
    return {i: f"respondent {n}" for n, i in enumerate(sorted(changed), start=1)}


def qdpx_xml(codebook: Codebook, corpus: Corpus, codings: Sequence[Coding],
             memos: Sequence[Memo] = (), *, source_hashes: Sequence[str] = (),
             anonymiser: Callable[[list[str]], list[str]] | None = None,
             suggestions: str = "open", name: str | None = None,
             line_breaks: str = "keep") -> tuple[bytes, dict[str, bytes]]:
    """A project's data as REFI-QDA XML plus the plain-text source files it points at.

    One TextSource per response (UTF-8 text, LF line ends, no BOM); each coder's codings of
    a response sit on one PlainTextSelection over the whole text, with offsets counted in
    Unicode code points.

    Args:
        source_hashes: the content hashes of the project's source files (they salt the
            GUIDs, so two projects' exports do not collide).
        anonymiser: texts -> texts for answers, respondent ids and memos (None: as stored).
        suggestions, name, line_breaks: see nlp.pipeline.export_qdpx.

    Returns:
        (project.qde bytes, {zip path: bytes}).

    Raises:
        NlpError: unknown suggestions or line_breaks option.
    """
    anonymise = anonymiser is not None
    by_response = _exported_codings(codings, suggestions)
    if line_breaks not in ("keep", "space"):
        raise errors.unknown_line_breaks(line_breaks)
    # Every span coded on an answer, carried through line ends, spaces and anonymisation.
    old_spans = [sorted({sp for cs in by_response.get(r.response_id, {}).values()
                         for c in cs for sp in _spans(c)}) for r in corpus]
    texts, new_spans = [], []
    for t, sp in zip(corpus.texts, old_spans):
        # "space": no line ends, so no reader can count them differently
        t2, sp2 = normalise_line_breaks(t, sp, collapse=line_breaks == "space")
        texts.append(t2)
        new_spans.append(sp2)
    respondents = sorted({r.respondent_id for r in corpus if r.respondent_id})
    pseudo: dict[str, str] = {}
    memos = list(memos)
    memo_texts = [m.text for m in memos]
    if anonymiser is not None:
        texts, new_spans = rewrite_with_spans(texts, new_spans, anonymiser)
        pseudo = _pseudonyms(respondents, anonymiser) if respondents else {}
        memo_texts = list(anonymiser(memo_texts)) if memo_texts else []
    span_map = {(r.response_id, a): b for r, olds, news in zip(corpus, old_spans, new_spans)
                for a, b in zip(olds, news)}
    salt = ",".join(sorted(source_hashes))
    coders = sorted({coder for per in by_response.values() for coder in per}
                    | {m.author for m in memos})
    user_guid = {c: guid("user", c) for c in coders}
    note_guid = [guid("note", salt, str(m.memo_id)) for m in memos]
    notes_on: dict[tuple[str, str], list[str]] = defaultdict(list)
    for m, g in zip(memos, note_guid):
        notes_on[(m.target, m.target_id)].append(g)
    now = _when(None)

    root = _el(None, "Project", name=name or codebook.name, origin=ORIGIN,
               creationDateTime=now, modifiedDateTime=now)
    if coders:
        users = _el(root, "Users")
        for c in coders:
            _el(users, "User", guid=user_guid[c], id=c,
                name=MODEL_USER_NAME if c == MODEL_CODER else c)
    cb = _el(root, "CodeBook")
    _codes(cb, codebook, PROJECT_NS, {k[1]: v for k, v in notes_on.items() if k[0] == "theme"})

    rows = []
    for r, text in zip(corpus, texts):
        resp = pseudo.get(r.respondent_id or "", r.respondent_id)
        rows.append((r, text, resp, _response_vars(r, resp)))
    var_names: list[str] = []
    for *_, vars_ in rows:
        var_names += [k for k in vars_ if k not in var_names]
    var_types = {k: _var_type(v[k] for *_, v in rows if k in v) for k in var_names}
    var_guid = {k: guid("variable", k) for k in var_names}
    if var_names:
        variables = _el(root, "Variables")
        for k in var_names:
            _el(variables, "Variable", guid=var_guid[k], name=k, typeOfVariable=var_types[k])

    cases: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for r, _text, resp, vars_ in rows:
        cases[resp or r.response_id].append((guid("source", salt, r.response_id), vars_))
    if cases:
        cases_el = _el(root, "Cases")
        for case, members in cases.items():
            c_el = _el(cases_el, "Case", guid=guid("case", salt, case), name=case)
            shared = {k: v for k, v in members[0][1].items()
                      if k not in ("response_id", "row", "source file", "flag")
                      and all(m[1].get(k) == v for m in members)}
            for k, v in shared.items():
                _value(c_el, var_guid[k], var_types[k], v)
            for src_guid, _ in members:
                _el(c_el, "SourceRef", targetGUID=src_guid)

    files: dict[str, bytes] = {}
    sources = _el(root, "Sources") if rows else None  # the schema wants one source or none
    for r, text, _resp, vars_ in rows:
        sg = guid("source", salt, r.response_id)
        files[f"sources/{sg}.txt"] = text.encode("utf-8")
        src = _el(sources, "TextSource", guid=sg, name=r.response_id,
                  plainTextPath=f"internal://{sg}.txt", creationDateTime=now)
        where = f"{r.source}, row/line {r.location}" if r.source else "entered directly"
        _el(src, "Description", text=f"Response {r.response_id} ({where}).")
        for coder, cs in sorted(by_response.get(r.response_id, {}).items()):
            if not text:
                continue
            # One selection over the whole text for the coder's whole-answer codings, and one
            # per span for those resting on spans (all of the coder's themes on that span).
            groups: dict[tuple[int, int] | None, list[Coding]] = defaultdict(list)
            for cod in cs:
                for span in _spans(cod) or (None,):
                    groups[span].append(cod)
            for span, group in sorted(groups.items(), key=lambda kv: (kv[0] is not None,
                                                                    kv[0] or (0, 0))):
                if span is None:
                    a, b, sel_id, extra = 0, len(text), guid("selection", salt, r.response_id,
                                                             coder), []
                else:
                    a, b = span_map.get((r.response_id, span), (0, 0))
                    if b <= a:
                        continue  # the span's words were rewritten to nothing
                    sel_id = guid("selection", salt, r.response_id, coder,
                                  f"{span[0]}-{span[1]}")
                    extra = [f"span: {a}-{b}"]
                sel = _el(src, "PlainTextSelection", guid=sel_id,
                          name=f"{r.response_id} / {coder}" + (f" / {a}-{b}" if extra else ""),
                          startPosition=str(a), endPosition=str(b),
                          creatingUser=user_guid[coder],
                          creationDateTime=_when(max(cod.created_at for cod in group)))
                lines = [f"response: {r.response_id}", f"coder: {coder}", *extra,
                         *_selection_lines(group)]
                _el(sel, "Description", text="\n".join(lines))
                for cod in group:
                    if cod.status in ("accepted", "suggested"):
                        cd = _el(sel, "Coding", guid=guid("coding", salt, r.response_id,
                                                          cod.theme_id, coder,
                                                          *([f"{span[0]}-{span[1]}"]
                                                            if span else [])),
                                 creatingUser=user_guid[coder],
                                 creationDateTime=_when(cod.created_at))
                        _el(cd, "CodeRef", targetGUID=code_guid(codebook, cod.theme_id))
        for g in notes_on.get(("answer", r.response_id), ()):
            _el(src, "NoteRef", targetGUID=g)
        for k, v in vars_.items():
            _value(src, var_guid[k], var_types[k], v)
    if memos:
        notes_el = _el(root, "Notes")
        for m, g, body in zip(memos, note_guid, memo_texts):
            what = {"answer": f"answer {m.target_id}", "theme": f"theme {m.target_id}",
                    "project": "the project"}.get(m.target, m.target)
            note = _el(notes_el, "Note", guid=g, name=f"Memo on {what} by {m.author}",
                       creatingUser=user_guid[m.author], creationDateTime=_when(m.created_at))
            _el(note, "PlainTextContent", text=body)
    desc = (f"Exported by {ORIGIN} on {now[:10]}. Codebook: {codebook.name} version "
            f"{codebook.version}." + (f" Question: {codebook.question}" if codebook.question
                                      else "") +
            f" User '{MODEL_USER_NAME}' holds the model's suggestions; every other user is a "
            "researcher whose codings are decisions. "
            + ("Texts are anonymised." if anonymise else "Texts are NOT anonymised."))
    _el(root, "Description", text=desc)
    for g in notes_on.get(("project", ""), ()):
        _el(root, "NoteRef", targetGUID=g)
    return _to_bytes(root, PROJECT_NS), files


def write_qdpx(out: str | Path, xml: bytes, files: Mapping[str, bytes]) -> Path:
    """Write a .qdpx (a ZIP: project.qde and sources/, from `qdpx_xml`), atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.qde", xml)
            for path, data in files.items():
                zf.writestr(path, data)
    log.info("exported %d sources to %s", len(files), out)
    return out


def read_qdc(path: str | Path) -> Codebook:
    """Read a REFI-QDA .qdc codebook (nested codes are flattened).

    Raises:
        InputError: not a REFI-QDA codebook.
    """
    root = parse_xml(Path(path), read_input(path, what="codebook"))
    themes = codes_to_themes(root, Path(path))
    return Codebook(name=Path(path).stem, version=1, themes=tuple(themes))
