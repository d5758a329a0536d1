"""Hardening round 3 (issue 25), values that reach a project by paths import does not clean.

Class 5: codebook YAML typing (`id: 010` is not theme 8, `yes` is not True, `1.10` is not 1.1).
Class 6: spreadsheet cells: headers are as inert as values; a value longer than an Excel cell
continues in the next columns instead of being cut.
Class 7: control characters: every name the app or the command line stores is cleaned as import
cleans text, an older project's raw ones are cleaned on the way out, and nothing prints them.
"""
from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import pytest

from harness import dump_db, new_project, project_state, run_limited, run_nlp
from hostile_files import csv_bytes

# What clean_text removes or rewrites (tab and line feed are text).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _flat(s: str) -> str:
    return " ".join(s.split())


def _no_crash(res) -> None:
    assert "Traceback" not in res.stderr and "unexpected" not in res.stderr, res.stderr


# --- class 5: codebook scalars are text as written -------------------------------------------
# Plain YAML 1.1 would read these as numbers, booleans, dates, infinities or NaN.
TYPED = ["010", "007", "0o17", "0x1F", "0b101", "1e3", "1.0e3", "1_000", "1.10", "1.0",
         "2024-01-01", "2024-01-01T10:00:00Z", "on", "off", "On", "OFF", "y", "n", "Y", "yes",
         "no", "No", "true", "False", "TRUE", "190:20:30", ".inf", "-.inf", ".NaN", "+12", "-3",
         "0"]
