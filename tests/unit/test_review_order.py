"""The review order (issue 24, items 3-4): every unreviewed answer ranked once, uncertain and
diverse first, themes with few confirmations before well-covered ones, one in five a random
check; the audit estimate from those checks and its interval's coverage; the store's queue
following the order and keeping the checks."""
import numpy as np
import pytest

from nlp.classify.active import AUDIT_EVERY, informativeness, review_order
from nlp.classify.audit import estimate
from nlp.store import decisions as dec
from nlp.store import review as rv
from nlp.store.review_order import decided_checks, is_random_check, write_review_order


def _random_case(n=300, k=6, seed=0):
    rng = np.random.default_rng(seed)
    proba = rng.beta(0.6, 2.5, (n, k))
    emb = rng.normal(size=(n, 16))
    return proba, np.full(k, 0.4), emb


def test_every_unreviewed_answer_is_ranked_once_and_reviewed_ones_never():
    proba, thr, emb = _random_case()
    reviewed = np.zeros(len(proba), bool)
    reviewed[[3, 50, 299]] = True
    ro = review_order(proba, thr, emb, reviewed=reviewed, pool=40)  # pool < n: both parts
    assert sorted(ro.order.tolist()) == sorted(set(range(300)) - {3, 50, 299})
    ranks = ro.ranks(300)
    assert ranks[[3, 50, 299]].tolist() == [0, 0, 0]
    assert sorted(ranks[ranks > 0].tolist()) == list(range(1, 298))
    # Every AUDIT_EVERY-th place is a random check, and only those.
    assert np.flatnonzero(ro.audit).tolist() == list(range(AUDIT_EVERY - 1, 297, AUDIT_EVERY))
    assert not review_order(proba, thr, emb, audit_every=0).audit.any()
    everything = review_order(proba, thr, emb, reviewed=np.ones(300, bool))
    assert len(everything.order) == 0


def test_the_order_is_deterministic_and_the_checks_follow_the_seed():
    proba, thr, emb = _random_case(seed=1)
    a, b = review_order(proba, thr, emb, seed=4), review_order(proba, thr, emb, seed=4)
    assert a.order.tolist() == b.order.tolist() and a.audit.tolist() == b.audit.tolist()
    c = review_order(proba, thr, emb, seed=5)
    assert a.order[~a.audit][:3].tolist() == c.order[~c.audit][:3].tolist()  # same head
    assert a.order[a.audit].tolist() != c.order[c.audit].tolist()  # other random checks


def test_random_checks_are_drawn_uniformly():
    proba, thr, emb = _random_case(n=50, seed=2)
    counts = np.zeros(50)
    for seed in range(400):
        ro = review_order(proba, thr, emb, seed=seed)
        counts[ro.order[AUDIT_EVERY - 1]] += 1  # the first check
    # The first check is uniform over the 46 answers not placed before it: none is favoured
    # (the most informative are placed first, so they are never drawn).
    drawn = counts[counts > 0]
    assert len(drawn) >= 40 and drawn.max() < 30


def test_uncertain_unlike_answers_come_first():
    thr = np.array([0.5, 0.5])
    proba = np.array([[0.5, 0.0], [0.5, 0.0], [0.45, 0.0], [0.95, 0.0], [0.05, 0.0]])
    emb = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1.0]])
    order = review_order(proba, thr, emb, audit_every=0).order.tolist()
    # 0 and 1 are equally doubtful but alike: the next pick is the unlike answer 2.
    assert order[:3] == [0, 2, 1]
    assert set(order[3:]) == {3, 4}


def test_themes_with_few_confirmations_come_first():
    thr = np.array([0.5, 0.5])
    proba = np.array([[0.5, 0.0], [0.0, 0.5], [0.0, 0.0]])
    emb = np.eye(3)
    # Theme 0 has 40 confirmations, theme 1 none: the answer in doubt on theme 1 goes first.
    order = review_order(proba, thr, emb, confirmed=np.array([40, 0]), audit_every=0).order
    assert order.tolist()[:2] == [1, 0]
    order = review_order(proba, thr, emb, confirmed=np.array([0, 40]), audit_every=0).order
    assert order.tolist()[:2] == [0, 1]
    assert informativeness(proba, thr, np.array([40, 0]))[1] > \
        informativeness(proba, thr, np.array([40, 0]))[0]


