"""ThemeClassifier as a scikit-learn estimator: the library's own checks, and its parts as
parameters (every ablation a clone with other parameters, no module state)."""
import types

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from classifydata import three_themes
from nlp.classify import _maths, encoded, learning, lexical, model, prior, prototypes, rule
from nlp.classify.model import (DecisionRule, Learning, LexicalPrior, Prototypes,
                                ThemeClassifier)
from nlp.embed import FakeEmbedder

# The checks run on the codebook-free configuration (no embedder: X is embeddings, the
# themes are y's classes or columns, each theme's prototype the mean of its examples).
RELATIVE = ("the prior's statistics (centre, per-theme mean and spread) are the batch's own "
            "until the model is calibrated on a consultation: scores are relative to the "
            "answers coded together, by design")
LABELS = ("multi-label: predict returns an (n, k) indicator matrix of themes, not one class "
          "label per row, and there is no classes_ (the themes are theme_ids_)")
EXPECTED_FAILED = {
    "check_classifiers_one_label": LABELS,
    "check_classifiers_classes": LABELS,
    "check_classifiers_train": LABELS,
    "check_supervised_y_2d": "a 2-d y is a theme indicator matrix (one column a theme), not a "
                             "column vector of labels",
    "check_classifier_multioutput": "decisions follow the relative rule (per-theme floors, a "
                                    "margin to the answer's best theme, at most three), not "
                                    "predict_proba >= 0.5",
    "check_methods_sample_order_invariance": RELATIVE + " (float32 means: order moves "
                                                        "probabilities by ~1e-7)",
    "check_methods_subset_invariance": RELATIVE,
}


@parametrize_with_checks([ThemeClassifier()], expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


CB = three_themes(question="What went wrong?")
TEXTS = ["we used our reserves because the price was below cost",
         "the budget was cut and funding ran out", "nobody replied to our email",
         "no contact and no reply from the commissioner", "families and children lost support",
         "services for children and young people in school", "the weather was nice",
         "the funding was cut and nobody told us", "we met in the hall on tuesday",
         "young people and families at school", "we emailed three times with no reply",
         "reserves paid for the service and the price was too low",
         "The budget was cut. Nobody replied to our email. The children lost their club."]


def cold(**params):
    return ThemeClassifier(codebook=CB, embedder=FakeEmbedder(64), **params)


def test_each_part_is_a_parameter_that_clone_and_set_params_carry():
    base = cold()
    names = base.get_params(deep=False)
    assert {"prototypes", "lexical", "learning", "rule"} <= set(names)
    variant = clone(base).set_params(rule=DecisionRule(margin_z=1e9),
                                     prototypes=Prototypes(centre=False))
    assert base.rule is None and variant.rule.margin_z == 1e9
    deep = variant.get_params(deep=True)
    assert deep["rule__margin_z"] == 1e9 and deep["prototypes__centre"] is False
    variant.set_params(rule__max_themes=1)  # a nested parameter of a given part
    assert variant.rule.max_themes == 1 and variant.rule.margin_z == 1e9
    assert clone(variant).get_params(deep=True)["rule__max_themes"] == 1


@pytest.mark.parametrize("params", [
    {"prototypes": Prototypes(centre=False)}, {"prototypes": Prototypes(zscore=False)},
    {"prototypes": Prototypes(sentence_weight=1.0)},
    {"prototypes": Prototypes(include_weight=0.0)},
    {"prototypes": Prototypes(exclude_weight=0.0)}, {"lexical": LexicalPrior(weight=0.0)},
    {"share_weight": 0.0}])
def test_an_ablation_changes_the_clone_and_leaves_the_model_as_it_was(params):
    base = cold().fit().calibrate(TEXTS)
    before = base.predict_proba(TEXTS)
    off = clone(base).set_params(**params).fit().calibrate(TEXTS)
    assert not np.allclose(off.predict_proba(TEXTS), before)
    np.testing.assert_array_equal(base.predict_proba(TEXTS), before)
    # the default part given explicitly is the same model
    part = next(iter(params))
    same = clone(base).set_params(**{part: type(params[part])()}) if part != "share_weight" \
        else clone(base)
    np.testing.assert_allclose(same.fit().calibrate(TEXTS).predict_proba(TEXTS), before)


def test_the_rule_is_a_part_no_relative_rule_suggests_more():
    proba = cold().fit().calibrate(TEXTS).predict_proba(TEXTS)
    strict = cold().fit().calibrate(TEXTS)
    loose = cold(rule=DecisionRule(margin_z=1e9, max_themes=3)).fit().calibrate(TEXTS)
    assert loose.decide(proba).sum() >= strict.decide(proba).sum()
    one = cold(rule=DecisionRule(max_themes=1)).fit().calibrate(TEXTS)
    assert (one.decide(proba).sum(1) == 1).all()  # at least one and at most one


def test_without_prevalence_the_examples_shares_do_not_move_the_prior():
    labels = [["money"]] * len(TEXTS)  # every example money: far from the prior's shares
    # (the per-theme shifts, nlp.classify.intercepts, off: this is the share correction alone)
    on = cold(propagate_weight=0.0, intercepts=False).fit(TEXTS, labels).calibrate(TEXTS)
    off = clone(on).set_params(learning=Learning(prevalence=False)).fit(TEXTS, labels) \
        .calibrate(TEXTS)
    assert not off.offset_.any() and on.offset_[0] > 0


def test_codebook_free_configuration_learns_themes_from_vectors():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    X = np.vstack([c + 0.1 * rng.normal(size=(20, 16)) for c in centres])
    Y = np.repeat(np.eye(3, dtype=int), 20, axis=0)
    clf = ThemeClassifier().fit(X, Y)
    assert clf.theme_ids_ == ["0", "1", "2"] and clf.n_features_in_ == 16
    assert (clf.predict(X).argmax(1) == Y.argmax(1)).mean() > 0.9
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :5])


def test_no_module_level_state_changes_behaviour():
    """The classifier's modules hold constants only: no dict, list or set a run fills (a
    cache or a switch belongs to an instance, or to the answers' `Encoded`)."""
    for mod in (model, prior, prototypes, lexical, learning, rule, encoded, _maths):
        mutable = [name for name, value in vars(mod).items()
                   if not name.startswith("__") and not isinstance(value, types.ModuleType)
                   and isinstance(value, (dict, list, set, bytearray))]
        assert mutable == [], f"{mod.__name__}: {mutable}"