ID_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def _codebook(*, name: str = "cb", version: str = "1", themes: list[dict]) -> str:
    lines = [f"name: {name}", f"version: {version}", "themes:"]
    for t in themes:
        lines.append(f"  - id: {t['id']}")
        for k in ("label", "definition", "parent"):
            if k in t:
                lines.append(f"    {k}: {t[k]}")
        if "include" in t:
            lines.append(f"    include: [{t['include']}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("quote", ["", "'", '"'], ids=["plain", "single", "double"])
@pytest.mark.parametrize("value", TYPED)
def test_codebook_scalars_are_text_as_written(value: str, quote: str):
    from nlp.codebook import dumps_codebook, loads_codebook

    q = f"{quote}{value}{quote}"
    tid = q if ID_OK.match(value) else "t1"
    cb = loads_codebook(_codebook(name=q, version=q, themes=[
        {"id": tid, "label": q, "definition": q, "parent": q, "include": q},
        {"id": "other", "label": "Other", "definition": "Anything else."}]))
    expect_id = value if ID_OK.match(value) else "t1"
    t = cb.themes[0]
    assert (cb.name, t.theme_id, t.label, t.definition, t.include) == \
        (value, expect_id, value, value, (value,))
    # a plain whole number stays a number (it counts up); everything else is the text itself
    assert cb.version == (int(value) if not quote and value == "0" else value)
    again = loads_codebook(dumps_codebook(cb))
    assert again == cb and again.content_hash == cb.content_hash


def test_whole_number_versions_still_count_up():
    from nlp.codebook import loads_codebook, next_version

    body = "themes: [{id: a, label: A, definition: d}]\n"
    assert loads_codebook("name: x\nversion: 3\n" + body).version == 3
    assert next_version(loads_codebook("name: x\nversion: 3\n" + body)) == 4
    assert next_version(loads_codebook("name: x\nversion: '3'\n" + body)) == 4
    assert next_version(loads_codebook("name: x\nversion: 1.10\n" + body)) == "1.10.1"
    assert next_version(loads_codebook("name: x\nversion: 010\n" + body)) == 11


def test_hash_of_a_decimal_version_is_the_one_earlier_releases_stored():
    """`version: 1.5` was the number 1.5 in the hash that models and projects keep: the text
    "1.5" hashes the same, so they still match; "1.10" is no longer 1.1."""
    from nlp.codebook import loads_codebook
    from nlp.types import text_hash

    body = "themes: [{id: a, label: A, definition: d}]\n"
    for written, old in (("1.5", 1.5), ("2.0", 2.0), ("3", 3)):
        cb = loads_codebook(f"name: x\nversion: {written}\n" + body)
        assert str(cb.version) == written
        earlier = {**cb.to_dict(), "version": old}
        assert cb.content_hash == text_hash(json.dumps(earlier, sort_keys=True,
                                                       ensure_ascii=False))[:16]
    assert loads_codebook("name: x\nversion: 1.10\n" + body).content_hash != \
        loads_codebook("name: x\nversion: 1.1\n" + body).content_hash


# An id that is empty, or not text at all: refused, naming the theme.
BAD_IDS = {"~": "empty id", "null": "empty id", "Null": "empty id", "NULL": "empty id",
           "": "empty id", "!!binary aGVsbG8=": "not binary data", "[a, b]": "not a list",
           "{a: b}": "not a mapping", "!!set {a}": "not a set"}


@pytest.mark.parametrize("raw", list(BAD_IDS), ids=list(map(repr, BAD_IDS)))
def test_empty_or_non_text_id_is_refused_naming_the_theme(raw: str):
    from nlp.codebook import loads_codebook
    from nlp.errors import CodebookError

    text = ("name: x\nversion: 1\nthemes:\n  - {id: ok, label: A, definition: d}\n"
            f"  - id: {raw}\n    label: B\n    definition: e\n")
    with pytest.raises(CodebookError, match=r"cb\.yaml: theme 2 .*" +
                       re.escape(BAD_IDS[raw].replace("not ", ""))):
        loads_codebook(text, source="cb.yaml")


def test_null_label_is_missing_and_quoted_null_is_text():
    from nlp.codebook import loads_codebook
    from nlp.errors import CodebookError

    with pytest.raises(CodebookError, match=r"theme 1 \(a\) is missing field 'label'"):
        loads_codebook("name: x\nversion: 1\nthemes: [{id: a, label: null, definition: d}]")
    cb = loads_codebook("name: x\nversion: 1\nthemes: [{id: 'null', label: 'null', "
                        "definition: '~'}]")
    assert (cb.themes[0].theme_id, cb.themes[0].label, cb.themes[0].definition) == \
        ("null", "null", "~")


def test_cli_project_keeps_typed_ids_and_version(tmp_path: Path):
    cb = tmp_path / "cb.yaml"
    cb.write_text(_codebook(name="no", version="1.10", themes=[
        {"id": "010", "label": "yes", "definition": "2024-01-01"},
        {"id": "8", "label": "on", "definition": "0x1F"},
        {"id": "yes", "label": "1.10", "definition": ".inf"},
        {"id": "2024-01-01", "label": "null", "definition": "1e3"}]), encoding="utf-8")
    root = tmp_path / "proj"
    res = run_nlp("init", root, "--codebook", cb)
    _no_crash(res)
    # 'null' as a label is empty: refused, nothing created
    assert res.returncode == 1 and "theme 4 (2024-01-01) is missing field 'label'" in \
        _flat(res.stderr) and not root.exists()
    cb.write_text(cb.read_text(encoding="utf-8").replace("label: null", "label: 'null'"),
                  encoding="utf-8")
    res = run_nlp("init", root, "--codebook", cb)
    assert res.returncode == 0, res.stderr
    assert "codebook no v1.10" in res.stdout
    from nlp.project import open_project

    p = open_project(root)
    got = p.store.active_codebook()
    p.close()
    assert got.theme_ids == ["010", "8", "yes", "2024-01-01"]  # 010 is not a second theme 8
    assert [t.label for t in got.themes] == ["yes", "on", "1.10", "null"]
    assert (got.name, got.version) == ("no", "1.10")
    con = sqlite3.connect(root / "project.db")
    try:
        assert con.execute("SELECT name, version FROM codebooks").fetchall() == [("no", "1.10")]
        assert [r[0] for r in con.execute("SELECT theme_id FROM themes ORDER BY position")] == \
            ["010", "8", "yes", "2024-01-01"]
    finally:
        con.close()


def test_refused_codebook_in_file_mode_leaves_project_and_output_alone(tmp_path: Path):
    root = new_project(tmp_path / "proj")
    before = project_state(root)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nthemes:\n  - {id: a, label: A, definition: d}\n"
                   "  - {id: ~, label: B, definition: e}\n", encoding="utf-8")
    answers = tmp_path / "in.csv"
    answers.write_bytes(csv_bytes([["id", "text"], ["1", "The tender took nine months."]]))
    res = run_nlp("code", answers, "--out", tmp_path / "out.jsonl", "--codebook", bad,
                  "--model", "none", cwd=root)
    _no_crash(res)
    assert res.returncode == 1 and "theme 2 has an empty id" in _flat(res.stderr)
    assert not (tmp_path / "out.jsonl").exists()
    assert project_state(root) == before