# -- the audit estimate ------------------------------------------------------------------------
def _population(rng, n=300, k=12):
    prev = np.clip(rng.dirichlet(np.full(k, 0.7)) * 1.6, 0, 0.9)
    gold = rng.random((n, k)) < prev
    hard = rng.beta(2, 5, n)  # some answers are much harder than others
    model = gold ^ (rng.random((n, k)) < hard[:, None] * np.where(gold, 0.8, 0.08))
    return [set(np.flatnonzero(r)) for r in model], [set(np.flatnonzero(r)) for r in gold]


def _micro(m, g):
    return sum(2 * len(a & b) for a, b in zip(m, g)) / sum(len(a) + len(b) for a, b in zip(m, g))


def test_the_audit_interval_covers_the_real_agreement_at_least_90_percent_of_the_time():
    """Simulated reviews: random checks from a consultation whose model errs unevenly (some
    answers far harder than others); the truth is the model's micro-F1 on the answers not
    checked."""
    rng = np.random.default_rng(24)
    hits = total = 0
    for checks in (10, 25, 60):
        for _ in range(100):
            m, g = _population(rng)
            idx = rng.choice(len(m), checks, replace=False)
            rest = np.setdiff1d(np.arange(len(m)), idx)
            e = estimate([m[i] for i in idx], [g[i] for i in idx])
            truth = _micro([m[i] for i in rest], [g[i] for i in rest])
            assert e.low is not None and e.low <= e.agreement <= e.high
            hits += e.low <= truth <= e.high
            total += 1
    assert hits / total >= 0.90, hits / total


def test_the_audit_estimate_in_words():
    e = estimate([{"a"}, {"a", "b"}, set(), {"c"}], [{"a"}, {"a"}, {"b"}, {"c"}])
    assert e.checks == 4 and e.agreement == pytest.approx(2 * 3 / (4 + 4))
    s = e.sentence()
    assert "agree with your coding on an estimated 75% of themes" in s
    assert "from 4 random checks" in s and "more would narrow it to ±5 points" in s
    assert estimate([], []).agreement is None
    assert "Not enough random checks" in estimate([], []).sentence()
    perfect = estimate([{"a"}] * 30, [{"a"}] * 30)
    assert perfect.agreement == 1.0 and 0.85 < perfect.low < 1.0 and perfect.high == 1.0


# -- the store: the queue follows the order; checks kept once decided ---------------------------
@pytest.fixture
def scored(store, write):
    from nlp.pipeline import import_file

    import_file(store, write("a.csv", "id,text\n" + "".join(f"{i},answer number {i}\n"
                                                             for i in range(1, 9))))
    t = store.active_codebook().theme_ids
    scores = {str(i): {t[0]: 0.1 * i, t[1]: 0.9 - 0.1 * i} for i in range(1, 9)}
    store.write_model_codings(scores, {x: 0.5 for x in t}, model_id="m",
                              uncertainty={str(i): 0.1 * i for i in range(1, 9)})
    return t


def _walk(store, flt=rv.QueueFilter()):
    out, item = [], rv.queue_next(store, flt)
    while item is not None:
        out.append(item.response_id)
        item = rv.queue_next(store, flt, after=item.key)
    return out


