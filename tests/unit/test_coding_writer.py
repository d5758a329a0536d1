"""One writer for codings (issue 26): the model's suggestions, researchers' decisions, undo,
.qdpx imports and codebook restructuring all change codings through
`nlp.store.changes.write_codings`, which logs each change; the event log replays to the
stored codings after each of them."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import nlp
from nlp.pipeline import import_file
from nlp.pipeline import export_qdpx, import_qdpx
from nlp.store import changes
from nlp.store import decisions as dec
from nlp.store import review_themes as rt
from nlp.types import MODEL_CODER, Theme

NLP = Path(nlp.__file__).parent


@pytest.fixture
def calls(monkeypatch):
    """Every call of the writer, wherever a module holds it: (actor, action, changes)."""
    seen: list[tuple[str, str, list[changes.Change]]] = []
    real = changes.write_codings

    def spy(conn, chs, **kw):
        chs = list(chs)
        seen.append((kw["actor"], kw["action"], chs))
        return real(conn, chs, **kw)

    for name, mod in list(sys.modules.items()):  # every nlp module the tests here use
        if name.startswith("nlp.") and getattr(mod, "write_codings", None) is real:
            monkeypatch.setattr(mod, "write_codings", spy)
    return seen


@pytest.fixture
def answers(store, write):
    import_file(store, write("a.csv", "id,text\n1,late payment hurts cash flow\n"
                                      "2,the prime never called us\n3,we subsidise the bid\n"))
    return store.active_codebook().theme_ids


def _consistent(store):
    assert store.replay_events() == store.current_state()


def test_model_suggestions_go_through_the_writer(store, answers, calls):
    t = answers
    store.write_model_codings({"1": {t[0]: 0.9, t[1]: 0.2}, "2": {t[0]: 0.7}},
                              {x: 0.5 for x in t}, model_id="m")
    assert [(a, b) for a, b, _ in calls] == [(MODEL_CODER, "model")]
    assert {c.key for c in calls[0][2]} == {("1", t[0], MODEL_CODER), ("2", t[0], MODEL_CODER)}
    # a score that moved below the cut takes the suggestion back, logged as the model's
    store.write_model_codings({"1": {t[0]: 0.1}}, {x: 0.5 for x in t}, model_id="m")
    assert calls[-1][2] == [changes.Change("1", t[0], MODEL_CODER, None)]
    assert store.events()[-1]["after"] is None and store.events()[-1]["action"] == "model"
    _consistent(store)


def test_decisions_relabels_and_undo_go_through_the_writer(store, answers, calls):
    t = answers
    dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted")], coder="ann")
    dec.relabel(store, "1", t[0], t[1], coder="ann")
    dec.bulk_decisions(store, ["2", "3"], [dec.Decision(t[2], "rejected")], coder="bob")
    dec.undo_last(store, "ann")
    assert [(a, b) for a, b, _ in calls] == [("ann", "set"), ("ann", "set"), ("bob", "bulk"),
                                             ("ann", "undo")]
    assert len(calls[1][2]) == 2  # a relabel is one call: reject one theme, accept another
    _consistent(store)


def test_codebook_restructuring_goes_through_the_writer(store, answers, calls):
    t = answers
    store.write_model_codings({"1": {t[0]: 0.9}}, {x: 0.5 for x in t}, model_id="m")
    dec.record_decisions(store, "1", [dec.Decision(t[0], "accepted")], coder="ann")
    rt.rename_theme(store, t[0], "renamed", actor="ann")
    assert calls[-1][:2] == ("ann", "rename")
    moved = {c.key: c.after for c in calls[-1][2]}
    assert moved[("1", t[0], "ann")] is None and moved[("1", "renamed", "ann")]["status"] \
        == "accepted"
    assert moved[("1", "renamed", MODEL_CODER)]["confidence"] == pytest.approx(0.9)
    rt.merge_themes(store, ["renamed", t[1]], Theme("both", "Both", "either"), actor="ann")
    assert calls[-1][:2] == ("ann", "merge")
    _consistent(store)


def test_qdpx_import_goes_through_the_writer(store, answers, calls, tmp_path):
    t = answers
    dec.record_decisions(store, "2", [dec.Decision(t[1], "accepted")], coder="cy")
    out = export_qdpx(store, tmp_path / "p.qdpx", anonymise=False)
    from nlp.codebook import load_codebook
    from nlp.store import Store

    other = Store("sqlite://")
    other.migrate()
    other.add_codebook(load_codebook())
    calls.clear()
    try:
        import_qdpx(other, out)
        assert ("cy", "set") in [(a, b) for a, b, _ in calls]
        assert other.codings(coder="cy")[0].theme_id == t[1]
        _consistent(other)
    finally:
        other.close()


def test_only_the_writer_writes_codings_or_events():
    """No statement outside nlp/store/changes.py inserts, updates or deletes codings or
    events (the event log and the table cannot drift apart)."""
    pat = re.compile(r"(insert|update|delete)\((codings|events)\)|\b(codings|events)\."
                     r"(insert|update|delete)\(|(INSERT INTO|UPDATE|DELETE FROM) (codings|events)\b")
    hits = [f"{p.relative_to(NLP.parent)}:{i}" for p in sorted(NLP.rglob("*.py"))
            if p != NLP / "store" / "changes.py" and "migrations" not in p.parts
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pat.search(line)]
    assert not hits, hits
    assert pat.search("conn.execute(sa.insert(codings), rows)")  # the pattern can match