def test_model_folder_keeps_typed_ids(tmp_path: Path):
    """A model's codebook.yaml is read back with the same text-as-written rule."""
    from nlp.classify.coding import train_classifier
    from nlp.classify.persist import load_model, save_model
    from nlp.codebook import loads_codebook
    from nlp.embed import FakeEmbedder

    cb = loads_codebook(_codebook(version="1.10", themes=[
        {"id": "010", "label": "yes", "definition": "Slow tendering and long waits."},
        {"id": "8", "label": "no", "definition": "Contracts that do not pay the full cost."}]))
    texts = ["The tender took nine months.", "We waited a year for a decision.",
             "The price does not cover staff costs.", "Payment is late and the fee too low."]
    clf = train_classifier(cb, texts, [["010"], ["010"], ["8"], ["8"]], embedder=FakeEmbedder())
    d = save_model(clf, tmp_path / "model", embedder_spec="fake")
    config = json.loads((d / "config.json").read_text(encoding="utf-8"))
    assert config["codebook"]["version"] == "1.10"
    loaded = load_model(d, codebook=cb, embedder=FakeEmbedder())
    assert loaded.theme_ids_ == ["010", "8"]


# --- class 6: spreadsheet cells ----------------------------------------------------------------
HEADERS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
           "\x01=1+1", "\x1b]0;T\x07=2"]


def _xlsx_cells(path: Path):
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                yield ws.title, c


def _assert_inert(value) -> None:
    if isinstance(value, str):
        assert not value.startswith(FORMULA) and not value.lstrip().startswith(FORMULA[:4]), \
            repr(value)
        assert not CONTROL.search(value), repr(value)


@pytest.fixture
def hostile_project(tmp_path: Path) -> Path:
    """Formula-like metadata column names, coder, memo author and theme label."""
    from nlp.codebook import loads_codebook
    from nlp.project import open_project
    from nlp.store.decisions import Decision, record_decisions
    from nlp.store.memos import add_memo

    root = new_project(tmp_path / "proj")
    f = tmp_path / "a.csv"
    f.write_bytes(csv_bytes([["id", "text", *HEADERS],
                             ["r1", "The tender took nine months.", *["=1+1"] * len(HEADERS)],
                             ["r2", "Payment came late.", *["ok"] * len(HEADERS)]]))
    assert run_nlp("import", f, project=root).returncode == 0
    p = open_project(root)
    cb = p.store.active_codebook()
    from nlp.store.review_themes import save_codebook_version

    save_codebook_version(p.store, loads_codebook(
        f"name: {cb.name}\nversion: 1\nthemes:\n  - id: t1\n    label: '=HYPERLINK(\"x\")'\n"
        "    definition: '@cmd'\n"))
    record_decisions(p.store, "r1", [Decision("t1", "accepted")], coder="=HYPERLINK(\"x\")")
    add_memo(p.store, "answer", "r1", "-1+1 a memo", author="@evil")
    p.close()
    return root


