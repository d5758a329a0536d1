"""Inter-coder agreement: kappa and alpha against reference values, degenerate cases, and
the disagreements listed."""
import math

import numpy as np
import pytest

from nlp.classify.agreement import agreement, cohen_kappa, krippendorff_alpha
from nlp.pipeline import project_agreement


def test_cohen_kappa_matches_the_textbook_value():
    # 2x2 table a=20 (yes,yes) b=5 (yes,no) c=10 (no,yes) d=15: po=0.7, pe=0.5 -> 0.4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    from sklearn.metrics import cohen_kappa_score
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_cohen_kappa_undefined_cases():
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # chance agreement is 1
    assert cohen_kappa([1, 0], [1]) is None
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)


def test_krippendorff_alpha_reference_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example
    # with missing values: alpha = 0.743.
    nan = np.nan
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ])
    assert krippendorff_alpha(data) == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(np.array([[1, 1, 1], [1, 1, 1]])) is None  # one value only
    assert krippendorff_alpha(np.array([[1, nan], [nan, 0]])) is None  # nothing pairable


def test_agreement_per_theme_and_disagreements():
    units = {
        "ana": {"r1": frozenset({"a"}), "r2": frozenset(), "r3": frozenset({"a", "b"}),
                "r9": frozenset({"b"})},
        "ben": {"r1": frozenset({"a"}), "r2": frozenset({"a"}), "r3": frozenset({"b"})},
        "model": {"r1": frozenset({"a"}), "r2": frozenset(), "r3": frozenset({"a"}),
                  "r4": frozenset({"a"})},
    }
    rep = agreement(units, ["a", "b"])
    assert rep.coders == ("ana", "ben", "model") and rep.units == 3  # r4, r9 coded once
    a, b = rep.themes
    assert a.units == 3 and a.percent == pytest.approx(1 / 3)
    assert set(a.kappa) == {("ana", "ben"), ("ana", "model"), ("ben", "model")}
    assert a.kappa[("ana", "model")] == pytest.approx(1.0)
    assert a.alpha is not None and -1 <= a.alpha <= 1
    assert b.kappa[("ana", "ben")] == pytest.approx(1.0)  # both applied b on r3 alone
    assert {(d.response_id, d.theme_id) for d in rep.disagreements} == {
        ("r2", "a"), ("r3", "a"), ("r3", "b")}
    d = next(d for d in rep.disagreements if d.response_id == "r2")
    assert d.applied_by == ("ben",) and d.not_applied_by == ("ana", "model")


def test_agreement_with_one_coder_is_empty():
    rep = agreement({"ana": {"r1": frozenset({"a"})}}, ["a"])
    assert rep.units == 0 and rep.themes == () and rep.disagreements == ()
    assert rep.unused == ("a",) and rep.bootstrap == 0


def test_themes_nobody_applied_are_reported_apart():
    units = {"ana": {"r1": frozenset({"a"}), "r2": frozenset()},
             "ben": {"r1": frozenset({"a"}), "r2": frozenset()}}
    rep = agreement(units, ["a", "b", "c"])
    assert [t.theme_id for t in rep.themes] == ["a"] and rep.unused == ("b", "c")
    assert rep.themes[0].applied == 1


def test_binary_alpha_from_unit_sums_matches_the_reference():
    from nlp.classify.agreement import _alpha_from_sums, _alpha_parts

    rng = np.random.default_rng(3)
    for _ in range(20):
        m = rng.integers(0, 2, size=(3, 40)).astype(float)
        m[rng.random(m.shape) < 0.3] = np.nan
        want = krippendorff_alpha(m)
        got = float(_alpha_from_sums(*(p.sum() for p in _alpha_parts(m))))
        assert (want is None and math.isnan(got)) or got == pytest.approx(want)


def test_bootstrap_intervals_hold_the_estimate_and_repeat_by_seed():
    rng = np.random.default_rng(0)
    truth = rng.random(200) < 0.3
    noisy = truth ^ (rng.random(200) < 0.15)
    units = {"ana": {f"r{i}": frozenset({"a"} if t else ()) for i, t in enumerate(truth)},
             "ben": {f"r{i}": frozenset({"a"} if t else ()) for i, t in enumerate(noisy)}}
    rep = agreement(units, ["a"], bootstrap=500, seed=1)
    [a] = rep.themes
    ref = np.array([truth, noisy], dtype=float)
    assert a.alpha == pytest.approx(krippendorff_alpha(ref))
    assert a.kappa[("ana", "ben")] == pytest.approx(cohen_kappa(truth.astype(int),
                                                                noisy.astype(int)))
    lo, hi = a.alpha_ci
    assert lo < a.alpha < hi and 0.05 < hi - lo < 0.5
    klo, khi = a.kappa_ci[("ana", "ben")]
    assert klo < a.kappa[("ana", "ben")] < khi
    assert agreement(units, ["a"], bootstrap=500, seed=1).themes[0].alpha_ci == (lo, hi)
    wider = agreement(units, ["a"], bootstrap=500, seed=1, level=0.99).themes[0].alpha_ci
    assert wider[0] < lo and wider[1] > hi
    assert agreement(units, ["a"], bootstrap=0).themes[0].alpha_ci is None


def test_project_agreement_reads_the_store(store, write):
    from nlp.pipeline import import_file
    from nlp.store.decisions import Decision, record_decisions

    import_file(store, write("a.csv", "id,text\n1,one answer\n2,another answer\n"))
    t = store.active_codebook().theme_ids
    store.write_model_codings({"1": {t[0]: 0.9}, "2": {t[0]: 0.1}}, {t[0]: 0.5},
                              model_id="m")
    record_decisions(store, "1", [Decision(t[0], "accepted")], coder="ana")
    record_decisions(store, "2", [Decision(t[0], "accepted")], coder="ana")
    rep = project_agreement(store)
    assert rep.coders == ("ana", "model") and rep.units == 2
    first = rep.themes[0]
    assert first.percent == 0.5 and math.isclose(first.kappa[("ana", "model")] or 0, 0.0)
    assert [(d.response_id, d.applied_by) for d in rep.disagreements] == [("2", ("ana",))]
    assert project_agreement(store, include_model=False).units == 0
