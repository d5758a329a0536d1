"""Per-theme log-odds shifts from confirmed examples, shrunk by empirical Bayes."""
import numpy as np
import pytest
from sklearn.base import clone

from classifydata import three_themes
from nlp.classify.intercepts import theme_intercepts
from nlp.classify.learning import Learning
from nlp.classify.model import ThemeClassifier
from nlp.embed import FakeEmbedder

CB = three_themes(examples=False)
WORDS = {"money": "funding budget reserves cost price money".split(),
         "talk": "communication reply email told contact".split(),
         "kids": "children young people families school".split()}
FILLER = "the a we our they met hall day week area group".split()


def _answers(n, seed):
    """n synthetic answers, each theme's words in about a third of them."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        themes = [t for t in WORDS if rng.random() < 0.35]
        toks = list(rng.choice(FILLER, 6)) + [w for t in themes for w in rng.choice(WORDS[t], 3)]
        rng.shuffle(toks)
        texts.append(" ".join(toks))
        labels.append(themes)
    return texts, labels


def _counts(n, ones):
    """(n, k) decisions with `ones[t]` ones in column t."""
    return np.column_stack([np.r_[np.ones(o), np.zeros(n - o)] for o in ones])


def test_deviations_within_chance_move_nothing():
    # the model says 0.5 everywhere; the examples hold 9-11 of 20: chance, tau^2 = 0
    shift, tau2 = theme_intercepts(np.zeros((20, 5)), _counts(20, [10, 9, 11, 10, 11]))
    assert tau2 == 0.0
    np.testing.assert_allclose(shift, 0.0)


def test_a_theme_clearly_off_moves_nearly_all_the_way_and_the_others_little():
    L = np.zeros((20, 5))
    L[:, 0] = -3.0  # the model gives theme 0 about 5%; the examples have it 18 times of 20
    shift, tau2 = theme_intercepts(L, _counts(20, [18, 9, 11, 10, 11]))
    assert tau2 > 0
    mle = -np.log(2 / 18) + 3.0  # log-odds of 18/20 minus the model's -3
    assert 0.7 * mle < shift[0] < mle
    # 9, 11, 10 and 11 of 20: each shrunk towards 0 from its own estimate, signs kept
    own = np.log(np.array([9, 11, 10, 11]) / np.array([11, 9, 10, 9]))
    assert (np.abs(shift[1:]) <= np.abs(own) + 1e-12).all() and (np.abs(shift[1:]) < 0.21).all()
    assert (np.sign(shift[1:]) == np.sign(own)).all()


def test_no_examples_or_themes_give_no_shift():
    assert theme_intercepts(np.zeros((0, 3)), np.zeros((0, 3)))[0].tolist() == [0, 0, 0]
    assert theme_intercepts(np.zeros((4, 0)), np.zeros((4, 0)))[0].shape == (0,)


def test_the_classifier_shifts_a_theme_its_examples_hold_far_more_often():
    texts, labels = _answers(30, seed=0)
    labels = [sorted({"money", *ts}) for ts in labels]  # every example coded money
    consultation, _ = _answers(20, seed=3)
    on = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels) \
        .calibrate(consultation)
    off = clone(on).set_params(intercepts=False).fit(texts, labels).calibrate(consultation)
    moved = on.offset_ - off.offset_
    assert moved[0] > 0.5 and (moved[0] > moved[1:]).all()
    assert (on.predict_proba(consultation)[:, 0] > off.predict_proba(consultation)[:, 0]).all()
    # from MIN_STACK examples the stacked combiners and refitted prior take over: no shift
    stack_now = Learning(min_stack=len(texts))
    many_on = clone(on).set_params(learning=stack_now).fit(texts, labels).calibrate(consultation)
    many_off = clone(off).set_params(learning=stack_now).fit(texts, labels) \
        .calibrate(consultation)
    np.testing.assert_allclose(many_on.offset_, many_off.offset_)


@pytest.mark.parametrize("flag", [True, False])
def test_the_setting_is_a_parameter(flag):
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), intercepts=flag)
    assert clf.get_params()["intercepts"] is flag