@pytest.mark.parametrize("fmt,layout", [("xlsx", "wide"), ("csv", "long")])
def test_exports_headers_and_values_are_inert(hostile_project: Path, tmp_path: Path, fmt: str,
                                              layout: str):
    out = tmp_path / f"x.{fmt}"
    res = run_nlp("export", "-f", fmt, "-o", out, "--layout", layout, "--no-anonymise",
                  project=hostile_project)
    _no_crash(res)
    assert res.returncode == 0, res.stderr
    if fmt == "csv":
        with out.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        for row in rows:
            for c in row:
                _assert_inert(c)
    else:
        header = []
        for sheet, c in _xlsx_cells(out):
            assert c.data_type != "f", (sheet, c.coordinate, c.value)
            _assert_inert(c.value)
            if sheet == "coded quotes" and c.row == 1:
                header.append(c.value)
    for h in ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3",
              "@SUM(A1)", "=1+1"):
        assert "'" + h in header, (h, header)
    assert "]0;T=2" in header  # the ESC, BEL went; what is left is no formula


def test_other_layouts_are_inert_too(hostile_project: Path, tmp_path: Path):
    from nlp.pipeline import export_project
    from nlp.project import open_project

    p = open_project(hostile_project)
    try:
        x = export_project(p, tmp_path / "l.xlsx", format="xlsx", layout="long", anonymise=False)
        c = export_project(p, tmp_path / "w.csv", format="csv", layout="wide", anonymise=False)
    finally:
        p.close()
    for sheet, cell in _xlsx_cells(x):
        assert cell.data_type != "f"
        _assert_inert(cell.value)
    with c.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            for v in row:
                _assert_inert(v)


def _long_texts() -> dict[str, str]:
    words = ["tender", "=cost", "+fee", "-delay", "@team", "naïve", "staff", "wait"]
    return {
        "L40022": ("The tender took months. " * 2000)[:40_022],
        "L100000": " ".join(words[i % len(words)] for i in range(20_000))[:100_000].strip(),
        "Lemoji": "Slow 😀 process, " * 2_500,  # 40,000 characters, 47,500 UTF-16 units
        "Lformula": "=SUM(A1) -x +y @z " * 3_000,
    }


def test_long_values_continue_never_cut(tmp_path: Path):
    from nlp.project import open_project
    from nlp.store.memos import add_memo

    root = new_project(tmp_path / "proj")
    texts = _long_texts()
    f = tmp_path / "long.csv"
    f.write_bytes(csv_bytes([["id", "text", "note"], *[[k, v, v] for k, v in texts.items()],
                             ["s1", "A short answer.", "short"]]))
    res = run_nlp("import", f, project=root)
    assert res.returncode == 0, res.stderr
    p = open_project(root)
    stored = {k: p.store.response(k).text for k in texts}
    add_memo(p.store, "project", None, texts["L40022"], author="ana")
    p.close()
    out = tmp_path / "x.xlsx"
    res = run_limited("export", "-f", "xlsx", "-o", out, "--no-anonymise", project=root)
    assert res.returncode == 0, res.stderr
    import openpyxl

    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                if isinstance(v, str):
                    assert len(v.encode("utf-16-le")) // 2 <= 32_767
    ws = wb["coded quotes"]
    header = [c.value for c in ws[1]]
    text_cols = [i for i, h in enumerate(header) if h == "text" or h.startswith("text (cont.")]
    note_cols = [i for i, h in enumerate(header) if h == "note" or h.startswith("note (cont.")]
    assert text_cols == list(range(text_cols[0], text_cols[0] + len(text_cols)))
    assert len(text_cols) >= 4  # 100,000 characters need four cells
    for row in ws.iter_rows(min_row=2, values_only=True):
        rid = row[header.index("response_id")]
        whole = "".join(row[i] or "" for i in text_cols)
        if rid in stored:
            assert whole.removeprefix("'") == stored[rid], rid
            assert "".join(row[i] or "" for i in note_cols).removeprefix("'") == texts[rid]
    notes = wb["notes"]
    n_header = [c.value for c in notes[1]]
    [memo] = list(notes.iter_rows(min_row=2, values_only=True))
    assert "".join(memo[i] or "" for i, h in enumerate(n_header)
                   if h == "text" or h.startswith("text (cont.")) == texts["L40022"]
    readme = " ".join(str(v) for row in wb["README"].iter_rows(values_only=True) for v in row)
    assert "'text (cont. 2)'" in readme and "nothing was cut" in readme
    assert "sheet 'notes'" in readme
    # a CSV has no cell limit: the whole text in one cell
    out_csv = tmp_path / "x.csv"
    assert run_nlp("export", "-f", "csv", "-o", out_csv, "--no-anonymise",
                   project=root).returncode == 0
    with out_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = {r["response_id"]: r for r in csv.DictReader(fh)}
    assert rows["L100000"]["text"] == stored["L100000"]


