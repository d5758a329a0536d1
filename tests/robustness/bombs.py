"""Builders of small files that would cost a lot: zip bombs (a part that inflates thousands
of times), pathological shapes (a header of a million columns, an Excel sheet that declares
A1:XFD1048576). Each is built in memory in about a second and is a few megabytes at most."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from hostile_files import ANSWER, docx_bytes, qde_xml

MB = 1024 * 1024


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


ONE_PIXEL_PNG = _png()
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def repeat(block: bytes, size: int) -> tuple[bytes, int]:
    """(block, n): `block` repeated to about `size` bytes."""
    big = block * max(1, min(1 << 20, size) // len(block))
    return big, max(1, size // len(big))


def lie_about_size(data: bytes, member: str, size: int) -> bytes:
    """The ZIP with `member`'s declared uncompressed size replaced by `size` in its local and
    central headers (a bomb that says it is small)."""
    out = bytearray(data)
    name = member.encode()
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = out.find(sig)
        while i != -1:
            n = struct.unpack_from("<H", out, i + (26 if sig == b"PK\x03\x04" else 28))[0]
            start = i + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(out[start:start + n]) == name:
                struct.pack_into("<I", out, i + off, size)
            i = out.find(sig, i + 4)
    return bytes(out)


def _xlsx_members(sheet: bytes | tuple[bytes, int], shared: bytes | tuple[bytes, int] | None
                  ) -> dict[str, bytes | tuple[bytes, int]]:
    ct = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
          'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
          'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
          'worksheet+xml"/></Types>')
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>')
    wb = (f'<?xml version="1.0"?><workbook xmlns="{SHEET_NS}" xmlns:r="http://schemas.'
          'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Answers" '
          'sheetId="1" r:id="rId1"/></sheets></workbook>')
    wbrels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
              'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
              'Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/styles" '
              'Target="styles.xml"/></Relationships>')
    members: dict[str, bytes | tuple[bytes, int]] = {
        "[Content_Types].xml": ct.encode(), "_rels/.rels": rels.encode(),
        "xl/workbook.xml": wb.encode(), "xl/_rels/workbook.xml.rels": wbrels.encode(),
        "xl/worksheets/sheet1.xml": sheet}
    if shared is not None:
        members["xl/sharedStrings.xml"] = shared
    return members


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(rows: list[str], *, dimension: str | None = None, extra: str = "") -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0"?><worksheet xmlns="{SHEET_NS}">{dim}<sheetData>'
            + "".join(rows) + f"</sheetData>{extra}</worksheet>").encode()


def header_rows() -> list[str]:
    return [f'<row r="1">{inline("A1", "id")}{inline("B1", "text")}</row>',
            f'<row r="2"><c r="A2"><v>1</v></c>{inline("B2", ANSWER)}</row>']


class _Stream(tuple):
    """(block, n) look-alike for zip_members whose first write is `head`, last `tail`."""

    def __new__(cls, head: bytes, block: bytes, n: int, tail: bytes):
        self = super().__new__(cls, (block, n))
        self.head, self.tail = head, tail
        return self


def _write_stream(w, s: "_Stream") -> None:
    w.write(s.head)
    for _ in range(s[1]):
        w.write(s[0])
    w.write(s.tail)


def zip_streamed(members: dict[str, bytes | tuple[bytes, int]], *, level: int = 9) -> bytes:
    """A ZIP; a member given as (block, n) is `block` written n times (a `_Stream` also
    writes its head first and its tail last), streamed: a gigabyte part never sits in
    memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for name, content in members.items():
            if isinstance(content, bytes):
                z.writestr(name, content)
                continue
            with z.open(name, "w", force_zip64=True) as w:
                if isinstance(content, _Stream):
                    _write_stream(w, content)
                else:
                    for _ in range(content[1]):
                        w.write(content[0])
    return buf.getvalue()


def xlsx_bomb(part: str, size: int) -> bytes:
    """An .xlsx whose `part` ("shared strings", "sheet", "styles") inflates to `size`."""
    members = _xlsx_members(sheet_xml(header_rows()), None)
    if part == "shared strings":
        members["xl/sharedStrings.xml"] = _Stream(
            b'<?xml version="1.0"?><sst xmlns="' + SHEET_NS.encode() + b'">',
            *repeat(b"<si><t>lol</t></si>", size), b"</sst>")
    elif part == "sheet":
        members["xl/worksheets/sheet1.xml"] = _Stream(
            sheet_xml(header_rows()).split(b"</sheetData>")[0],
            *repeat(b'<row><c t="inlineStr"><is><t>x</t></is></c></row>', size),
            b"</sheetData></worksheet>")
    else:
        members["xl/worksheets/sheet1.xml"] = sheet_xml(header_rows() + [
            f'<row r="3"><c r="A3" s="1"><v>45000</v></c>{inline("B3", ANSWER)}</row>'])
        members["xl/styles.xml"] = _Stream(
            b'<?xml version="1.0"?><styleSheet xmlns="' + SHEET_NS.encode() + b'"><cellXfs>',
            *repeat(b'<xf numFmtId="14"/>', size), b"</cellXfs></styleSheet>")
    return zip_streamed(members)


def xlsx_declared_everything() -> bytes:
    """~5 KB: the sheet declares A1:XFD1048576 and holds a cell in the last row and column."""
    rows = header_rows() + [f'<row r="1048576">{inline("XFD1048576", "far away")}</row>']
    return zip_streamed(_xlsx_members(sheet_xml(rows, dimension="A1:XFD1048576"), None))


