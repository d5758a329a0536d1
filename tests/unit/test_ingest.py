"""Every reader, and every bad-input case of the foundation issue."""
import io
import json

import pytest

from nlp.errors import InputError
from nlp.ingest import ImportOptions, flag_for, read_file
from nlp.pipeline import import_file

from filedata import pdf_bytes


def rows_of(path, **opts):
    return read_file(path, ImportOptions(**opts)).responses


# --- readers ----------------------------------------------------------------------------
def test_csv_detects_columns_and_keeps_provenance(write):
    p = write("s.csv", "ID,Respondent,Question,Comment,Region\n"
                       "a1,R1,Q1,\"We were never told why, and no one replied\",North\n")
    res = read_file(p)
    r = res.responses[0]
    assert (r.response_id, r.respondent_id, r.question, r.location) == ("a1", "R1", "Q1", 2)
    assert r.text.startswith("We were never told")
    assert r.metadata == {"Region": "North"} and r.source == "s.csv"
    assert res.columns["text"] == "Comment"
    assert any("detected" in n for n in res.notes)


def test_csv_long_text_column_detected_without_known_name(write):
    p = write("s.csv", "n,words\n1,this answer is long enough to be the text\n2,another long answer here\n")
    assert read_file(p).columns["text"] == "words"


def test_csv_named_columns_and_semicolon_delimiter(write):
    p = write("s.csv", "k;body;who\nx;some text that is an answer;p1\n")
    r = rows_of(p, text_col="body", id_col="k", respondent_col="who")[0]
    assert (r.response_id, r.text, r.respondent_id) == ("x", "some text that is an answer", "p1")


def test_csv_quoted_newlines_and_short_rows(write):
    p = write("s.csv", 'id,text,extra\n1,"line one\nline two"\n2,plain answer text here,x\n')
    rs = rows_of(p)
    assert rs[0].text == "line one\nline two" and rs[1].location == 3


