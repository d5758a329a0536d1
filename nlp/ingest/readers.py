"""Ingest stage: low-level readers (bytes -> text; Word and PDF -> lines) with errors that name
the file and the row or line. Tables (CSV, Excel, JSON Lines) are read in nlp.ingest.tables."""
from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from .. import errors
from .. import limits as _limits
from ..fsio import read_input
from ..text.clean import clean_text  # noqa: F401 - re-exported (ingest, tests)
from .docx import read_docx

ENCODINGS = ["utf-8", "utf-8-sig", "cp1252"]  # in this order; UTF-16 only with its BOM
MAX_CELL = _limits.ANSWER_CHARS
MAX_ID = 200  # response and respondent ids: the database columns' width (PostgreSQL enforces it)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Office files, and encrypted new ones
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def check_not_binary(path: Path, data: bytes, kind: str) -> None:
    if data.startswith(_UTF16_BOMS):
        # UTF-16 (Excel's "Unicode text"): every other byte of ASCII text is NUL. `decode`
        # checks it decodes; control characters are judged on the decoded text.
        head_text = decode(path, data)[0][:8192]
        ctrl = sum(1 for ch in head_text if ord(ch) < 9 or 13 < ord(ch) < 32)
        if head_text and ctrl / len(head_text) > 0.05:
            raise errors.binary_junk(path, kind)
        return
    head = data[:8192]
    if b"\x00" in head:
        raise errors.binary_junk(path, kind)
    ctrl = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and ctrl / len(head) > 0.05:
        raise errors.binary_junk(path, kind)


def decode(path: Path, data: bytes, notes: list[str] | None = None) -> tuple[str, str]:
    """Decode bytes: UTF-16 when it starts with its byte-order mark, else UTF-8 (with or
    without BOM), else cp1252. A file mixing UTF-8 lines with cp1252 ones (two files pasted
    together) is decoded line by line, and `notes` says which lines were cp1252.
    Returns (text, encoding).

    Raises:
        InputError: no encoding fits; names the first line that none can decode.
    """
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            line = data.count(b"\n\x00" if data[:1] == b"\xff" else b"\x00\n", 0, exc.start) + 1
            raise errors.undecodable(path, line, ["utf-16"]) from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    bom = data.startswith(b"\xef\xbb\xbf")
    parts: list[str] = []
    cp_lines: list[int] = []
    utf8_multibyte = False
    for i, raw in enumerate(data.splitlines(keepends=True), start=1):
        if i == 1 and bom:
            raw = raw[3:]
        try:
            parts.append(raw.decode("utf-8"))
            utf8_multibyte = utf8_multibyte or not raw.isascii()
        except UnicodeDecodeError:
            try:
                parts.append(raw.decode("cp1252"))
            except UnicodeDecodeError:
                raise errors.undecodable(path, i, ENCODINGS) from None
            cp_lines.append(i)
    if not utf8_multibyte:
        return "".join(parts), "cp1252"
    if notes is not None:
        shown = ", ".join(map(str, cp_lines[:10])) + (", ..." if len(cp_lines) > 10 else "")
        notes.append(f"mixed encodings: {len(cp_lines)} line(s) are not UTF-8 and were read as "
                     f"cp1252 (line {shown}); check them")
    return "".join(parts), "utf-8+cp1252"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, read through the one checked reader (`nlp.fsio.read_input`): a
    regular file under the size limit, never a pipe or a device.

    Raises:
        InputError: missing, a folder or special file, over the limit, or empty.
    """
    data = read_input(path)
    if not data.strip():
        raise errors.empty_file(path)
    return data


def check_office(path: Path, data: bytes, kind: str, new_suffix: str) -> None:
    """Encrypted Office files and the old binary formats are OLE containers, not ZIP archives:
    say which, instead of "binary content".

    Raises:
        InputError: password-protected, or an old .doc/.xls file.
    """
    if data[:8] != _OLE:
        return
    if "EncryptedPackage".encode("utf-16-le") in data:
        raise errors.encrypted(path, kind)
    raise errors.old_office_format(path, kind, new_suffix)


def zip_or_fail(path: Path, data: bytes, kind: str, new_suffix: str) -> None:
    check_office(path, data, kind, new_suffix)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise errors.binary_junk(path, kind) if data[:4] != b"PK\x03\x04" else \
            errors.unreadable(path, kind, "the archive is truncated")


def docx_lines(path: Path, data: bytes) -> list[str]:
    """A Word document's paragraphs (and table cells) as lines of text (see nlp.ingest.docx).

    Raises:
        InputError: not a Word file, password-protected, damaged, over a limit, or no text.
    """
    zip_or_fail(path, data, "Word (.docx)", ".docx")
    doc = read_docx(path, data, _limits.current())
    if not any(ln.strip() for ln in doc.lines):
        if doc.objects:
            raise errors.no_text(path, f"it holds only {doc.objects} embedded object(s), "
                                 "pictures or drawings, and no typed text",
                                 "Copy the text into the document (or export it as text) "
                                 "and import that.")
        raise errors.empty_file(path)
    return doc.lines


def _pdf_content_size(path: Path, page: Any, n: int, lim: "_limits.Limits") -> int:
    """Bytes of a page's content streams once inflated, each checked against the ratio and
    member limits like an archive's parts (a 70 KB stream of 70 MB took seconds per page)."""
    from pypdf.generic import ArrayObject, StreamObject

    obj = page.get("/Contents")
    obj = obj.get_object() if obj is not None else None
    streams = [o.get_object() for o in obj] if isinstance(obj, ArrayObject) else [obj]
    total = 0
    for st in streams:
        if not isinstance(st, StreamObject):
            continue
        packed = len(getattr(st, "_data", b"") or b"")
        size = len(st.get_data())
        if size > lim.member or (size > _limits.RATIO_FLOOR and size > lim.ratio * max(packed, 1)):
            raise errors.archive_too_big(path, "PDF", f"page {n}", "has a content stream that "
                                         f"inflates to {size:,} bytes (a compression bomb)",
                                         "NLP_MAX_RATIO")
        total += size
    return total