def xlsx_wide_rows(n_rows: int = 20_000) -> bytes:
    """Every row holds a cell in column XFD as well as its answer."""
    rows = header_rows() + [f'<row r="{i}"><c r="A{i}"><v>{i}</v></c>'
                            f'{inline(f"B{i}", f"answer {i}")}{inline(f"XFD{i}", "x")}</row>'
                            for i in range(3, n_rows + 3)]
    return zip_streamed(_xlsx_members(sheet_xml(rows, dimension="A1:XFD1048576"), None))


def docx_with_media(size: int, paragraphs: list[str] | None = None) -> bytes:
    """A real .docx (python-docx) showing a picture whose part inflates to `size` bytes (the
    picture is in the document, so a reader that loads every part it links to loads it)."""
    import docx

    d = docx.Document()
    for p in paragraphs or ["Interviewer: Why?", "R1: " + ANSWER]:
        d.add_paragraph(p)
    d.add_picture(io.BytesIO(ONE_PIXEL_PNG))
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    media = [n for n in src.namelist() if n.startswith("word/media/")]
    assert len(media) == 1, media
    members: dict[str, bytes | tuple[bytes, int]] = {
        n: src.read(n) for n in src.namelist() if n != media[0]}
    members[media[0]] = _Stream(ONE_PIXEL_PNG, *repeat(b"\0" * 4096, size), b"")
    return zip_streamed(members)


def docx_document_bomb(size: int) -> bytes:
    """A .docx whose document.xml inflates to `size` (empty paragraphs)."""
    base = docx_bytes(["R1: " + ANSWER])
    src = zipfile.ZipFile(io.BytesIO(base))
    members: dict[str, bytes | tuple[bytes, int]] = {
        i.filename: src.read(i) for i in src.infolist() if i.filename != "word/document.xml"}
    doc = src.read("word/document.xml")
    head, _, tail = doc.partition(b"<w:body>")
    members["word/document.xml"] = _Stream(head + b"<w:body>",
                                           *repeat(b"<w:p/>", size), b"</w:body></w:document>")
    return zip_streamed(members)


def qdpx_long_text(chars: int) -> bytes:
    """A .qdpx whose one source text (a file) has `chars` characters, coded as a whole."""
    qde = qde_xml([{"name": "long", "path": "long.txt", "coded": True}])
    return zip_streamed({"project.qde": qde,
                         "sources/long.txt": repeat(b"word ", chars)})


def qdpx_many_selections(n: int, text_chars: int = 90_000) -> bytes:
    """One source of `text_chars`, and `n` distinct selections each covering nearly all of it
    (each would be an answer of ~90,000 characters)."""
    sels = [(i % 50, text_chars - i // 50, "") for i in range(n)]
    qde = qde_xml([{"name": "s", "path": "s.txt", "selections": sels}])
    return zip_streamed({"project.qde": qde, "sources/s.txt": ("x" * text_chars).encode()})


def qdpx_junk(size: int) -> bytes:
    """A valid project whose project.qde also carries `size` bytes of elements nobody reads."""
    qde = qde_xml([{"name": "a", "text": ANSWER, "coded": True}])
    head, _, tail = qde.partition(b"<Sources>")
    return zip_streamed({"project.qde": _Stream(head + b"<Notes>", *repeat(b"<x/>", size),
                                                b"</Notes><Sources>" + tail)})


def qdpx_same_names(n: int) -> bytes:
    """`n` sources all named the same (ids made unique by numbering: once quadratic)."""
    qde = qde_xml([{"name": "same", "text": f"{ANSWER} {i}", "coded": True} for i in range(n)])
    return zip_streamed({"project.qde": qde})


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def npz_declaring(shape: tuple[int, ...]) -> bytes:
    """An .npz whose array declares `shape` (gigabytes) but holds a few bytes."""
    return zip_streamed({"proto.npy": npy_header(shape) + b"\0" * 64})


def npz_ratio_bomb(size: int) -> bytes:
    """An .npz of one honest float64 array of zeros, `size` bytes, compressed ~1000 times."""
    n = size // 8
    return zip_streamed({"proto.npy": _Stream(npy_header((n,)), *repeat(b"\0" * 4096, size),
                                              b"")})


def docx_nested(depth: int) -> bytes:
    """A .docx whose body holds paragraphs nested `depth` deep."""
    base = docx_bytes(["R1: " + ANSWER])
    src = zipfile.ZipFile(io.BytesIO(base))
    members: dict[str, bytes | tuple[bytes, int]] = {
        i.filename: src.read(i) for i in src.infolist() if i.filename != "word/document.xml"}
    head = src.read("word/document.xml").partition(b"<w:body>")[0]
    members["word/document.xml"] = _Stream(head + b"<w:body>" + b"<w:p>" * depth,
                                           b"</w:p>" * depth, 1, b"</w:body></w:document>")
    return zip_streamed(members)


def xlsx_nested(depth: int) -> bytes:
    rows = header_rows() + ["<x>" * depth + "</x>" * depth]
    return zip_streamed(_xlsx_members(sheet_xml(rows), None))


def qdpx_nested(depth: int) -> bytes:
    qde = qde_xml([{"name": "a", "text": ANSWER, "coded": True}])
    head, _, tail = qde.partition(b"<Sources>")
    return zip_streamed({"project.qde": _Stream(head + b"<Notes>" + b"<x>" * depth,
                                                b"</x>" * depth, 1, b"</Notes><Sources>" + tail)})
