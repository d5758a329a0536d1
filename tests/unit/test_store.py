"""Store round trips, the event log, undo, and import atomicity."""
import pytest
import sqlalchemy as sa

from nlp.errors import CodebookError, InputError
from nlp.pipeline import import_file
from nlp.project import init_project, open_project
from nlp.codebook import loads_codebook
from nlp.store import decisions as dec


def _import(store, write, n=3):
    body = "".join(f"{i},answer number {i} about the tender\n" for i in range(1, n + 1))
    return import_file(store, write("s.csv", "id,text\n" + body))


def test_response_round_trip(store, write):
    _import(store, write)
    c = store.corpus()
    assert c.ids == ["1", "2", "3"] and c[0].source == "s.csv" and c[0].location == 2
    assert store.response("2").text == "answer number 2 about the tender"


def test_codebook_versions(store):
    cb = store.active_codebook()
    assert cb.name == "vcs-commissioning"
    other = loads_codebook("name: x\nversion: 1\nthemes: [{id: a, label: A, definition: d}]")
    store.add_codebook(other)
    assert store.active_codebook().theme_ids == ["a"]
    with pytest.raises(CodebookError, match="new version number"):
        store.add_codebook(loads_codebook(
            "name: x\nversion: 1\nthemes: [{id: b, label: B, definition: d}]"))
    assert len(store.codebook_versions()) == 2


def test_decisions_log_events_and_undo_restores(store, write):
    _import(store, write)
    dec.record_decisions(store, "1", [dec.Decision("bid_candy", "accepted", "model", 0.8)],
                        coder="ana")
    dec.record_decisions(store, "1", [dec.Decision("bid_candy", "rejected", "model")],
                        coder="ana")
    [c] = store.codings(response_id="1")
    assert (c.status, c.coder) == ("rejected", "ana")
    evs = store.events()
    assert [e["before"] for e in evs] == [None, {"origin": "model", "status": "accepted",
                                                 "confidence": 0.8}]
    [undone] = dec.undo_last(store, "ana")
    assert undone["id"] == evs[1]["id"]
    assert store.codings(response_id="1")[0].status == "accepted"
    dec.undo_last(store, "ana")
    assert store.codings(response_id="1") == []
    assert dec.undo_last(store, "ana") == []
    assert store.replay_events() == store.current_state() == {}


def test_undo_is_per_actor(store, write):
    _import(store, write)
    dec.record_decisions(store, "1", [dec.Decision("bid_candy", "accepted")], coder="ana")
    dec.record_decisions(store, "2", [dec.Decision("bid_candy", "accepted")], coder="ben")
    dec.undo_last(store, "ana")
    assert [(c.response_id, c.coder) for c in store.codings()] == [("2", "ben")]


def test_decisions_validate(store, write):
    _import(store, write)
    with pytest.raises(ValueError, match="not in the project's codebook"):
        dec.record_decisions(store, "1", [dec.Decision("nope", "accepted")], coder="ana")
    with pytest.raises(ValueError, match="status"):
        dec.record_decisions(store, "1", [dec.Decision("bid_candy", "maybe")], coder="ana")
    with pytest.raises(ValueError, match="origin"):
        dec.record_decisions(store, "1", [dec.Decision("bid_candy", "accepted", "x")],
                            coder="ana")
    with pytest.raises(KeyError):
        dec.record_decisions(store, "zz", [dec.Decision("bid_candy", "accepted")], coder="ana")
    assert store.events() == []


def test_model_codings_never_touch_researchers(store, write):
    _import(store, write)
    dec.record_decisions(store, "1", [dec.Decision("bid_candy", "rejected", "model")],
                        coder="ana")
    n = store.write_model_codings(
        {"1": {"bid_candy": 0.9, "poor_communication": 0.1}, "2": {"bid_candy": 0.7}},
        {"bid_candy": 0.5, "poor_communication": 0.5}, model_id="m1")
    assert n == 2
    assert {(c.response_id, c.coder, c.status) for c in store.codings()} == {
        ("1", "ana", "rejected"), ("1", "model", "suggested"), ("2", "model", "suggested")}
    # A new run that drops a suggestion removes it, and the log replays to the same state.
    store.write_model_codings({"2": {"bid_candy": 0.2}}, {"bid_candy": 0.5}, model_id="m2")
    assert not store.codings(response_id="2")
    assert store.replay_events() == store.current_state()
    assert store.predictions(["1"])["1"]["bid_candy"] == 0.9