def pdf_lines(path: Path, data: bytes) -> list[str]:
    """A PDF's text as lines (pages joined; a blank line between pages).

    Raises:
        InputError: not a PDF, password-protected, damaged, or no text layer.
    """
    if not data.startswith(b"%PDF"):
        raise errors.binary_junk(path, "PDF")
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # its warnings on damaged files would print mid-command
    budget = _limits.Budget(path)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty user password (copy protection only).
            try:
                opened = bool(reader.decrypt(""))  # PasswordType.NOT_DECRYPTED is 0
            except DependencyError:  # AES without the optional 'cryptography' package
                raise errors.encrypted(path, "PDF", needs="cryptography") from None
            except (NotImplementedError, PdfReadError, ValueError):
                opened = False
            if not opened:
                raise errors.encrypted(path, "PDF")
        pages = []
        unpacked = 0
        for n, page in enumerate(reader.pages, start=1):
            unpacked += _pdf_content_size(path, page, n, budget.limits)
            if unpacked > budget.limits.unpacked:
                raise errors.archive_too_big(path, "PDF", f"page {n}", "brings the pages' "
                                             "content past "
                                             f"{budget.limits.unpacked // _limits.MB:,} MB",
                                             "NLP_MAX_UNPACKED_MB")
            pages.append(page.extract_text() or "")
            budget.text(len(pages[-1]))
    except errors.NlpError:
        raise
    except DependencyError:  # AES without the optional 'cryptography' package
        raise errors.encrypted(path, "PDF", needs="cryptography") from None
    except FileNotDecryptedError:
        raise errors.encrypted(path, "PDF") from None
    except (PdfReadError, Exception) as exc:  # pypdf raises several types on damage
        raise errors.unreadable(path, "PDF", f"{type(exc).__name__}: {exc}") from None
    finally:
        pypdf_log.setLevel(level)
    if pages and not any(p.strip() for p in pages):
        raise errors.no_text(path, f"its {len(pages)} page(s) have no text layer (scanned "
                             "images?)", "Run OCR on it (e.g. ocrmypdf), or save the text from "
                             "the document it was made from, and import that.")
    lines: list[str] = []
    for p in pages:
        lines.extend(p.splitlines())
        lines.append("")
    return lines
