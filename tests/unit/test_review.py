"""The review app's store queries: the queue, filters, search, decisions, undo, theme counts
and the codebook edits that carry codings along."""
import pytest
import sqlalchemy as sa

from nlp.errors import CodebookError
from nlp.pipeline import import_file
from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.store import review_themes as rt
from nlp.types import Theme

F = rv.QueueFilter


@pytest.fixture
def coded(store, write):
    """Six answers (one a non-answer) in two files, the model's scores for the five answers."""
    import_file(store, write("a.csv", "id,text,grp\n1,late payment hurts cash flow,x\n"
                                      "2,the prime never called us,y\n3,N/A,x\n"))
    import_file(store, write("b.csv", "id,text,grp\n4,we subsidise the contract 100%,y\n"
                                      "5,payment_terms were fine,x\n6,no reply to our emails,y\n"))
    t = store.active_codebook().theme_ids
    scores = {"1": {t[0]: 0.2, t[1]: 0.7}, "2": {t[0]: 0.9, t[2]: 0.4},
              "4": {t[1]: 0.95}, "5": {t[1]: 0.55, t[2]: 0.1}, "6": {t[2]: 0.8}}
    unc = {"1": 0.5, "2": 0.9, "4": 0.1, "5": 0.9, "6": 0.3}
    store.write_model_codings(scores, {x: 0.5 for x in t}, model_id="m", uncertainty=unc)
    return t


def ids(items):
    return [i.response_id for i in items]


def walk(store, flt):
    out, item = [], rv.queue_next(store, flt)
    while item is not None:
        out.append(item.response_id)
        item = rv.queue_next(store, flt, after=item.key)
    return out


def test_migration_adds_review_indexes(store):
    assert store.schema_revision() >= "0002"
    with store.read() as conn:
        names = {i["name"] for i in sa.inspect(conn).get_indexes("codings")}
        pred = {i["name"] for i in sa.inspect(conn).get_indexes("predictions")}
    assert {"ix_codings_coder_response", "ix_codings_theme_coder_conf"} <= names
    assert "ix_predictions_uncertainty_rid" in pred


def test_queue_is_most_uncertain_first_and_pages_by_key(store, coded):
    assert walk(store, F()) == ["5", "2", "1", "6", "4"]  # ties broken by id, descending
    assert walk(store, F(order="import")) == ["1", "2", "4", "5", "6"]  # non-answer 3 left out
    second = rv.queue_next(store, F(), after=rv.queue_next(store, F()).key)
    assert rv.queue_prev(store, F(), before=second.key).response_id == "5"
    assert rv.queue_prev(store, F(), before=rv.queue_next(store, F()).key) is None
    assert ids(rv.queue_page(store, F(), offset=1, limit=2)) == ["2", "1"]
    assert rv.queue_count(store, F()) == 5


def test_reviewed_answers_leave_the_unreviewed_queue(store, coded):
    dec.record_decisions(store, "5", [dec.Decision(coded[1], "accepted", "model", 0.55)],
                        coder="ana")
    assert walk(store, F()) == ["2", "1", "6", "4"]
    assert walk(store, F(coder="ben")) == ["5", "2", "1", "6", "4"]  # not yet reviewed by ben
    assert walk(store, F(status="reviewed")) == ["5"]
    assert rv.reviewed_count(store) == 1 and rv.reviewed_count(store, coder="ben") == 0
    assert rv.list_coders(store) == ["ana"]


def test_filters(store, coded):
    t = coded
    assert walk(store, F(theme_id=t[1], status="suggested")) == ["5", "1", "4"]
    dec.record_decisions(store, "1", [dec.Decision(t[1], "rejected", "model", 0.7)], coder="ana")
    assert walk(store, F(theme_id=t[1], status="suggested")) == ["5", "4"]
    assert walk(store, F(theme_id=t[1], status="rejected")) == ["1"]
    assert walk(store, F(theme_id=t[1], status="accepted")) == []
    assert walk(store, F(status="any", theme_id=t[1], min_confidence=0.9)) == ["4"]
    # a band below the threshold reads the model's scores, not only its suggestions
    assert walk(store, F(status="any", theme_id=t[2], min_confidence=0.3,
                         max_confidence=0.45)) == ["2"]
    assert walk(store, F(status="any", min_confidence=0.5, max_confidence=0.6)) == ["5"]
    src = {s["name"]: s["id"] for s in store.list_sources()}
    assert walk(store, F(status="any", source_id=src["b.csv"], order="import")) == ["4", "5", "6"]
    assert walk(store, F(status="any", coder="ana")) == ["1"]
    assert walk(store, F(status="any", text="PAYMENT", order="import")) == ["1", "5"]
    assert walk(store, F(status="any", text="100%", order="import")) == ["4"]  # % is literal
    assert walk(store, F(status="any", text="payment_t", order="import")) == ["5"]  # _ too
    assert rv.queue_count(store, F(status="any", text="payment")) == 2
    with pytest.raises(ValueError, match="status filter"):
        rv.queue_count(store, F(status="maybe"))  # type: ignore[arg-type]


