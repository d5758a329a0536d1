"""Memos on an answer, a theme or the project: stored with author and time, searchable."""
import pytest

from nlp.errors import CodebookError
from nlp.pipeline import import_file
from nlp.store import memos as mm


def test_memos_round_trip_and_search(store, write):
    import_file(store, write("a.csv", "id,text\n1,late payment hurts\n2,fine\n"))
    tid = store.active_codebook().theme_ids[0]
    a = mm.add_memo(store, "answer", "1", "  Ironic tone: check with Ben  ", author="ana")
    mm.add_memo(store, "theme", tid, "Too broad? split 100% cases", author="ben")
    mm.add_memo(store, "project", None, "Second pass starts Monday", author="ana")
    assert a.text == "Ironic tone: check with Ben" and a.created_at is not None
    assert [m.text for m in mm.list_memos(store, "answer", "1")] == [a.text]
    assert [m.target for m in mm.list_memos(store)] == ["answer", "theme", "project"]
    assert [m.target_id for m in mm.list_memos(store, "project")] == [""]
    assert [m.author for m in mm.list_memos(store, author="ben")] == ["ben"]
    assert [m.target for m in mm.search_memos(store, "IRONIC")] == ["answer"]
    assert [m.target for m in mm.search_memos(store, "100%")] == ["theme"]  # % is literal
    assert mm.search_memos(store, "1_0") == []  # _ too
    assert mm.memo_counts(store, "answer", ["1", "2"]) == {"1": 1}
    assert not mm.delete_memo(store, a.memo_id, author="ben")  # not ben's
    assert mm.delete_memo(store, a.memo_id, author="ana")
    assert mm.list_memos(store, "answer") == []


def test_memos_are_validated(store, write):
    import_file(store, write("a.csv", "id,text\n1,late payment hurts\n"))
    with pytest.raises(ValueError, match="not 'page'"):
        mm.add_memo(store, "page", "1", "x", author="ana")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="author"):
        mm.add_memo(store, "project", None, "x", author=" ")
    with pytest.raises(ValueError, match="some text"):
        mm.add_memo(store, "project", None, "   ", author="ana")
    with pytest.raises(ValueError, match="no answer 'zz'"):
        mm.add_memo(store, "answer", "zz", "x", author="ana")
    with pytest.raises(CodebookError):
        mm.add_memo(store, "theme", "nope", "x", author="ana")
    assert mm.list_memos(store) == []


def test_a_themes_memos_follow_a_rename_and_a_merge(store, write):
    from nlp.store import review_themes as rt
    from nlp.types import Theme

    t = store.active_codebook().theme_ids
    mm.add_memo(store, "theme", t[0], "about the first theme", author="ana")
    mm.add_memo(store, "theme", t[1], "about the second", author="ana")
    rt.rename_theme(store, t[0], "renamed", actor="ana")
    assert [m.target_id for m in mm.list_memos(store, "theme")] == ["renamed", t[1]]
    rt.merge_themes(store, ["renamed", t[1]], Theme("both", "Both", "d"), actor="ana")
    assert {m.target_id for m in mm.list_memos(store, "theme")} == {"both"}