def test_xlsx_reader_streams_first_sheet(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "answers"
    ws.append(["id", "response", "group"])
    ws.append([1, "The prime never contacted us after the bid", "charity"])
    ws.append([2, "=SUM(A1:A2)", "council"])
    wb.create_sheet("notes").append(["ignored"])
    p = tmp_path / "s.xlsx"
    wb.save(p)
    res = read_file(p)
    assert [r.response_id for r in res.responses] == ["1", "2"]
    assert res.responses[0].metadata == {"group": "charity"}
    assert any("sheet 'answers'" in n for n in res.notes)
    assert rows_of(p, sheet="answers")[1].text == "=SUM(A1:A2)"
    with pytest.raises(InputError, match="no sheet 'x'"):
        rows_of(p, sheet="x")


def test_jsonl_reader_reports_line(write):
    p = write("s.jsonl", json.dumps({"id": "a", "text": "an answer with words"}) + "\n\n"
              + json.dumps({"id": "b", "text": "another answer here"}) + "\n")
    rs = rows_of(p)
    assert [r.location for r in rs] == [1, 3]


def test_transcript_splits_turns_with_questions(write):
    p = write("interview.txt", "Interviewer: How did the tender go?\n"
                               "R1: Badly. We never heard back from the commissioners\n"
                               "and the deadline moved twice.\n"
                               "Interviewer: Did you bid again?\n"
                               "R1: No, we could not afford the bid writer.\n")
    rs = rows_of(p)
    assert len(rs) == 2
    assert rs[0].question == "How did the tender go?"
    assert rs[0].text.endswith("deadline moved twice.")
    assert rs[0].respondent_id == "R1" and rs[1].location == 5


def test_docx_transcript(tmp_path):
    import docx
    d = docx.Document()
    d.add_paragraph("Q: What would you change?")
    d.add_paragraph("A: Longer contracts and grants for small groups.")
    d.add_paragraph("Q: Anything else?")
    d.add_paragraph("A: No comment")
    p = tmp_path / "t.docx"
    d.save(p)
    rs = rows_of(p)
    assert [r.text for r in rs] == ["Longer contracts and grants for small groups.", "No comment"]
    assert rs[1].flag == "non_answer" and rs[0].respondent_id == "t"


def test_report_quotes_with_section(write):
    p = write("report.md", "# Findings\n\n## Communication\n\n"
                           "One interviewee said: “We sent three emails and never got a reply "
                           "from the commissioners.” (Organisation H)\n\n"
                           "The authors think “short phrase” matters.\n")
    rs = rows_of(p)
    assert len(rs) == 1
    assert rs[0].text == "We sent three emails and never got a reply from the commissioners."
    assert rs[0].metadata["section"] == "Communication"
    assert rs[0].respondent_id == "Organisation H" and rs[0].location == 5


def test_pdf_report(write):
    p = write("r.pdf", pdf_bytes(["2 Findings", "",
                                  'One participant told us: "The prime never called us back',
                                  'after the contract was awarded to them." (Organisation B)']))
    rs = rows_of(p)
    assert len(rs) == 1
    assert rs[0].text == "The prime never called us back after the contract was awarded to them."
    assert rs[0].respondent_id == "Organisation B"


def test_kind_override(write):
    p = write("t.txt", "Interviewer: hello there\nR1: we had no reply from anyone at all\n")
    with pytest.raises(InputError, match="no quoted passages"):
        rows_of(p, kind="report")


# --- flags ------------------------------------------------------------------------------
@pytest.mark.parametrize("text,flag", [
    ("", "empty"), ("   ", "empty"), ("N/A", "non_answer"), ("n/a.", "non_answer"),
    ("No comment", "non_answer"), ("Don’t know", "non_answer"), ("don't know!", "non_answer"),
    ("Not applicable", "non_answer"), ("No, the process was fine", None),
    ("Nothing about this contract was fair", None),
])
def test_flags(text, flag):
    assert flag_for(text) == flag


def test_flagged_answers_kept_and_counted(write, store):
    p = write("s.csv", "id,text\n1,N/A\n2,\n3,a real answer about funding\n")
    s = import_file(store, p)
    assert (s.rows_read, s.imported, s.flagged) == (3, 3, 2)
    assert store.count_responses(flagged=True) == 2


# --- bad input: each case a clear error naming file, row and problem ---------------------
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_file(tmp_path / "nope.csv")


def test_unknown_format(write):
    p = write("data.sav", "x")
    with pytest.raises(InputError, match=r"data\.sav: unknown file format '\.sav'.*\.csv"):
        read_file(p)


def test_no_text_column_lists_columns(write):
    p = write("s.csv", "id,score\n1,5\n2,3\n")
    with pytest.raises(InputError, match=r"no text column found; columns are 'id', 'score'"):
        read_file(p)


def test_named_column_missing(write):
    p = write("s.csv", "id,text\n1,an answer here\n")
    with pytest.raises(InputError, match=r"--text-col 'body' is not a column"):
        rows_of(p, text_col="body")


def test_encodings_tried_and_reported(write):
    p = write("cp.csv", "id,text\n1,caf\xe9 and na\xefve answers \u201cquoted\u201d\n".encode("cp1252"))
    res = read_file(p)
    assert res.encoding == "cp1252" and "“quoted”" in res.responses[0].text
    assert any("cp1252" in n for n in res.notes)
    bom = write("bom.csv", "\ufeffid,text\n1,an answer with a BOM\n".encode("utf-8"))
    res = read_file(bom)
    assert res.encoding == "utf-8-sig" and res.columns["id"] == "id"


def test_undecodable_bytes_named(write):
    p = write("bad.csv", b"id,text\n1,ok answer\n2,bad \x81\x8d\x8f\x90 bytes\n")
    with pytest.raises(InputError, match=r"bad\.csv, line 3: .*utf-8, utf-8-sig, cp1252"):
        read_file(p)


def test_empty_file(write):
    for name in ("e.csv", "e.jsonl", "e.txt"):
        p = write(name, "  \n")
        with pytest.raises(InputError, match="the file is empty"):
            read_file(p)


def test_header_only(write):
    p = write("h.csv", "id,text\n")
    with pytest.raises(InputError, match="no data rows"):
        read_file(p)


def test_cell_too_long(write):
    p = write("big.csv", "id,text\n1,short answer here\n2," + "x" * 100_001 + "\n")
    with pytest.raises(InputError, match=r"big\.csv, row 3: the answer has 100,001 characters"):
        read_file(p)


def test_duplicate_ids(write):
    p = write("d.csv", "id,text\n7,first answer text\n8,second answer\n7,third answer\n")
    with pytest.raises(InputError, match=r"d\.csv, row 4: duplicate id '7' \(first seen row 2\)"):
        read_file(p)


def test_binary_junk(write):
    for name in ("junk.csv", "junk.txt", "junk.jsonl"):
        p = write(name, b"\x00\x01\x02\xff\xfe" * 100)
        with pytest.raises(InputError, match="binary content"):
            read_file(p)
    for name in ("junk.xlsx", "junk.docx", "junk.pdf"):
        p = write(name, b"\x00\x01garbage" * 50)
        with pytest.raises(InputError, match="binary content"):
            read_file(p)


def test_truncated_xlsx(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.append(["id", "text"])
    buf = io.BytesIO()
    wb.save(buf)
    p = tmp_path / "t.xlsx"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match=r"t\.xlsx: cannot read this Excel"):
        read_file(p)


def test_bad_json_line(write):
    p = write("b.jsonl", '{"id": 1, "text": "fine answer"}\n{"id": 2, "text": \n')
    with pytest.raises(InputError, match=r"b\.jsonl, line 2: not a JSON object"):
        read_file(p)
    p = write("l.jsonl", '["a", "list"]\n')
    with pytest.raises(InputError, match=r"line 1: not a JSON object: found a list"):
        read_file(p)


def test_ragged_row_with_extra_fields(write):
    p = write("r.csv", "id,text\n1,fine answer here\n2,an answer, with an unquoted comma\n")
    with pytest.raises(InputError, match=r"r\.csv, row 3: the row has 3 fields"):
        read_file(p)


def test_report_quotes_mixed_marks_page_breaks_citations_and_attribution_lines():
    from nlp.ingest.quotes import extract_quotes
    lines = ["## 3 Findings", "",
             "“We waited months for a decision and nobody",  # opened “, closed " after a break
             "", "> A pull-quote of the authors’ own words here for emphasis only. <", "",
             'ever explained what had happened to our bid."', "", "Organisation D", "",
             'The strategy said "providers will be paid for the outcomes they achieve in '
             'their areas".<sup>4</sup>',
             ""]
    qs = extract_quotes(lines)
    assert [q.text for q in qs] == [
        "We waited months for a decision and nobody ever explained what had happened to our bid."]
    assert qs[0].line == 3 and qs[0].speaker == "Organisation D" and qs[0].section == "3 Findings"