def test_review_context(store, coded):
    item = rv.find_item(store, "5")
    dec.record_decisions(store, "5", [dec.Decision(coded[0], "accepted")], coder="ana")
    ctx = rv.review_context(store, item)
    assert ctx.before == ("we subsidise the contract 100%",)  # same source only
    assert ctx.after == ("no reply to our emails",)
    assert ctx.scores[coded[1]] == 0.55 and ctx.confidences == {coded[1]: 0.55}
    assert ctx.decisions == {coded[1]: {"model": "suggested"}, coded[0]: {"ana": "accepted"}}
    assert rv.find_item(store, "3").key[0] > 0  # not model-coded: found in import order
    assert rv.find_item(store, "nope") is None


def test_decisions_are_one_transaction_and_undo_takes_them_back_together(store, coded):
    t = coded
    dec.record_decisions(store, "2", [dec.Decision(t[0], "accepted", "model", 0.9)], coder="ana")
    dec.record_decisions(store, "2", [dec.Decision(t[2], "rejected", "model", 0.4),
                                     dec.Decision(t[3], "accepted")], coder="ana")
    dec.record_decisions(store, "6", [dec.Decision(t[2], "accepted")], coder="ben")
    assert len(store.codings(coder="ana")) == 3
    undone = dec.undo_last(store, "ana")
    assert {e["theme_id"] for e in undone} == {t[2], t[3]}
    assert [c.theme_id for c in store.codings(coder="ana")] == [t[0]]
    assert len(store.codings(coder="ben")) == 1  # someone else's work is untouched
    assert dec.undo_last(store, "ana")[0]["theme_id"] == t[0]
    assert dec.undo_last(store, "ana") == []
    assert store.replay_events() == store.current_state()
    dec.record_decisions(store, "2", [dec.Decision(t[0], "accepted")], coder="ana")
    dec.record_decisions(store, "2", [dec.Decision(t[0], None)], coder="ana")  # clear
    assert store.codings(coder="ana") == []
    dec.undo_last(store, "ana")  # a clear is undone like any decision
    assert [c.status for c in store.codings(coder="ana")] == ["accepted"]


def test_decisions_are_validated(store, coded):
    with pytest.raises(ValueError, match="coder name"):
        dec.record_decisions(store, "1", [dec.Decision(coded[0], "accepted")], coder=" ")
    with pytest.raises(ValueError, match="coder name"):
        dec.record_decisions(store, "1", [dec.Decision(coded[0], "accepted")], coder="model")
    with pytest.raises(ValueError, match="not in the project's codebook"):
        dec.record_decisions(store, "1", [dec.Decision("nope", "accepted")], coder="ana")
    with pytest.raises(ValueError, match="status"):
        dec.record_decisions(store, "1", [dec.Decision(coded[0], "maybe")], coder="ana")
    with pytest.raises(KeyError):
        dec.record_decisions(store, "99", [dec.Decision(coded[0], "accepted")], coder="ana")
    assert store.codings(coder="ana") == [] and dec.record_decisions(store, "1", [],
                                                                    coder="ana") == 0


def test_theme_counts_and_crosstab(store, coded):
    t = coded
    dec.record_decisions(store, "1", [dec.Decision(t[1], "accepted", "model", 0.7)], coder="ana")
    dec.record_decisions(store, "4", [dec.Decision(t[1], "rejected", "model", 0.95)], coder="ana")
    dec.record_decisions(store, "6", [dec.Decision(t[0], "accepted")], coder="ben")
    n, counts = rt.theme_counts(store)
    assert n == 5
    assert counts[t[1]] == rt.ThemeCount(t[1], accepted=1, rejected=1, suggested=1,
                                         model_total=3)
    assert counts[t[0]] == rt.ThemeCount(t[0], accepted=1, rejected=0, suggested=1,
                                         model_total=1)
    sizes, rows = rt.theme_crosstab(store, "meta:grp")
    assert sizes == {"x": 2, "y": 3}
    cell = {(r["group"], r["theme_id"]): (r["accepted"], r["suggested"]) for r in rows}
    assert cell[("x", t[1])] == (1, 1) and cell[("y", t[1])] == (0, 0)
    assert cell[("y", t[0])] == (1, 1)
    sizes, _ = rt.theme_crosstab(store, "source")
    assert sizes == {"a.csv": 2, "b.csv": 3}
    assert "meta:grp" in rt.group_options(store)
    with pytest.raises(ValueError):
        rt.theme_crosstab(store, "text")


