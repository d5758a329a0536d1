"""Hostile input files through the real `nlp import` command.

Every case either fails with exit code 1 and one clear message naming the file (and the row or
line where there is one), and leaves the project database byte-for-byte as it was (an SQL dump
before and after compared), or succeeds with the handling documented in docs/HARDENING.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from harness import dump_db, project_state, run_nlp
from hostile_files import (ANSWER, BILLION_LAUGHS_XML, answers_csv, csv_bytes, docx_bytes,
                           jsonl_bytes, junk, pdf_bytes, truncated, xlsx_bytes, zip_bytes)


@dataclass
class Err:
    """Expected failure: `pattern` (regex) in stderr; `where` e.g. "row 3" or "line 2"."""

    pattern: str
    where: str | None = None


@dataclass
class Ok:
    """Expected success; `check(store, stdout)` asserts the documented handling."""

    check: Callable


@dataclass
class Case:
    name: str
    filename: str
    data: bytes | Callable[[Path], Path] | None
    expect: Err | Ok
    args: tuple[str, ...] = ()
    before: list[tuple[str, bytes]] = field(default_factory=list)  # imported first
    unchanged: bool = False  # a success that must not change the database either


def _texts(store) -> list[str]:
    return store.corpus().texts


def _count(n: int) -> Callable:
    def check(store, out):
        assert store.count_responses() == n
    return check


def _has_texts(*want: str, flags: dict | None = None) -> Callable:
    def check(store, out):
        texts = _texts(store)
        for w in want:
            assert w in texts, (w, texts)
        for text, flag in (flags or {}).items():
            assert [r.flag for r in store.corpus() if r.text == text] == [flag]
    return check


def _note(pattern: str, then: Callable | None = None) -> Callable:
    def check(store, out):
        assert re.search(pattern, out), out
        if then:
            then(store, out)
    return check


MB_ANSWER = "word " * 200_000  # 1,000,000 characters
MIXED = ("id,text\n1,Le café est fermé depuis janvier et personne ne répond\n".encode("utf-8")
         + b"2,We\x92ve had no reply from the council since the spring\n")
CONTROL_ROWS = answers_csv(400) + (
    "9001,\"bell\x07 escape\x1b[31m nul\x00 vt\x0bff\x0c end\"\n".encode("utf-8"))
UTF16_TSV = ("id\ttext\n1\tÜber-bureaucratic tender documents for tiny grants\n"
             "2\tWe could not afford the bid writer they expected\n").encode("utf-16")
RTL = "👍🏽 الخدمة بطيئة جدا — השירות איטי מאוד — e\u0301 👨‍👩‍👧"


def _folder(tmp: Path) -> Path:
    d = tmp / "a-folder.csv"
    d.mkdir()
    return d


def _missing(tmp: Path) -> Path:
    return tmp / "no-such-file.csv"


CASES = [
    # --- empty, huge, wrong kind of file -----------------------------------------------------
    Case("empty file", "empty.csv", b"", Err(r"the file is empty")),
    Case("only blank lines", "blank.csv", b"\n\n  \r\n\t\n", Err(r"the file is empty")),
    Case("header only", "header.csv", b"id,text\n", Err(r"no data rows below the header")),
    Case("huge file, 60k rows", "huge.csv", answers_csv(60_000), Ok(_count(60_000))),
    Case("1 MB answer in a CSV", "mb.csv", csv_bytes([["id", "text"], ["1", ANSWER],
                                                     ["2", MB_ANSWER]]),
         Err(r"1,000,000 characters, over the limit of 100,000", "row 3")),
    Case("1 MB answer in JSON Lines", "mb.jsonl",
         jsonl_bytes([{"id": 1, "text": ANSWER}, {"id": 2, "text": MB_ANSWER}]),
         Err(r"over the limit of 100,000", "line 2")),
    Case("1 MB interview turn", "mb.txt",
         f"Interviewer: Why?\nR1: {MB_ANSWER}\n".encode(),
         Err(r"over the limit of 100,000", "line 2")),
    Case("1 MB quote in a report (a stray quote mark)", "mb.md",
         f'# Findings\n\nOne respondent said "{MB_ANSWER}"\n'.encode(),
         Err(r"over the limit of 100,000", "line 3")),
    Case("unknown extension", "answers.exe", answers_csv(3), Err(r"unknown file format '\.exe'")),
    Case("no extension", "answers", answers_csv(3), Err(r"unknown file format '\(no extension\)'")),
    Case("a missing file", "no-such-file.csv", _missing, Err(r"no such file")),
    Case("a folder", "a-folder.csv", _folder, Err(r"is a folder, not a file")),
    Case("Excel bytes named .csv", "sheet.csv", xlsx_bytes({"S": [["id", "text"], [1, ANSWER]]}),
         Err(r"does not look like a CSV file")),
    Case("CSV text named .xlsx", "table.xlsx", answers_csv(3),
         Err(r"does not look like a Excel \(\.xlsx\) file")),
    Case("binary junk .csv", "junk.csv", junk(), Err(r"does not look like a CSV file")),
    Case("binary junk .txt", "junk.txt", junk(), Err(r"does not look like a text file")),
    Case("binary junk .jsonl", "junk.jsonl", junk(), Err(r"does not look like a JSON Lines")),
    Case("binary junk .docx", "junk.docx", junk(), Err(r"does not look like a Word")),
    Case("binary junk .pdf", "junk.pdf", junk(), Err(r"does not look like a PDF")),
    Case("binary junk .qdpx", "junk.qdpx", junk(), Err(r"not a ZIP archive")),
    # --- encodings -----------------------------------------------------------------------------
    Case("CSV with a UTF-8 BOM", "bom.csv", b"\xef\xbb\xbfid,text\n7," + ANSWER.encode() + b"\n",
         Ok(lambda s, o: [r.response_id for r in s.corpus()] == ["7"] or
            pytest.fail(f"BOM kept in the header: {s.corpus().ids}"))),
    Case("cp1252 (Windows) file", "win.csv", "id,text\n1,We’ve waited for £20 since May\n"
         .encode("cp1252"), Ok(_note(r"decoded as cp1252",
                                    _has_texts("We’ve waited for £20 since May")))),
    Case("mixed encodings: UTF-8 lines and a cp1252 line", "mixed.csv", MIXED,
         Ok(_note(r"mixed encodings: 1 line\(s\) .* \(line 3\)", _has_texts(
             "Le café est fermé depuis janvier et personne ne répond",
             "We’ve had no reply from the council since the spring")))),
    Case("bytes no encoding can read", "bad.csv", b"id,text\n1,fine\n2,bad \x81\x8d\x90 here\n",
         Err(r"cannot be decoded", "line 3")),
    Case("UTF-16 tab-separated (Excel 'Unicode text')", "unicode.csv", UTF16_TSV,
         Ok(_has_texts("Über-bureaucratic tender documents for tiny grants"))),
    Case("emoji, right-to-left text, combining marks", "rtl.csv",
         csv_bytes([["id", "text"], ["1", RTL]]), Ok(_has_texts(RTL))),
    Case("control characters in a cell", "ctrl.csv", CONTROL_ROWS,
         Ok(_has_texts("bell escape[31m nul vt\nff\n end"))),
    Case("U+2028 and NEL inside JSON strings", "seps.jsonl",
         jsonl_bytes([{"id": "a", "text": "first line\u2028second line"},
                      {"id": "b", "text": "one\x85two three"}]),
         Ok(_has_texts("first line\nsecond line", "one\ntwo three"))),
    Case("a lone surrogate (half an emoji) in JSON", "surrogate.jsonl",
         b'{"id": "s", "text": "cut emoji \\ud83d here"}\n',
         Ok(_has_texts("cut emoji \ufffd here"))),
    # --- CSV structure -------------------------------------------------------------------------
    Case("ragged: a row with too many fields", "long-row.csv",
         b"id,text\n1,fine answer here\n2,an answer, with an unquoted comma\n",
         Err(r"the row has 3 fields but the header has 2", "row 3")),
    Case("ragged: rows with too few fields are padded", "short-row.csv",
         b"id,text,group\n1,first answer here,a\n2,second answer here\n",
         Ok(lambda s, o: [r.metadata.get("group") for r in s.corpus()] == ["a", None] or
            pytest.fail(str([r.metadata for r in s.corpus()])))),
    Case("an unclosed quote swallowing the file", "unclosed.csv",
         b'id,text\n1,fine answer here\n2,"this quote never ends\n3,next answer\n4,and more\n',
         Err(r"never closed", "row 3")),
    Case("formulas in cells are kept as text", "formulas.csv",
         csv_bytes([["id", "text"], ["1", '=HYPERLINK("http://evil.example","click")'],
                    ["2", "+cmd|' /C calc'!A0"], ["3", "@SUM(1+1)*cmd|' /C calc'!A0"],
                    ["4", "-2+3 is what they said"]]),
         Ok(_has_texts('=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0"))),
    Case("apostrophes, semicolons and pipes do not fool delimiter detection", "punct.csv",
         csv_bytes([["id", "text"], ["1", "'we don't know', she said; really | maybe"],
                    ["2", "it's 'fine'; isn't it | no"]]),
         Ok(_has_texts("'we don't know', she said; really | maybe"))),
    Case("Excel's sep= line", "sep.csv", b"sep=;\nid;text\n1;an answer, with a comma\n",
         Ok(_has_texts("an answer, with a comma"))),
    Case("duplicate ids", "dup.csv", csv_bytes([["id", "text"], ["7", ANSWER], ["8", ANSWER],
                                                ["7", ANSWER + " again"]]),
         Err(r"duplicate id '7' \(first seen row 2\)", "row 4")),
    Case("duplicate ids in JSON Lines", "dup.jsonl",
         jsonl_bytes([{"id": 1, "text": ANSWER}, {"id": "1", "text": "other"}]),
         Err(r"duplicate id '1'", "line 2")),
    Case("an id longer than the database allows", "long-id.csv",
         csv_bytes([["id", "text"], ["x" * 300, ANSWER]]),
         Err(r"the id has 300 characters, over the limit of 200", "row 2")),
    Case("an id another file uses for another text: stored as FILE:ID", "wave2.csv",
         csv_bytes([["id", "text"], ["1", "A different answer under the same id"]]),
         Ok(_note(r"stored as 'wave2:ID'", lambda s, o: [
             (r.response_id, r.metadata.get("id_in_file")) for r in s.corpus()] == [
             ("1", None), ("wave2:1", "1")] or pytest.fail(str(s.corpus().ids)))),
         before=[("first.csv", csv_bytes([["id", "text"], ["1", ANSWER]]))]),
    Case("the same file edited: an id with another text", "edited.csv",
         csv_bytes([["id", "text"], ["1", "A different answer under the same id"]]),
         Err(r"id '1' is already in the project with a different text", "row 2"),
         before=[("edited.csv", csv_bytes([["id", "text"], ["1", ANSWER]]))]),
    Case("the same file again adds nothing", "again.csv", answers_csv(5),
         Ok(_count(5)), before=[("again.csv", answers_csv(5))], unchanged=True),
    Case("no text column", "numbers.csv", b"id,score\n1,4\n2,5\n", Err(r"no text column found")),
    Case("--text-col naming no column", "named.csv", answers_csv(2),
         Err(r"--text-col 'answer_text' is not a column"), args=("--text-col", "answer_text")),
    Case("a line that is not JSON", "bad.jsonl", b'{"id": 1, "text": "ok answer"}\n{"id": 2,\n',
         Err(r"not a JSON object", "line 2")),
    Case("a JSON line that is a list", "list.jsonl", b'{"id": 1, "text": "ok"}\n["a", "b"]\n',
         Err(r"found a list", "line 2")),
    # --- Excel, Word, PDF ------------------------------------------------------------------------
    Case("Excel with merged cells", "merged.xlsx",
         xlsx_bytes({"S": [["id", "text", "group"], [1, ANSWER, "a"], [2, None, "b"],
                           [3, "Third answer about payment in arrears", "c"]]},
                    merge={"S": ["B2:B3"]}),
         Ok(_has_texts(ANSWER, "", flags={"": "empty"}))),
    Case("Excel: first sheet empty, data on the second", "sheets.xlsx",
         xlsx_bytes({"Notes": [], "Data": [["id", "text"], [1, ANSWER]]}),
         Ok(_note(r"read sheet 'Data' of 2", _has_texts(ANSWER)))),
    Case("Excel: --sheet picks another sheet", "pick.xlsx",
         xlsx_bytes({"A": [["id", "text"], [1, ANSWER]],
                     "B": [["id", "text"], [2, "Answers from the second sheet only"]]}),
         Ok(_has_texts("Answers from the second sheet only")), args=("--sheet", "B")),
    Case("Excel: --sheet naming no sheet", "nosheet.xlsx",
         xlsx_bytes({"A": [["id", "text"], [1, ANSWER]]}),
         Err(r"no sheet 'Missing'; sheets are 'A'"), args=("--sheet", "Missing")),
    Case("Excel: a formula cell is kept as its text", "formula.xlsx",
         xlsx_bytes({"S": [["id", "text"], [1, "=SUM(A1:A2)"], [2, ANSWER]]}),
         Ok(_has_texts("=SUM(A1:A2)"))),
    Case("truncated .xlsx", "cut.xlsx",
         truncated(xlsx_bytes({"S": [["id", "text"], *[[i, ANSWER] for i in range(200)]]})),
         Err(r"cannot read this Excel \(\.xlsx\) file \(the archive is truncated\)")),
    Case("truncated .docx", "cut.docx", truncated(docx_bytes(["Interviewer: why?",
                                                             "R1: " + ANSWER] * 50)),
         Err(r"cannot read this Word \(\.docx\) file \(the archive is truncated\)")),
    Case("truncated .pdf", "cut.pdf", truncated(pdf_bytes(
        ["2 Findings", "", f'One participant told us: "{ANSWER}"']), 0.6),
         Err(r"cannot read this PDF file|no quoted passages")),
    Case("an Excel workbook named .docx", "sheet.docx",
         xlsx_bytes({"S": [["id", "text"], [1, ANSWER]]}), Err(r"is not a Word file")),
    Case("a PDF without quotes", "plain.pdf", pdf_bytes(["1 Introduction", "", "No quotes."]),
         Err(r"no quoted passages of 8 words or more found")),
    Case("a .qdpx whose XML declares entities (billion laughs)", "lol.qdpx",
         zip_bytes({"project.qde": BILLION_LAUGHS_XML}), Err(r"declares a DTD")),
    Case("a .qdpx without a project", "empty.qdpx", zip_bytes({"readme.txt": b"hi"}),
         Err(r"no project\.qde found")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Case, project: Path, tmp_path: Path):
    from nlp.pipeline import import_file
    from nlp.project import open_project

    files = tmp_path / "in"
    files.mkdir()
    for name, data in case.before:
        (files / name).write_bytes(data)
        p = open_project(project)
        import_file(p.store, files / name)
        p.close()
    if callable(case.data):
        path = case.data(files)
    else:
        path = files / case.filename
        path.write_bytes(case.data)
    before = project_state(project)
    res = run_nlp("import", path, *case.args, project=project)
    out, err = res.stdout, res.stderr
    assert "Traceback" not in err and "error: unexpected" not in err, err  # not a bug
    if isinstance(case.expect, Err):
        assert res.returncode == 1, (res.returncode, out, err)
        msg = " ".join(err.split())
        assert path.name in msg, msg  # names the file
        if case.expect.where:
            assert f", {case.expect.where}:" in msg, msg  # and the row or line
        assert re.search(case.expect.pattern, msg), msg
        assert project_state(project) == before, "a failed import changed the project"
    else:
        assert res.returncode == 0, (out, err)
        if case.unchanged:
            assert project_state(project) == before
        p = open_project(project)
        try:
            case.expect.check(p.store, " ".join(out.split()))
        finally:
            p.close()


def test_case_count():
    """The issue asks for at least 30 hostile inputs (codebooks and models: other files)."""
    assert len(CASES) >= 30


def test_several_files_one_bad_stores_nothing(project: Path, tmp_path: Path):
    """`import_files`: every file is read first, then all land in one transaction."""
    from nlp import errors
    from nlp.pipeline import import_files
    from nlp.project import open_project

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(answers_csv(50))
    bad.write_bytes(answers_csv(5, start=100) + b"104,duplicate id\n")
    before = dump_db(project / "project.db")
    p = open_project(project)
    try:
        with pytest.raises(errors.InputError, match=r"bad\.csv, row 7: duplicate id '104'"):
            import_files(p.store, [good, bad])
        assert dump_db(project / "project.db") == before
        # conflicting ids between two files of one call (an edited copy: most ids keep their
        # text, one has another): nothing either
        clash = tmp_path / "clash.csv"
        clash.write_bytes(answers_csv(3) + b"4,not the same text as good.csv\n")
        with pytest.raises(errors.InputError, match=r"clash\.csv, row 5: id '4' is already in"):
            import_files(p.store, [good, clash])
        assert dump_db(project / "project.db") == before
        summaries = import_files(p.store, [good, good])
        assert [s.imported for s in summaries] == [50, 0]
        assert summaries[1].source_already_present
    finally:
        p.close()


def test_cli_import_several_files_one_bad_stores_nothing(project: Path, tmp_path: Path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(answers_csv(5))
    bad.write_bytes(b"")
    before = project_state(project)
    res = run_nlp("import", good, bad, project=project)
    assert res.returncode == 1
    assert project_state(project) == before
