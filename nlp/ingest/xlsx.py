"""Ingest stage: Excel (.xlsx) workbooks read as streamed rows, under the limits. Private: use
nlp.ingest.tables.xlsx_table.

Why not openpyxl's reader: it trusts the sheet's declared dimension (a 5 KB file declaring
A1:XFD1048576 made it build a million rows of 16,384 empty cells), it materialises every cell
up to that width, and it reads shared strings slowly. This reader parses each part with expat
as it streams out of the archive (`nlp.limits.Archive`), keeps only the cells a row holds, and
never builds a tree. Values come out as openpyxl gives them in read-only mode with formulas
kept: numbers as int/float, dates as datetime (by the cell's number format), booleans, error
codes, and a formula as its text ("=SUM(A1:A2)").
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from .. import errors
from .ooxml import BadPart, feed, local as _local, make_parser as _parser, parse_all, rels
from ..limits import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, Archive, Limits

KIND = "Excel (.xlsx)"
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def col_index(letters: str) -> int:
    """0-based column of "A", "AB", ... ."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _number(text: str) -> int | float | str:
    try:
        return float(text) if ("." in text or "e" in text or "E" in text) else int(text)
    except ValueError:  # 5,000 digits, "1.2.3": keep what the file says
        return text


class Workbook:
    """An .xlsx read under `limits`: sheet names, then one sheet's rows on demand."""

    def __init__(self, path, data: bytes, limits: Limits) -> None:
        self.archive = Archive(path, data, KIND, limits)
        self.limits = limits
        root = {t.rsplit("/", 1)[-1]: p for t, p in rels(self.archive, "").values()}
        main = self.archive.find(root.get("officeDocument", "xl/workbook.xml"))
        if main is None:
            raise errors.unreadable(path, KIND, "no workbook part")
        self.sheets: list[tuple[str, str]] = []  # (name, member)
        self.date1904 = False
        rel_ids: list[tuple[str, str]] = []
        seen: list[str] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if not seen:
                seen.append(local)
                if local != "workbook":
                    raise BadPart(f"its main part {main!r} holds a {local}, not a workbook "
                                  "(another kind of Office file?)")
            if local == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                rel_ids.append((attrs.get("name", ""), rid))
            elif local == "workbookPr":
                self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")

        parse_all(self.archive, main, _parser(start))
        wb_rels = rels(self.archive, main)
        for name, rid in rel_ids:
            kind, target = wb_rels.get(rid, ("", ""))
            member = self.archive.find(target) if kind.endswith("/worksheet") else None
            self.sheets.append((name, member or ""))
        by_type = {t.rsplit("/", 1)[-1]: p for t, p in wb_rels.values()}
        self._strings_part = self.archive.find(by_type.get("sharedStrings", "") or "-")
        self._styles_part = self.archive.find(by_type.get("styles", "") or "-")
        self._strings: list[str] | None = None
        self._dates: tuple[set[int], set[int]] | None = None

    @property
    def sheet_names(self) -> list[str]:
        return [n for n, _ in self.sheets]

    def close(self) -> None:
        self.archive.close()

    # -- shared strings and styles ------------------------------------------------------------
    def strings(self) -> list[str]:
        if self._strings is None:
            self._strings = self._read_strings(self._strings_part) if self._strings_part else []
        return self._strings

    def _read_strings(self, part: str) -> list[str]:
        out: list[str] = []
        parts: list[str] = []
        state = {"t": False, "ph": 0}

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "t":
                state["t"] = True
            elif local == "rPh":  # phonetic guide: not part of the text
                state["ph"] += 1
            elif local == "si":
                parts.clear()

        def end(tag: str) -> None:
            local = _local(tag)
            if local == "t":
                state["t"] = False
            elif local == "rPh":
                state["ph"] -= 1
            elif local == "si":
                out.append("".join(parts).replace("x005F_", ""))  # as openpyxl reads them

        def text(data: str) -> None:
            if state["t"] and not state["ph"]:
                parts.append(data)

        parse_all(self.archive, part, _parser(start, end, text))
        return out

    def date_styles(self) -> tuple[set[int], set[int]]:
        """(style ids formatted as dates, those formatted as durations)."""
        if self._dates is None:
            self._dates = self._read_styles(self._styles_part) if self._styles_part \
                else (set(), set())
        return self._dates

    def _read_styles(self, part: str) -> tuple[set[int], set[int]]:
        from openpyxl.styles.numbers import (BUILTIN_FORMATS, is_date_format,
                                             is_timedelta_format)

        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"cellXfs": False}

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "numFmt":
                try:
                    custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
                except ValueError:
                    pass
            elif local == "cellXfs":
                state["cellXfs"] = True
            elif local == "xf" and state["cellXfs"]:
                try:
                    xfs.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)

        def end(tag: str) -> None:
            if _local(tag) == "cellXfs":
                state["cellXfs"] = False

        parse_all(self.archive, part, _parser(start, end))
        dates, durations = set(), set()
        for i, fid in enumerate(xfs):
            fmt = custom.get(fid, BUILTIN_FORMATS.get(fid))
            if is_date_format(fmt):
                dates.add(i)
            if is_timedelta_format(fmt):
                durations.add(i)
        return dates, durations

    # -- rows ---------------------------------------------------------------------------------
    def rows(self, sheet: str) -> Iterator[tuple[int, dict[int, Any]]]:
        """(row number, {0-based column: value}) for each row holding a cell, in file order.
        Only the cells a row holds are produced: no declared dimension is trusted."""
        member = dict(self.sheets).get(sheet) or ""
        if not member:
            return
        strings = self.strings()
        dates, durations = self.date_styles()
        epoch = None
        done: list[tuple[int, dict[int, Any]]] = []
        cur: dict[str, Any] = {"row": 0, "col": -1, "cells": None, "cell": None, "buf": None,
                               "text": False, "ph": 0, "inline": False}
        shared_formulas: dict[str, tuple[str, str]] = {}

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "c" and cur["cells"] is not None:
                ref = attrs.get("r")
                m = _CELL_REF.match(ref) if ref else None
                cur["col"] = col_index(m.group(1)) if m else cur["col"] + 1
                cur["cell"] = {"t": attrs.get("t", "n"), "s": attrs.get("s"), "v": None,
                               "f": None, "ft": None, "ref": ref, "is": None}
            elif local == "row":
                r = attrs.get("r")
                try:
                    n = int(r) if r else cur["row"] + 1
                except ValueError:
                    n = cur["row"] + 1
                if n > EXCEL_MAX_ROWS:
                    raise BadPart(f"row number {n} is past Excel's last row")
                cur["row"], cur["col"], cur["cells"] = n, -1, {}
            elif cur["cell"] is not None:
                if local in ("v", "f"):
                    cur["buf"] = []
                    if local == "f":
                        cur["cell"]["ft"] = (attrs.get("t"), attrs.get("si"))
                elif local == "is":
                    cur["inline"] = True
                    cur["cell"]["is"] = []
                elif local == "t" and cur["inline"]:
                    cur["text"] = True
                elif local == "rPh":
                    cur["ph"] += 1

        def end(tag: str) -> None:
            local = _local(tag)
            cell = cur["cell"]
            if local == "row":
                if cur["cells"]:
                    done.append((cur["row"], cur["cells"]))
                cur["cells"] = None
            elif cell is None:
                return
            elif local == "v" and cur["buf"] is not None:
                cell["v"] = "".join(cur["buf"])
                cur["buf"] = None
            elif local == "f" and cur["buf"] is not None:
                cell["f"] = "".join(cur["buf"])
                cur["buf"] = None
            elif local == "t":
                cur["text"] = False
            elif local == "rPh":
                cur["ph"] -= 1
            elif local == "is":
                cur["inline"] = False
            elif local == "c":
                col = cur["col"]
                if 0 <= col < EXCEL_MAX_COLUMNS:
                    value = value_of(cell)
                    if value is not None and value != "":
                        cur["cells"][col] = value
                cur["cell"] = None

        def text(data: str) -> None:
            if cur["buf"] is not None:
                cur["buf"].append(data)
            elif cur["text"] and not cur["ph"] and cur["cell"] is not None:
                cur["cell"]["is"].append(data)

        def value_of(cell: dict[str, Any]) -> Any:
            nonlocal epoch
            if cell["ft"] is not None:  # a formula: its text, never a computed value
                return self._formula(cell, shared_formulas)
            t, v = cell["t"], cell["v"]
            if t == "inlineStr":
                return "".join(cell["is"] or [])
            if v is None:
                return None
            if t == "s":
                try:
                    i = int(v)
                    if i < 0:
                        raise IndexError(i)
                    return strings[i]
                except (ValueError, IndexError):
                    raise BadPart(f"cell {cell['ref']} names shared string {v[:20]!r}, "
                                  "which is not in the file") from None
            if t == "b":
                return v.strip() in ("1", "true")
            if t in ("str", "e"):
                return v
            if t == "d":
                from openpyxl.utils.datetime import from_ISO8601
                try:
                    return from_ISO8601(v)
                except (ValueError, TypeError, OverflowError):
                    return v
            value = _number(v)
            style = cell["s"]
            if style and not isinstance(value, str) and style.isdigit() and int(style) in dates:
                from openpyxl.utils.datetime import (CALENDAR_MAC_1904,
                                                     CALENDAR_WINDOWS_1900, from_excel)
                if epoch is None:
                    epoch = CALENDAR_MAC_1904 if self.date1904 else CALENDAR_WINDOWS_1900
                try:
                    return from_excel(value, epoch, timedelta=int(style) in durations)
                except (OverflowError, ValueError, TypeError):
                    return "#VALUE!"  # what openpyxl gives for a date out of range
            return value

        for _ in feed(self.archive, member, _parser(start, end, text)):
            if done:
                yield from done
                done.clear()

    @staticmethod
    def _formula(cell: dict[str, Any], shared: dict[str, tuple[str, str]]) -> str:
        text = cell["f"] or ""
        ftype, si = cell["ft"]
        value = "=" + text
        if ftype == "shared" and si is not None:
            if text:
                shared[si] = (value, cell["ref"] or "A1")
            elif si in shared and cell["ref"]:
                from openpyxl.formula.translate import Translator
                master, origin = shared[si]
                try:
                    value = Translator(master, origin).translate_formula(cell["ref"])
                except Exception:  # noqa: BLE001 - a formula we cannot move: keep the master
                    value = master
        return value
