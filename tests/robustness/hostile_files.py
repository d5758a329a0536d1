"""Builders of hostile input files: each returns the bytes of one awkward or broken file."""
from __future__ import annotations

import csv
import io
import json
import random
import zipfile

from filedata import pdf_bytes  # noqa: F401 - re-exported for the tests

ANSWER = "The commissioning process takes far too long for small charities like ours."


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode(encoding)


def answers_csv(n: int, *, start: int = 1, text: str = ANSWER) -> bytes:
    return csv_bytes([["id", "text"], *[[str(i), f"{text} ({i})"] for i in range(start, start + n)]])


def jsonl_bytes(objs: list[dict]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


def junk(n: int = 4096, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(n))


def xlsx_bytes(sheets: dict[str, list[list]], *, merge: dict[str, list[str]] | None = None
               ) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for rng in (merge or {}).get(name, []):
            ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def truncated(data: bytes, frac: float = 0.5) -> bytes:
    return data[:int(len(data) * frac)]


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


BILLION_LAUGHS_XML = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol3;"/>"""

YAML_BOMB = """name: bomb
version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
themes:
  - {id: t1, label: One, definition: *i}
"""

CODEBOOK_OK = """name: tiny
version: 1
themes:
  - id: slow
    label: Slow process
    definition: The commissioning or tendering process takes too long.
  - id: money
    label: Underfunding
    definition: Contracts do not pay the full cost of the service.
"""


QDA_NS = "urn:QDA-XML:project:1.0"
CODE_GUID = "C0DE0000-0000-4000-8000-000000000001"


def _attr(s: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(s)


def qde_xml(sources: list[dict], *, code_name: str = "Slow process", users: str = "") -> bytes:
    """A REFI-QDA project.qde: one code, and per source a dict with `name`, `text` (inline, or
    `path` for a file under sources/), optional `values` [(variable, kind, text)],
    `selections` [(start, end, description)] and `coded` (the whole text coded)."""
    from xml.sax.saxutils import escape

    var_names = sorted({v for s in sources for v, _, _ in s.get("values", [])})
    var_guid = {v: f"7A000000-0000-4000-8000-{i:012d}" for i, v in enumerate(var_names)}
    kinds = {v: k for s in sources for v, k, _ in s.get("values", [])}
    out = [f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{QDA_NS}" name="p">',
           users,
           f'<CodeBook><Codes><Code guid="{CODE_GUID}" name={_attr(code_name)} '
           'isCodable="true"/></Codes></CodeBook>']
    if var_names:
        out.append("<Variables>" + "".join(
            f'<Variable guid="{var_guid[v]}" name={_attr(v)} '
            f'typeOfVariable="{kinds[v].replace("Value", "")}"/>' for v in var_names)
            + "</Variables>")
    out.append("<Sources>")
    for i, s in enumerate(sources):
        guid = f"50000000-0000-4000-8000-{i:012d}"
        ref = f' plainTextPath="internal://{s["path"]}"' if "path" in s else ""
        out.append(f'<TextSource guid="{guid}" name={_attr(s["name"])}{ref}>')
        if "path" not in s:
            out.append(f"<PlainTextContent>{escape(s['text'])}</PlainTextContent>")
        for start, end, desc in s.get("selections", []):
            out.append(f'<PlainTextSelection guid="5E000000-0000-4000-8000-{i:012d}" '
                       f'startPosition="{start}" endPosition="{end}">'
                       + (f"<Description>{escape(desc)}</Description>" if desc else "")
                       + f'<Coding guid="C1000000-0000-4000-8000-{i:012d}"><CodeRef '
                       f'targetGUID="{CODE_GUID}"/></Coding></PlainTextSelection>')
        if s.get("coded"):
            out.append(f'<Coding guid="C2000000-0000-4000-8000-{i:012d}"><CodeRef '
                       f'targetGUID="{CODE_GUID}"/></Coding>')
        for v, kind, text in s.get("values", []):
            out.append(f'<VariableValue><VariableRef targetGUID="{var_guid[v]}"/>'
                       f"<{kind}>{escape(text)}</{kind}></VariableValue>")
        out.append("</TextSource>")
    out.append("</Sources></Project>")
    return "\n".join(out).encode("utf-8")


def qdpx_bytes(sources: list[dict], *, files: dict[str, bytes] | None = None, **kw) -> bytes:
    """A .qdpx: project.qde (see `qde_xml`) and `files` under sources/."""
    return zip_bytes({"project.qde": qde_xml(sources, **kw),
                      **{f"sources/{k}": v for k, v in (files or {}).items()}})