def test_model_decisions_and_evidence_spans_are_stored(store, write):
    _import(store, write)
    store.write_model_codings(
        {"1": {"bid_candy": 0.3, "poor_communication": 0.25}, "2": {"bid_candy": 0.9}},
        {"bid_candy": 0.5, "poor_communication": 0.5}, model_id="m1",
        suggested={"1": ["bid_candy"], "2": []}, evidence={("1", "bid_candy"): (4, 20)})
    got = {(c.response_id, c.theme_id): c.span for c in store.codings(coder="model")}
    assert got == {("1", "bid_candy"): (4, 20)}  # the model's decisions, not a fixed cut
    store.write_model_codings({"1": {"bid_candy": 0.4}}, {}, model_id="m2",
                              suggested={"1": ["bid_candy"]}, evidence={})
    assert store.codings(coder="model")[0].span is None  # re-coded: the span follows


def test_reimport_adds_nothing(store, write):
    s1 = _import(store, write)
    s2 = _import(store, write)
    assert (s1.imported, s2.imported, s2.skipped_present) == (3, 0, 3)
    assert s2.source_already_present
    # The same rows in a new file are skipped row by row; new rows are added.
    p = write("more.csv", "id,text\n1,answer number 1 about the tender\n9,a new answer here\n")
    s3 = import_file(store, p)
    assert (s3.imported, s3.skipped_present) == (1, 1)


def test_conflicting_id_fails_whole_file(store, write):
    _import(store, write)
    before = store.dump()
    # One id with its stored text, one with another: an edited export of the same answers
    # (a file numbering its own answers, with other texts under most ids, is re-keyed).
    p = write("c.csv", "id,text\n1,answer number 1 about the tender\n"
                       "2,a different text for id two\n")
    with pytest.raises(InputError, match=r"c\.csv, row 3: id '2' is already in the project"):
        import_file(store, p)
    assert store.dump() == before


def test_import_is_atomic_when_insert_fails_midway(store, write, monkeypatch):
    _import(store, write)
    before = store.dump()
    from nlp import store as store_mod

    real = store_mod.Store.add_responses

    def explode(self, conn, rows, source_id):
        real(self, conn, list(rows)[:1], source_id)  # some rows really written...
        raise RuntimeError("disk full")              # ...then the failure

    monkeypatch.setattr(store_mod.Store, "add_responses", explode)
    with pytest.raises(RuntimeError):
        import_file(store, write("n.csv", "id,text\n70,one new answer\n71,two new answer\n"))
    assert store.dump() == before


def test_project_init_open_and_wal(tmp_path):
    p = init_project(tmp_path / "proj")
    assert (tmp_path / "proj" / "project.db").exists()
    with p.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert p.store.schema_revision() == "0006"
    p.close()
    sub = tmp_path / "proj" / "a" / "b"
    sub.mkdir(parents=True)
    q = open_project(sub)
    assert q.root == (tmp_path / "proj").resolve()
    assert q.store.active_codebook().name == "vcs-commissioning"
    q.close()


def test_migration_0004_backfills_spans_and_theme_scores(tmp_path):
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    from nlp.store import Store

    s = Store(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nlp.store") / "migrations"))
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.exec_driver_sql("INSERT INTO responses (response_id, text, text_hash, meta) "
                             "VALUES ('r1', 'late payment hurts', 'h', '{}')")
        conn.exec_driver_sql("INSERT INTO predictions VALUES ('r1', 'm', "
                             "'{\"a\": 0.25, \"b\": 0.75}', 0.5, '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO codings (response_id, theme_id, coder, origin, status,"
                             " confidence, updated_at, span_start, span_end) VALUES ('r1', 'b',"
                             " 'model', 'model', 'suggested', 0.75, '2026-01-01 00:00:00', 0, 4)")
    s.migrate()
    assert s.schema_revision() == "0006"
    with s.read() as conn:
        assert sorted(conn.exec_driver_sql("SELECT theme_id, score FROM theme_scores")) == [
            ("a", 0.25), ("b", 0.75)]
        tables = set(sa.inspect(conn).get_table_names())
        assert conn.exec_driver_sql("SELECT spans FROM codings").scalar() == "[[0,4]]"
    assert {"memos", "theme_scores", "settings"} <= tables and "processed" not in tables
    [c] = s.codings()
    assert c.spans == ((0, 4),) and c.span == (0, 4)
    with s.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert s.schema_revision() == "0003"
    s.close()


def test_settings_round_trip(store):
    assert store.get_setting("x", 3) == 3
    store.set_setting("x", {"a": [1, 2]})
    store.set_setting("x", {"a": [2]})
    assert store.get_setting("x") == {"a": [2]}
