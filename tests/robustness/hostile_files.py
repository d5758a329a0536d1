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
