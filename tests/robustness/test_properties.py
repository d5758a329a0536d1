"""Property-based tests (hypothesis) of the readers and the quote extractor.

Readers: what a CSV or JSON Lines writer puts in is what the import reads back (after the
documented clean-up: line ends as \\n, control characters removed, surrounding whitespace
stripped), or a clear NlpError, never anything else. Any bytes under any supported extension,
or a valid Excel/Word/PDF file with bytes flipped, read as responses or fail with an NlpError.
Quotes: the extractor never crashes, and each quote is a passage of its input.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hostile_files import docx_bytes, pdf_bytes, xlsx_bytes

SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

# Text as respondents type it: any letters (emoji, Arabic, Hebrew, CJK, combining marks), and
# the characters that break naive parsers: delimiters, quotes, apostrophes, tabs, line ends.
TRICKY = list(",;|\t\"'“”‘’\n\r =+-@#*_()[]<>\\/…—") + ["\r\n", "\u2028", "\u200f", "\u202e",
                                                          "\ufeff", "👍🏽", "👨‍👩‍👧", "e\u0301"]
HUMAN_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn"))
human_text = st.lists(st.one_of(HUMAN_CHARS, st.sampled_from(TRICKY)), max_size=60).map("".join)
# Anything at all, control characters and lone surrogates included.
any_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(
    ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\r"])),
    max_size=60)


def _expected(text: str) -> str:
    from nlp.ingest.readers import clean_text

    return clean_text(text).strip()


def _read(tmp: Path, name: str, data: bytes):
    from nlp.ingest import ImportOptions, read_file

    p = tmp / name
    p.write_bytes(data)
    return read_file(p, ImportOptions(kind="table") if name.endswith((".csv", ".jsonl"))
                     else None)


def _csv(texts: list[str], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(["id", "text"])
    for i, t in enumerate(texts):
        w.writerow([f"r{i}", t])
    return buf.getvalue().encode("utf-8")


@SETTINGS
@given(texts=st.lists(human_text, min_size=1, max_size=8),
       delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_csv_round_trip_of_human_text(tmp_path_factory, texts, delimiter):
    """No error allowed: every answer comes back exactly (modulo the documented clean-up)."""
    res = _read(tmp_path_factory.mktemp("csv"), "a.csv", _csv(texts, delimiter))
    assert [r.response_id for r in res.responses] == [f"r{i}" for i in range(len(texts))]
    assert [r.text for r in res.responses] == [_expected(t) for t in texts]


@SETTINGS
@given(texts=st.lists(any_text, min_size=1, max_size=8))
def test_csv_round_trip_of_any_text_or_clear_error(tmp_path_factory, texts):
    from nlp.errors import NlpError

    try:
        res = _read(tmp_path_factory.mktemp("csv"), "a.csv",
                    _csv([t.encode("utf-8", "replace").decode("utf-8") for t in texts]))
    except NlpError as exc:
        assert "a.csv" in str(exc)
        return
    want = [_expected(t.encode("utf-8", "replace").decode("utf-8")) for t in texts]
    assert [r.text for r in res.responses] == want


@SETTINGS
@given(texts=st.lists(any_text, min_size=1, max_size=8), ascii_only=st.booleans())
def test_jsonl_round_trip_of_any_text(tmp_path_factory, texts, ascii_only):
    """JSON escapes what would break a line, so no error is allowed: U+2028, NEL, lone
    surrogates (as \\ud800 escapes) included."""
    if not ascii_only:
        assume(not any("\ud800" <= ch <= "\udfff" for t in texts for ch in t))
    data = "".join(json.dumps({"id": i, "text": t, "note": t}, ensure_ascii=ascii_only) + "\n"
                   for i, t in enumerate(texts)).encode("utf-8")
    res = _read(tmp_path_factory.mktemp("jsonl"), "a.jsonl", data)
    assert [r.text for r in res.responses] == [_expected(t) for t in texts]
    for r, t in zip(res.responses, texts):
        from nlp.ingest.readers import clean_text

        assert r.metadata.get("note", "") == clean_text(t)  # metadata cleaned, not stripped
        assert r.text == r.text.encode("utf-8").decode("utf-8")  # storable: no surrogates


@SETTINGS
@given(data=st.binary(max_size=3000),
       ext=st.sampled_from([".csv", ".tsv", ".jsonl", ".txt", ".md", ".docx", ".xlsx", ".pdf"]))
def test_any_bytes_read_or_clear_error(tmp_path_factory, data, ext):
    from nlp.errors import NlpError

    try:
        res = _read(tmp_path_factory.mktemp("b"), "f" + ext, data)
    except NlpError as exc:
        assert ("f" + ext) in str(exc)
        return
    for r in res.responses:
        r.text.encode("utf-8")  # storable


def _valid(kind: str) -> bytes:
    answer = "The tender took nine months, and the forms ran to eighty pages in all."
    if kind == ".xlsx":
        return xlsx_bytes({"S": [["id", "text"], *[[i, answer] for i in range(30)]]})
    if kind == ".docx":
        return docx_bytes(["Interviewer: Why?", "R1: " + answer] * 10)
    return pdf_bytes(["2 Findings", "", f'One participant told us: "{answer}"'])


VALID = {k: _valid(k) for k in (".xlsx", ".docx", ".pdf")}


@SETTINGS
@given(kind=st.sampled_from(sorted(VALID)), cut=st.floats(0.0, 1.0),
       flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8))
def test_damaged_office_files_read_or_clear_error(tmp_path_factory, kind, cut, flips):
    from nlp.errors import NlpError

    data = bytearray(VALID[kind])
    for where, byte in flips:
        data[int(where * (len(data) - 1))] = byte
    data = bytes(data[:max(1, int(len(data) * cut))]) if cut < 0.98 else bytes(data)
    try:
        _read(tmp_path_factory.mktemp("o"), "f" + kind, data)
    except NlpError as exc:
        assert ("f" + kind) in str(exc)


# --- the quote extractor ----------------------------------------------------------------------
WORDS = ["the", "council", "never", "replied", "to", "our", "bid", "and", "we", "waited",
         "months", "for", "a", "decision", "Organisation", "B", "said", "states", "White",
         "Paper", "respondent", "—", "(Organisation C)", "¹", "[3]", "**", "_"]
MARKS = ["“", "”", '"', "‘", "’", "> ", " <"]
token = st.one_of(st.sampled_from(WORDS), st.sampled_from(MARKS), HUMAN_CHARS)
line = st.one_of(
    st.lists(token, max_size=30).map(" ".join),
    st.just(""),
    st.sampled_from(["# Findings", "## 3.2 Communication", "<b>Payment</b>", "1.2 Funding gaps",
                     "**Theme**", "Organisation D", "\tcell\tcell"]),
    any_text,
)


def _ws(s: str) -> str:
    return " ".join(s.split())


@SETTINGS
@given(lines=st.lists(line, max_size=25), min_words=st.integers(1, 10))
def test_quotes_never_crash_and_are_passages_of_the_input(lines, min_words):
    from nlp.ingest.quotes import extract_quotes

    quotes = extract_quotes(lines, min_words=min_words)
    whole = _ws(" ".join(lines))
    for q in quotes:
        assert q.text and _ws(q.text) in whole, (q, lines)
        assert 1 <= q.line <= len(lines)
        assert q.section is None or isinstance(q.section, str)


@SETTINGS
@given(lines=st.lists(line, max_size=25))
def test_transcript_turns_never_crash_and_are_passages(lines):
    from nlp.ingest.transcripts import looks_like_transcript, respondent_turns

    looks_like_transcript(lines)
    whole = _ws(" ".join(lines))
    for turn, question in respondent_turns(lines):
        assert _ws(turn.text) in whole
        assert 1 <= turn.line <= len(lines)


@pytest.mark.parametrize("n", [20_000])
def test_quotes_scale_linearly_on_long_paragraphs(n):
    """Thousands of quotes in one paragraph (a PDF without blank lines) once took minutes."""
    import time

    from nlp.ingest.quotes import extract_quotes

    sentence = "we waited months for a decision from the council"
    one_para = [" ".join(f'“{sentence} {i}"' for i in range(n))]
    many_lines = [f'"{sentence} {i}"' for i in range(n)]
    t0 = time.perf_counter()
    assert len(extract_quotes(one_para)) == n
    assert len(extract_quotes(many_lines)) == n
    assert time.perf_counter() - t0 < 20