def test_data_version_moves_with_every_change(store, coded):
    v0 = rv.data_version(store)
    dec.record_decisions(store, "1", [dec.Decision(coded[0], "accepted")], coder="ana")
    v1 = rv.data_version(store)
    rt.save_codebook_version(store, store.active_codebook())
    assert len({v0, v1, rv.data_version(store)}) == 3


def test_rename_carries_codings_and_logs_them(store, coded):
    t = coded
    dec.record_decisions(store, "1", [dec.Decision(t[1], "accepted", "model", 0.7)], coder="ana")
    cb = rt.rename_theme(store, t[1], "money", actor="ana", label="Money")
    assert cb.version == 4 and store.active_codebook().theme_ids[1] == "money"
    assert store.codings(theme_id=t[1]) == []
    moved = store.codings(theme_id="money")
    assert {(c.response_id, c.coder) for c in moved} == {("1", "ana"), ("1", "model"),
                                                         ("4", "model"), ("5", "model")}
    assert store.replay_events() == store.current_state()
    with pytest.raises(CodebookError, match="already in the codebook"):
        rt.rename_theme(store, "money", t[0], actor="ana")
    with pytest.raises(CodebookError, match="not in the project's codebook"):
        rt.rename_theme(store, "nope", "x", actor="ana")


def test_merge_keeps_the_stronger_decision_and_undo_restores(store, coded):
    t = coded
    dec.record_decisions(store, "2", [dec.Decision(t[0], "rejected", "model", 0.9),
                                     dec.Decision(t[2], "accepted")], coder="ana")
    before = store.current_state()
    rt.merge_themes(store, [t[0], t[2]], Theme(t[0], "Merged", "both"), actor="ana")
    cb = store.active_codebook()
    assert t[2] not in cb.theme_ids and cb.theme(t[0]).label == "Merged"
    got = {(c.response_id, c.coder): (c.status, c.confidence)
           for c in store.codings(theme_id=t[0])}
    assert got[("2", "ana")] == ("accepted", 0.9)  # accepted beats rejected
    assert got[("2", "model")] == ("suggested", 0.9)  # the model's highest confidence
    assert ("6", "model") in got
    assert store.replay_events() == store.current_state()
    dec.undo_last(store, "ana")
    assert store.current_state() == before
    with pytest.raises(CodebookError, match="at least two"):
        rt.merge_themes(store, [t[0]], Theme("x", "X", "d"), actor="ana")


def test_split_copies_codings_onto_each_part(store, coded):
    t = coded
    parts = [Theme(t[1], "Subsidy", "own money"), Theme("late_pay", "Late payment", "late")]
    rt.split_theme(store, t[1], parts, actor="ana")
    cb = store.active_codebook()
    assert cb.theme_ids[1:3] == [t[1], "late_pay"]
    assert ({c.response_id for c in store.codings(theme_id="late_pay")}
            == {c.response_id for c in store.codings(theme_id=t[1])} == {"1", "4", "5"})
    assert store.replay_events() == store.current_state()
    with pytest.raises(CodebookError, match="two parts"):
        rt.split_theme(store, t[1], parts[:1], actor="ana")


def test_save_codebook_version_picks_a_free_version(store):
    cb = store.active_codebook()
    a = rt.save_codebook_version(store, cb)
    store.add_codebook(cb)  # back to the old one: the next save must skip the taken version
    b = rt.save_codebook_version(store, store.active_codebook())
    assert (a.version, b.version) == (4, 5)
    assert rt.codebook_by_id(store, store.codebook_versions()[-1]["id"]).version == 5
    with pytest.raises(CodebookError):
        rt.save_codebook_version(store, cb.__class__(cb.name, 9, (*cb.themes, cb.themes[0])))