# --- class 7: control characters ---------------------------------------------------------------
NAMES = ["ev\x01il\x1b]0;PWNED\x07", "\x1b[31mred\x1b[0m", "car\rriage", "nul\x00l", "c1\x9b31m",
         "del\x7f", "line\u2028sep", "half\ud800", "bell\x07", "nel\x85x", "\x1bP+q\x1b\\dcs"]


def _db_text(root: Path) -> str:
    return "\n".join(dump_db(root / "project.db"))


def test_every_stored_name_is_cleaned_at_the_store(tmp_path: Path):
    """The store API the app and the command line use: decisions, relabels, bulk decisions,
    memos, the codebook editor and theme renames, all with a hostile name."""
    from nlp.project import open_project
    from nlp.store import decisions as dec
    from nlp.store.memos import add_memo, list_memos
    from nlp.store.review_themes import rename_theme, save_codebook_version
    from nlp.types import Theme
    from dataclasses import replace

    root = new_project(tmp_path / "proj")
    f = tmp_path / "a.csv"
    f.write_bytes(csv_bytes([["id", "text"], *[[f"r{i}", f"Answer number {i} about tenders."]
                                                for i in range(len(NAMES))]]))
    assert run_nlp("import", f, project=root).returncode == 0
    p = open_project(root)
    t = p.store.active_codebook().theme_ids
    for i, name in enumerate(NAMES):
        rid = f"r{i}"
        dec.record_decisions(p.store, rid, [dec.Decision(t[0], "accepted")], coder=name)
        dec.relabel(p.store, rid, t[0], t[1], coder=name)
        dec.bulk_decisions(p.store, [rid], [dec.Decision(t[2], "accepted")], coder=name)
        add_memo(p.store, "answer", rid, f"memo {name}", author=name)
        # the raw name finds what it stored (comparisons are cleaned the same way)
        assert {c.theme_id for c in p.store.codings(coder=name)} >= {t[1], t[2]}
    cb = p.store.active_codebook()
    edited = replace(cb, themes=(replace(cb.themes[0], label="Label " + NAMES[0],
                                         definition="Def " + NAMES[1]), *cb.themes[1:]),
                     name=cb.name)
    save_codebook_version(p.store, edited)
    rename_theme(p.store, t[3], "renamed", actor=NAMES[0])
    save_codebook_version(p.store, replace(p.store.active_codebook(), themes=(
        *p.store.active_codebook().themes, Theme("new", "New\x1b]0;X\x07", "Def\x00."))))
    coders = {c.coder for c in p.store.codings()} - {"model"}
    memos = list_memos(p.store)
    active = p.store.active_codebook()
    p.close()
    assert not CONTROL.search(_db_text(root)), "a control character reached the database"
    assert "evil]0;PWNED" in coders and "car\nriage" in coders and "half\ufffd" in coders
    assert all(not CONTROL.search(m.author + m.text) for m in memos)
    assert active.themes[0].label == "Label evil]0;PWNED" and active.theme("new").label == \
        "New]0;X"


