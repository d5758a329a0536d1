"""Messages that say what is wrong (issue 15, finding 6): password-protected Word, Excel and
PDF files; files with no text (a scanned PDF, a Word file holding only an embedded object);
a title row above the header; a JSON list or object given as the answer."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from bombs import ONE_PIXEL_PNG
from harness import project_state, run_nlp
from hostile_files import ANSWER, csv_bytes, jsonl_bytes, pdf_bytes, xlsx_bytes


def ole_bytes(streams: list[str]) -> bytes:
    """An OLE compound file's opening, with directory entries named `streams` (what Office
    writes for an encrypted .docx/.xlsx: EncryptionInfo, EncryptedPackage)."""
    head = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    entries = b"".join(n.encode("utf-16-le").ljust(64, b"\0") + b"\0" * 64 for n in streams)
    return head + entries + b"\0" * 2048


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    src = pdf_bytes(["2 Findings", "", f'One participant told us: "{ANSWER}"'])
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(src)))
    w.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def aes_pdf() -> bytes:
    """A PDF whose encryption dictionary asks for AES (which needs 'cryptography')."""
    return encrypted_pdf("").replace(
        b"/V 2\n/R 3\n", b"/V 4\n/R 4\n/CF << /StdCF << /CFM /AESV2 /AuthEvent /DocOpen "
        b"/Length 16 >> >> /StmF /StdCF /StrF /StdCF\n")


def blank_pdf(pages: int = 2) -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def picture_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_picture(io.BytesIO(ONE_PIXEL_PNG))
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


ERRORS = {
    "encrypted .docx": ("report.docx", lambda: ole_bytes(["EncryptionInfo", "EncryptedPackage"]),
                        r"password-protected \(encrypted\).*save an unprotected copy"),
    "encrypted .xlsx": ("answers.xlsx", lambda: ole_bytes(["EncryptionInfo", "EncryptedPackage"]),
                        r"password-protected \(encrypted\).*save an unprotected copy"),
    "old Word 97-2003 file named .docx": ("old.docx", lambda: ole_bytes(["WordDocument"]),
                                          r"old-format \(97-2003\) file.*save it as \.docx"),
    "PDF with a user password": ("locked.pdf", lambda: encrypted_pdf("secret"),
                                 r"password-protected \(encrypted\).*save an unprotected copy"),
    "PDF encrypted with AES": ("aes.pdf", aes_pdf,
                               r"password-protected \(encrypted\).*'cryptography'"),
    "image-only PDF": ("scan.pdf", blank_pdf,
                       r"no text to import: its 2 page\(s\) have no text layer.*OCR"),
    ".docx holding only a picture": ("picture.docx", picture_docx,
                                     r"no text to import: it holds only \d+ embedded object"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_clear_words_for_files_without_readable_text(name: str, project: Path, tmp_path: Path):
    filename, build, pattern = ERRORS[name]
    f = tmp_path / filename
    f.write_bytes(build())
    before = project_state(project)
    res = run_nlp("import", f, project=project)
    msg = " ".join(res.stderr.split())
    assert res.returncode == 1 and "Traceback" not in msg and "unexpected" not in msg, msg
    assert filename in msg and re.search(pattern, msg), msg
    assert "binary content" not in msg and "damaged" not in msg and "is empty" not in msg, msg
    assert project_state(project) == before


def test_pdf_with_an_owner_password_only_is_read(project: Path, tmp_path: Path):
    f = tmp_path / "copy-protected.pdf"
    f.write_bytes(encrypted_pdf(""))
    res = run_nlp("import", f, project=project)
    assert res.returncode == 0, res.stderr


def _stored(project: Path):
    from nlp.project import open_project

    p = open_project(project)
    try:
        return list(p.store.corpus())
    finally:
        p.close()


TITLED = [["Consultation on commissioning, 2024 (export of 3 March)", None, None],
          ["id", "text", "group"], ["R-17", ANSWER, "a"], ["R-18", "Payment comes late.", "b"]]


@pytest.mark.parametrize("kind", ["xlsx merged", "xlsx", "csv"])
def test_title_row_above_the_header_is_detected(kind: str, project: Path, tmp_path: Path):
    if kind == "csv":
        f = tmp_path / "titled.csv"
        f.write_bytes(csv_bytes([[c or "" for c in r] for r in TITLED]))
    else:
        f = tmp_path / "titled.xlsx"
        f.write_bytes(xlsx_bytes({"S": TITLED}, merge={"S": ["A1:C1"]} if "merged" in kind
                                 else None))
    res = run_nlp("import", f, project=project)
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "skipped 1 title row(s) above the header" in out and "the header is row 2" in out
    rows = _stored(project)
    assert [r.response_id for r in rows] == ["R-17", "R-18"]  # the ids are kept
    assert rows[0].text == ANSWER and rows[0].metadata == {"group": "a"}


def test_a_row_that_may_be_a_title_is_reported(project: Path, tmp_path: Path):
    """One cell above several unknown column names: not skipped (it may be a header of one
    column), but the note says what to do."""
    f = tmp_path / "maybe.csv"
    f.write_bytes(csv_bytes([["Survey", "", ""], ["Ref", "Answer given", "Area"],
                             ["1", ANSWER, "north"]]))
    res = run_nlp("import", f, project=project)
    assert "holds one cell ('Survey') and the rows below hold more" in " ".join(
        res.stdout.split() + res.stderr.split())


def test_json_list_or_object_as_text_is_stored_as_json(project: Path, tmp_path: Path):
    f = tmp_path / "nested.jsonl"
    f.write_bytes(jsonl_bytes([{"id": "a", "text": ["The forms", "ran to eighty pages"],
                                "extra": {"k": [1, 2]}},
                               {"id": "b", "text": {"part": "Payment came late"}}]))
    res = run_nlp("import", f, project=project)
    assert res.returncode == 0, res.stderr
    a, b = _stored(project)
    assert json.loads(a.text) == ["The forms", "ran to eighty pages"]
    assert json.loads(b.text) == {"part": "Payment came late"}
    assert json.loads(a.metadata["extra"]) == {"k": [1, 2]}
    assert "'" not in a.text  # not Python's repr