def test_coder_units(store, coded):
    t = coded
    dec.record_decisions(store, "1", [dec.Decision(t[1], "accepted")], coder="ana")
    dec.record_decisions(store, "2", [dec.Decision(t[0], "rejected")], coder="ana")
    units = rt.coder_units(store)
    assert units["ana"] == {"1": frozenset({t[1]}), "2": frozenset()}
    assert units["model"] == {"1": frozenset({t[1]}), "2": frozenset({t[0]})}
    assert "model" not in rt.coder_units(store, include_model=False)
    assert rt.texts_of(store, ["1"]) == {"1": "late payment hurts cash flow"}


def test_an_existing_0001_database_upgrades_to_the_review_indexes(tmp_path):
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    from nlp.store import Store

    s = Store(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nlp.store") / "migrations"))
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert s.schema_revision() == "0001"
    s.migrate()
    assert s.schema_revision() == "0006"
    with s.read() as conn:
        assert "ix_codings_coder_response" in {
            i["name"] for i in sa.inspect(conn).get_indexes("codings")}
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert s.schema_revision() == "0001"
    s.close()


def test_theme_filter_with_the_default_status_narrows_to_open_suggestions(store, coded):
    t = coded
    dec.record_decisions(store, "2", [dec.Decision(t[0], "accepted")], coder="ana")
    # t[1] is suggested on 1, 4, 5; answer 2 (reviewed, no t[1] suggestion) is not among them
    assert sorted(walk(store, F(theme_id=t[1]))) == ["1", "4", "5"]
    assert rv.queue_count(store, F(theme_id=t[1])) == 3 < rv.queue_count(store, F())
    dec.record_decisions(store, "4", [dec.Decision(t[1], "accepted", "model", 0.95)],
                        coder="ana")
    assert sorted(walk(store, F(theme_id=t[1]))) == ["1", "5"]
    assert sorted(walk(store, F(theme_id=t[1], coder="ben"))) == ["1", "4", "5"]
    assert walk(store, F(theme_id=t[3])) == []  # never suggested: nothing to review
    # with a band the theme's score is the filter, near misses included
    assert walk(store, F(theme_id=t[2], min_confidence=0.3, max_confidence=0.45)) == ["2"]


def test_relabel_is_one_action_and_one_undo(store, coded):
    t = coded
    dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted")], coder="ana")
    dec.relabel(store, "1", t[1], t[3], coder="ana")
    got = {c.theme_id: c.status for c in store.codings(response_id="1", coder="ana")}
    assert got == {t[0]: "accepted", t[1]: "rejected", t[3]: "accepted"}
    undone = dec.undo_last(store, "ana")
    assert {e["theme_id"] for e in undone} == {t[1], t[3]}
    got = {c.theme_id: c.status for c in store.codings(response_id="1", coder="ana")}
    assert got == {t[0]: "accepted"}  # both halves reverted, the earlier decision kept
    assert store.replay_events() == store.current_state()
    with pytest.raises(ValueError, match="two different themes"):
        dec.relabel(store, "1", t[1], t[1], coder="ana")


def test_relabel_carries_the_spans_over(store, coded):
    t = coded
    dec.record_decisions(store, "1", [dec.Decision(t[1], "accepted", spans=[(0, 12)])],
                        coder="ana")
    dec.relabel(store, "1", t[1], t[2], coder="ana")
    [moved] = store.codings(response_id="1", coder="ana", theme_id=t[2])
    assert moved.spans == ((0, 12),) and moved.span == (0, 12)


def test_span_codings_are_stored_undone_and_validated(store, coded):
    t = coded
    text = "late payment hurts cash flow"
    dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted", spans=[(13, 18), (0, 4)])],
                        coder="ana")
    [c] = store.codings(response_id="1", coder="ana")
    assert c.spans == ((0, 4), (13, 18)) and [text[a:b] for a, b in c.spans] == ["late",
                                                                                "hurts"]
    assert rv.coding_spans(store, "1", t[0], coder="ana") == ((0, 4), (13, 18))
    # a new decision replaces the spans; overlapping ones join; undo restores the old ones
    dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted", spans=[(0, 8), (5, 12)])],
                        coder="ana")
    assert store.codings(response_id="1", coder="ana")[0].spans == ((0, 12),)
    dec.undo_last(store, "ana")
    assert store.codings(response_id="1", coder="ana")[0].spans == ((0, 4), (13, 18))
    assert store.replay_events() == store.current_state()
    # whole-answer codes stay possible
    dec.record_decisions(store, "2", [dec.Decision(t[0], "accepted")], coder="ana")
    assert store.codings(response_id="2", coder="ana")[0].spans == ()
    for bad in ([(5, 5)], [(-1, 3)], [(0, len(text) + 1)], [(0, 2.5)]):
        with pytest.raises(ValueError, match="span"):
            dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted", spans=bad)],
                                coder="ana")
    ctx = rv.review_context(store, rv.find_item(store, "1"))
    assert ctx.spans[t[0]]["ana"] == ((0, 4), (13, 18))