def _legacy_project(tmp_path: Path) -> Path:
    """A project an older version wrote: raw control characters in a coder's name, an event's
    actor, a memo, a theme's label, a source's name and the stored codebook."""
    from nlp.project import open_project
    from nlp.store.decisions import Decision, record_decisions
    from nlp.store.memos import add_memo

    root = new_project(tmp_path / "proj")
    f = tmp_path / "a.csv"
    f.write_bytes(csv_bytes([["id", "text"], ["r1", "The tender took nine months."],
                             ["r2", "Payment came late."]]))
    assert run_nlp("import", f, project=root).returncode == 0
    p = open_project(root)
    tid = p.store.active_codebook().theme_ids[0]
    record_decisions(p.store, "r1", [Decision(tid, "accepted")], coder="evil")
    add_memo(p.store, "answer", "r1", "memo", author="evil")
    p.close()
    raw = NAMES[0]
    con = sqlite3.connect(root / "project.db")
    try:
        con.execute("UPDATE codings SET coder = ? WHERE coder = 'evil'", (raw,))
        con.execute("UPDATE events SET actor = ?, coder = ? WHERE actor = 'evil'", (raw, raw))
        con.execute("UPDATE memos SET author = ?, text = ?", (raw, "memo " + raw))
        con.execute("UPDATE themes SET label = label || ?", (raw,))
        con.execute("UPDATE sources SET name = ?", ("a" + raw + ".csv",))
        y = con.execute("SELECT yaml FROM codebooks WHERE active").fetchone()[0]
        # the YAML escape an older dump wrote for a raw ESC in a label
        y = y.replace("label: ", "label: \"\\e]0;PWNED\\a\" # ", 1)
        con.execute("UPDATE codebooks SET yaml = ? WHERE active", (y,))
        con.commit()
    finally:
        con.close()
    assert CONTROL.search(_db_text(root))
    return root


def test_legacy_raw_names_neither_print_nor_break_exports(tmp_path: Path):
    root = _legacy_project(tmp_path)
    before = project_state(root)
    res = run_nlp("show", "r1", project=root)
    _no_crash(res)
    assert res.returncode == 0 and "evil]0;PWNED" in res.stdout
    assert not CONTROL.search(res.stdout + res.stderr), repr(res.stdout)
    for fmt in ("xlsx", "csv", "qdpx"):
        out = tmp_path / f"x.{fmt}"
        res = run_nlp("export", "-f", fmt, "-o", out, "--no-anonymise", project=root)
        _no_crash(res)
        assert res.returncode == 0, (fmt, res.stderr)
        assert not CONTROL.search(res.stdout + res.stderr)
    for sheet, c in _xlsx_cells(tmp_path / "x.xlsx"):
        _assert_inert(c.value)
    assert "evil]0;PWNED" in (tmp_path / "x.csv").read_text(encoding="utf-8-sig")
    assert not CONTROL.search((tmp_path / "x.csv").read_text(encoding="utf-8-sig")
                              .replace("\r\n", "\n"))
    assert project_state(root) == before  # reading cleans what it shows, never the project


def test_file_names_and_messages_never_print_control_bytes(tmp_path: Path):
    root = new_project(tmp_path / "proj")
    f = tmp_path / "an\x1b]0;PWNED\x07swers\x9b2J.csv"
    f.write_bytes(csv_bytes([["id", "text"], ["r1", "The tender took nine months."]]))
    res = run_nlp("import", f, project=root)
    _no_crash(res)
    assert res.returncode == 0, res.stderr
    assert "an]0;PWNEDswers2J.csv" in res.stdout
    assert not CONTROL.search(res.stdout + res.stderr), repr(res.stdout)
    before = project_state(root)
    res = run_nlp("import", tmp_path / "gone\x1b]0;X\x07.csv", project=root)  # refused
    assert res.returncode == 1 and "gone]0;X.csv" in _flat(res.stderr)
    assert not CONTROL.search(res.stdout + res.stderr), repr(res.stderr)
    assert project_state(root) == before
    con = sqlite3.connect(root / "project.db")
    try:
        assert con.execute("SELECT name FROM sources").fetchall() == [("an]0;PWNEDswers2J.csv",)]
    finally:
        con.close()


def test_console_keeps_its_colours_and_drops_the_text_escapes():
    import io

    from nlp.app import cli

    buf = io.StringIO()
    console = cli._CleanConsole(file=buf, force_terminal=True, color_system="standard",
                                highlight=False, markup=False, emoji=False)
    from rich.text import Text

    console.print(Text.assemble(("error:", "bold red"), " ", NAMES[0] + NAMES[1] + NAMES[10]))
    printed = buf.getvalue()
    assert "\x1b[1;31m" in printed  # rich's own styling is kept
    assert "\x1b]" not in printed and "\x07" not in printed and "\x1bP" not in printed
    assert "evil]0;PWNED" in printed