def test_the_queue_follows_the_stored_review_order(store, scored):
    assert _walk(store) == ["8", "7", "6", "5", "4", "3", "2", "1"]  # uncertainty until ranked
    ranks = {"3": 1, "1": 2, "8": 3, "2": 4, "5": 5, "4": 6, "7": 7, "6": 8}
    write_review_order(store, ranks, ["5"], model_id="m")
    assert _walk(store) == ["3", "1", "8", "2", "5", "4", "7", "6"]
    second = rv.queue_next(store, rv.QueueFilter(), after=rv.queue_next(store, rv.QueueFilter()).key)
    assert rv.queue_prev(store, rv.QueueFilter(), before=second.key).response_id == "3"
    assert [i.response_id for i in rv.queue_page(store, rv.QueueFilter(), offset=2, limit=2)] \
        == ["8", "2"]
    assert is_random_check(store, "5") and not is_random_check(store, "3")
    # The researcher decides on 3 and on the check 5; a new order drops 3 and draws anew.
    dec.record_decisions(store, "3", [dec.Decision(scored[0], "accepted")], coder="ana")
    dec.record_decisions(store, "5", [dec.Decision(scored[1], "accepted")], coder="ana")
    write_review_order(store, {"4": 1, "6": 2, "1": 3, "2": 4, "7": 5, "8": 6}, ["7"],
                       model_id="m2")
    assert _walk(store)[:6] == ["4", "6", "1", "2", "7", "8"]
    assert is_random_check(store, "5") and is_random_check(store, "7")
    got = decided_checks(store, scored)
    assert [(rid, sorted(r)) for rid, _, r in got] == [("5", [scored[1]])]
    # The model's suggestions on 5 as they were when it was drawn (0.5 and 0.4: the first).
    assert got[0][1] == [scored[0]]


def test_the_report_states_the_audit_estimate(tmp_path):
    from nlp.pipeline import import_file
    from nlp.project import init_project
    from nlp.pipeline import build_report_data
    from nlp.report.prose import _method

    p = init_project(tmp_path / "p")
    f = tmp_path / "a.csv"
    f.write_text("id,text\n" + "".join(f"r{i},answer {i}\n" for i in range(8)), encoding="utf-8")
    import_file(p.store, f)
    t = p.store.active_codebook().theme_ids
    p.store.write_model_codings({f"r{i}": {t[0]: 0.8, t[1]: 0.2} for i in range(8)},
                                {x: 0.5 for x in t}, model_id="m")
    write_review_order(p.store, {f"r{i}": i + 1 for i in range(8)}, ["r1", "r2", "r3"],
                       model_id="m")
    assert build_report_data(p, anonymiser=lambda x: x).audit == ""  # none decided yet
    for rid, tid in (("r1", t[0]), ("r2", t[0]), ("r3", t[1])):
        dec.record_decisions(p.store, rid, [dec.Decision(tid, "accepted")], coder="ana")
    data = build_report_data(p, anonymiser=lambda x: x)
    # Model: t0 on all three; researcher: t0, t0, t1 -> micro-F1 2*2 / (3 + 3).
    assert "estimated 67% of themes" in data.audit and "from 3 random checks" in data.audit
    assert data.estimated and any("from 3 random checks" in s for s in _method(data))
    p.close()


def test_coding_a_project_stores_a_review_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NLP_EMBEDDER", "fake:64")
    from nlp.pipeline import code_project
    from nlp.pipeline import import_file
    from nlp.project import init_project

    p = init_project(tmp_path / "p")
    f = tmp_path / "a.csv"
    texts = ["late payment hurts", "nobody called us back", "the tender was huge",
             "we subsidise the contract", "no reply to emails", "grants not contracts",
             "small charities lose out", "local services matter", "the process was heavy",
             "payment came months late", "our reserves paid", "they never told us"]
    f.write_text("id,text\n" + "".join(f"r{i},{x}\n" for i, x in enumerate(texts)),
                 encoding="utf-8")
    import_file(p.store, f)
    code_project(p, model_dir="none")
    order = _walk(p.store)
    assert sorted(order) == sorted(f"r{i}" for i in range(12))
    assert sum(is_random_check(p.store, r) for r in order) == 12 // AUDIT_EVERY
    first = order[0]
    dec.record_decisions(p.store, first, [dec.Decision(p.store.active_codebook().theme_ids[0],
                                                     "accepted")], coder="ana")
    code_project(p, model_dir="none", recode_all=True)
    again = _walk(p.store)
    assert first not in again and len(again) == 11  # the reviewed answer leaves the queue
    p.close()
