"""An answer's place in its source: transcript turns, report sections, a respondent's rows."""
import pytest

from nlp.ingest import ImportOptions
from nlp.pipeline import import_file
from nlp.store.context import source_context


def test_transcript_turns_around_an_answer(store, write):
    import_file(store, write("interview.txt", "Interviewer: How did the tender go?\n"
                                              "R1: Badly. We never heard back.\n"
                                              "Interviewer: Did you bid again?\n"
                                              "R2: No, we could not afford the bid writer.\n"
                                              "Interviewer: And then?\n"
                                              "R1: We merged with a larger charity.\n"))
    ids = store.corpus().ids
    ctx = source_context(store, ids[1])
    assert ctx.kind == "transcript" and ctx.where == "interview.txt, line 4"
    assert ctx.question == "Did you bid again?" and ctx.speaker == "R2"
    assert [(c.label, c.text) for c in ctx.before] == [("R1", "Badly. We never heard back.")]
    assert [c.label for c in ctx.after] == ["R1"] and ctx.section is None
    assert source_context(store, ids[0], around=1).before == ()


def test_report_quote_keeps_to_its_section(store, write):
    import_file(store, write("report.md", "# Findings\n\n## Communication\n\n"
                             "One said: “We sent three emails and never got a reply from "
                             "anyone.” (Org H)\n\n"
                             "Another: “The portal was down for a whole week in March "
                             "last year.” (Org J)\n\n"
                             "## Money\n\n"
                             "“We used our reserves to keep the service running all "
                             "winter long.” (Org K)\n"), ImportOptions(kind="report"))
    ids = store.corpus().ids
    ctx = source_context(store, ids[1])
    assert ctx.kind == "report" and ctx.section == "Communication"
    assert [c.label for c in ctx.before] == ["Org H"] and ctx.after == ()
    assert source_context(store, ids[2]).section == "Money"


def test_table_rows_show_the_same_respondents_other_answers(store, write):
    import_file(store, write("s.csv", "id,respondent,question,text\n"
                                      "1,P1,Q1,first answer of p1\n2,P2,Q1,p2 says hello\n"
                                      "3,P1,Q2,second answer of p1\n4,P1,Q3,third of p1\n"))
    ctx = source_context(store, "3")
    assert ctx.kind == "table" and ctx.where == "s.csv, row 4"
    assert [(c.label, c.text) for c in ctx.before] == [("Q1", "first answer of p1")]
    assert [c.response_id for c in ctx.after] == ["4"]
    with pytest.raises(KeyError):
        source_context(store, "nope")
