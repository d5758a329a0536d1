"""Limits: one policy for how much any input may unpack to, hold and cost.

Every archive-based format (.xlsx, .docx, .qdpx, a model's weights.npz) is read through
`Archive`, which counts the bytes that come out of each member while they stream and stops at
the first limit passed: a member's size, the archive's total, or the compression ratio (a zip
bomb is a small file that inflates by thousands of times). The text one file yields, the rows
and the columns of a table and the length of one answer are capped the same way, so a file of a
few megabytes can never cost gigabytes of memory or minutes of time.

The defaults fit real consultations; raise them with environment variables (see `ENV`).

A model's weights.npz is checked through `Archive` by `nlp.classify.persist_checks.check_npz`
(it needs NumPy, which this base module leaves to the stages that use it).
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

from . import errors

MB = 1024 * 1024
ANSWER_CHARS = 100_000  # one answer (a cell, a turn, a quote, a REFI-QDA text or selection)
RATIO_FLOOR = 1 * MB  # the ratio is judged once a member has inflated past this
EXCEL_MAX_ROWS = 1_048_576  # Excel's own limit per sheet
EXCEL_MAX_COLUMNS = 16_384
XML_DEPTH = 1_000  # elements open at once; real Office and REFI-QDA files nest a few dozen


@dataclass(frozen=True)
class Limits:
    """What one input file may cost. Sizes in bytes; set in MB through the environment."""

    unpacked: int = 256 * MB  # bytes read out of one archive, all members together
    member: int = 128 * MB  # bytes read out of one member of an archive
    ratio: int = 100  # uncompressed / compressed size of one member
    text: int = 128_000_000  # characters of text (answers and other cells) from one file
    rows: int = EXCEL_MAX_ROWS  # rows (answers) from one file
    columns: int = 5_000  # columns of a table
    file: int = 512 * MB  # bytes of one input file, checked before it is read (nlp.fsio)


# setting -> (environment variable, unit multiplier, what it limits)
ENV = {
    "unpacked": ("NLP_MAX_UNPACKED_MB", MB, "MB unpacked from one archive"),
    "member": ("NLP_MAX_MEMBER_MB", MB, "MB unpacked from one member of an archive"),
    "ratio": ("NLP_MAX_RATIO", 1, "compression ratio of one archive member"),
    "text": ("NLP_MAX_TEXT_MCHARS", 1_000_000, "million characters of text from one file"),
    "rows": ("NLP_MAX_ROWS", 1, "rows (answers) from one file"),
    "columns": ("NLP_MAX_COLUMNS", 1, "columns of a table"),
    "file": ("NLP_MAX_FILE_MB", MB, "MB of one input file"),
}


def current() -> Limits:
    """The limits in force: the defaults, with any set in the environment (see `ENV`).

    Raises:
        SettingsError: a variable that is not a positive whole number.
    """
    values = {}
    for f in fields(Limits):
        var, unit, _ = ENV[f.name]
        raw = os.environ.get(var, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or int(raw) <= 0:
            raise errors.bad_setting(var, "a positive whole number")
        values[f.name] = int(raw) * unit
    return Limits(**values)


def _setting(name: str) -> str:
    return ENV[name][0]


class Budget:
    """Counts what one file yields (characters of text, rows) against the limits."""

    def __init__(self, path: str | Path, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or current()
        self.chars = 0
        self.rows = 0

    def text(self, n: int) -> None:
        """Count `n` more characters of text.

        Raises:
            InputError: the file's text passed the limit.
        """
        self.chars += n
        if self.chars > self.limits.text:
            raise errors.over_limit(self.path, f"yields more than {self.limits.text:,} "
                                    "characters of text", _setting("text"))

    def row(self, where: int | None = None, unit: str = "row") -> None:
        """Count one more row (answer).

        Raises:
            InputError: the file has more rows than the limit.
        """
        self.rows += 1
        if self.rows > self.limits.rows:
            raise errors.over_limit(self.path, f"has more than {self.limits.rows:,} rows",
                                    _setting("rows"), row=where, unit=unit)


_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _prolog_has_dtd(head: bytes) -> bool:
    """True when the XML prolog (before the root element) declares a DTD or entities."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        enc = "utf-16-be" if head[:1] == b"\x00" or head[:2] == b"\xfe\xff" else "utf-16-le"
        head = head.decode(enc, errors="ignore").encode("utf-8")
    m = _ROOT_START.search(head)
    prolog = head[:m.start()] if m else head
    return b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog


class Archive:
    """A ZIP archive (xlsx, docx, qdpx, npz) read under the limits.

    Members are only ever read through `open`/`read`/`scan`, which count the bytes as they
    inflate; XML members that declare a DTD are refused (no entity tricks).
    """

    def __init__(self, path: str | Path, data: bytes | None, kind: str,
                 limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.limits = limits or current()
        self.total = 0
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data) if data is not None else self.path)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - BadZipFile, an unknown zip version...
            raise errors.unreadable(self.path, kind, f"not a ZIP archive ({exc})") from None
        # Members are checked when read, not here: a part the reader never needs (a video
        # in a Word file) costs nothing, however big it says it is.
        self.infos = {i.filename: i for i in self.zf.infolist() if not i.is_dir()}

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def names(self) -> list[str]:
        return list(self.infos)

    def find(self, name: str) -> str | None:
        """The member called `name`, compared without case and leading slash."""
        want = name.lstrip("/").lower()
        for n in self.infos:
            if n.lstrip("/").lower() == want:
                return n
        return None

    def _check(self, info: zipfile.ZipInfo, size: int) -> None:
        lim = self.limits
        if size > lim.member:
            raise errors.archive_too_big(self.path, self.kind, info.filename,
                                         f"unpacks to more than {lim.member // MB:,} MB",
                                         _setting("member"))
        if size > RATIO_FLOOR and size > lim.ratio * max(info.compress_size, 1):
            raise errors.archive_too_big(self.path, self.kind, info.filename,
                                         f"inflates more than {lim.ratio:,} times (a "
                                         "'zip bomb')", _setting("ratio"))

    def _count(self, info: zipfile.ZipInfo, done: int, n: int) -> None:
        self.total += n
        self._check(info, done)
        if self.total > self.limits.unpacked:
            raise errors.archive_too_big(self.path, self.kind, None,
                                         f"unpacks to more than "
                                         f"{self.limits.unpacked // MB:,} MB",
                                         _setting("unpacked"))

    def open(self, name: str, *, xml: bool | None = None) -> "_Member":
        """A file object over one member, counted as it is read.

        Raises:
            InputError: a limit passed, or (for XML) a DTD in the prolog.
        """
        info = self.infos[name]
        self._check(info, info.file_size)  # what the archive declares: refuse at once
        if xml is None:
            xml = name.lower().endswith((".xml", ".rels", ".qde", ".vml"))
        return _Member(self, info, xml)

    def read(self, name: str, *, xml: bool | None = None) -> bytes:
        """A member's bytes, read in chunks under the limits."""
        with self.open(name, xml=xml) as fh:
            return b"".join(iter(lambda: fh.read(MB), b""))

    def scan(self, names: list[str] | None = None) -> None:
        """Inflate members (default: all) to check them before a third-party parser reads
        them; what that parser then reads is exactly what was checked (zipfile stops at the
        size and CRC the archive declares)."""
        for name in names if names is not None else self.names():
            with self.open(name) as fh:
                while fh.read(MB):
                    pass

    def members(self, suffixes: tuple[str, ...]) -> Iterator[str]:
        for n in self.infos:
            if n.lower().endswith(suffixes):
                yield n


class _Member(io.RawIOBase):
    """One member as a readable stream that counts what it yields."""

    def __init__(self, archive: Archive, info: zipfile.ZipInfo, xml: bool) -> None:
        super().__init__()
        self.archive, self.info, self.xml = archive, info, xml
        self.done = 0
        self._head = b""
        try:
            self._fh = archive.zf.open(info)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad header, an unknown method, a password
            raise errors.unreadable(archive.path, archive.kind,
                                    f"{info.filename}: {exc}") from None

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(MB), b""))
        try:
            data = self._fh.read(min(n, MB))
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - zlib, bz2, lzma, CRC, truncation: damage
            raise errors.unreadable(self.archive.path, self.archive.kind,
                                    f"{self.info.filename} is damaged ({exc})") from None
        if self.xml and len(self._head) < 65536:
            self._head += data[:65536 - len(self._head)]
            if _prolog_has_dtd(self._head):
                raise errors.unreadable(self.archive.path, self.archive.kind,
                                        f"{self.info.filename} declares a DTD, which these "
                                        "files never need")
        self.done += len(data)
        self.archive._count(self.info, self.done, len(data))
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


# -- a researcher's examples (`nlp code --examples`) ----------------------------------------------
# Read under the limits above like any import; then at most this many distinct examples are
# learnt from (a seeded random sample, with a logged warning): fitting costs grow with the
# examples, and a few thousand coded answers teach what more would.
EXAMPLES_CAP = 5_000
EXAMPLES_ENV = "NLP_MAX_EXAMPLES"


def examples_cap() -> int:
    """Distinct examples learnt from at most ($NLP_MAX_EXAMPLES, else EXAMPLES_CAP).

    Raises:
        SettingsError: a variable that is not a positive whole number.
    """
    raw = os.environ.get(EXAMPLES_ENV, "").strip()
    if not raw:
        return EXAMPLES_CAP
    if not raw.isdigit() or int(raw) <= 0:
        raise errors.bad_setting(EXAMPLES_ENV, "a positive whole number")
    return int(raw)