def test_bulk_decisions_are_one_undo(store, coded):
    t = coded
    n = dec.bulk_decisions(store, ["1", "4", "5"], [dec.Decision(t[1], "accepted")], coder="ana")
    assert n == 3 and len(store.codings(coder="ana")) == 3
    assert len(dec.undo_last(store, "ana")) == 3 and store.codings(coder="ana") == []
    with pytest.raises(KeyError):
        dec.bulk_decisions(store, ["1", "nope"], [dec.Decision(t[1], "accepted")], coder="ana")
    assert store.codings(coder="ana") == []  # nothing written
    with pytest.raises(ValueError, match="spans belong to one answer"):
        dec.bulk_decisions(store, ["1"], [dec.Decision(t[1], "accepted", spans=[(0, 1)])],
                          coder="ana")


def test_blind_context_shows_only_the_model_and_my_decisions(store, coded):
    t = coded
    dec.record_decisions(store, "5", [dec.Decision(t[1], "rejected")], coder="ana")
    dec.record_decisions(store, "5", [dec.Decision(t[0], "accepted")], coder="ben")
    item = rv.find_item(store, "5")
    blind = rv.review_context(store, item, coder="ben", blind=True)
    assert blind.decisions == {t[1]: {"model": "suggested"}, t[0]: {"ben": "accepted"}}
    seen = rv.review_context(store, item, coder="ben")
    assert seen.decisions[t[1]] == {"model": "suggested", "ana": "rejected"}
    with pytest.raises(ValueError, match="blind"):
        rv.review_context(store, item, blind=True)
    assert {(c.coder, c.theme_id) for c in rv.visible_codings(store, "5", coder="ben")} == {
        ("model", t[1]), ("ben", t[0])}


def test_code_spans_keeps_the_model_origin(store, coded):
    t = coded
    dec.code_spans(store, "1", t[1], [(0, 12)], coder="ana")  # the model suggested t[1] on 1
    [c] = store.codings(response_id="1", coder="ana")
    assert (c.status, c.origin, c.confidence, c.spans) == ("accepted", "model", 0.7, ((0, 12),))
    dec.code_spans(store, "1", t[3], [(13, 18)], coder="ana")  # not suggested: the coder's own
    assert store.codings(response_id="1", coder="ana", theme_id=t[3])[0].origin == "researcher"


def test_a_bulk_decision_over_many_chunks_is_still_one_undo(store, write):
    from nlp.pipeline import import_file

    body = "".join(f"b{i},answer {i}\n" for i in range(1000))
    import_file(store, write("many.csv", "id,text\n" + body))
    t = store.active_codebook().theme_ids[0]
    ids = [f"b{i}" for i in range(1000)]
    assert dec.bulk_decisions(store, ids, [dec.Decision(t, "rejected")], coder="ana") == 1000
    assert len(dec.undo_last(store, "ana")) == 1000 and store.codings(coder="ana") == []


@pytest.mark.parametrize("probe", [1, 2, 2000])
def test_text_search_gives_the_same_walk_whether_the_probe_finds_it_or_not(store, coded,
                                                                           monkeypatch, probe):
    monkeypatch.setattr(rv, "PROBE_ROWS", probe)  # how far the head-of-queue probe reads
    for order in ("informative", "import"):
        flt = F(status="any", text="PAYMENT", order=order)
        got = walk(store, flt)
        assert sorted(got) == ["1", "5"]
        assert got == [i.response_id for i in rv.queue_page(store, flt, limit=5)]
        assert ids(rv.queue_page(store, flt, offset=1, limit=1)) == got[1:]
        last = rv.find_item(store, got[-1], order=order)
        assert rv.queue_prev(store, flt, before=last.key).response_id == got[0]
    assert walk(store, F(status="any", text="nobody wrote this")) == []
    for flt in (F(min_confidence=0.5, max_confidence=0.8), F(status="any", min_confidence=0.9),
                F(min_confidence=0.5, order="import")):
        got = walk(store, flt)
        assert got == [i.response_id for i in rv.queue_page(store, flt, limit=9)]
        assert set(got) == {c.response_id for c in store.codings(coder="model")
                            if flt.min_confidence <= c.confidence <= (flt.max_confidence or 1)}
