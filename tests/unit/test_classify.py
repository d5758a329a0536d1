"""ThemeClassifier on a fake deterministic embedder: fast, no model load."""
import numpy as np
import pytest
from sklearn.base import clone

from classifydata import three_themes
from nlp.classify.active import likely_mistakes, rank_for_review, uncertainty
from nlp.classify.learning import Learning
from nlp.classify.model import (MARGIN_Z, MAX_THEMES, MIN_CALIBRATION, MIN_Z, PRIOR_MID,
                                PRIOR_SLOPE, ThemeClassifier, _logreg, _sigmoid,
                                best_threshold, encode, relative_rule, select_C, subset)
from nlp.codebook import loads_codebook
from nlp.embed import FakeEmbedder
from nlp.errors import ModelError
from nlp.classify.persist import load_model, save_model
from nlp.classify.propagate import knn_graph, propagate
from nlp.classify.shares import estimated_counts, share_offset
from nlp.text.segment import split_segments

CB = three_themes()

TRAIN = [
    ("we used our reserves because the price was below cost", ["money"]),
    ("the budget was cut and funding ran out", ["money"]),
    ("nobody replied to our email and we were never told", ["talk"]),
    ("no contact and no reply from the commissioner", ["talk"]),
    ("services for children and young people in school", ["kids"]),
    ("families and children lost support", ["kids"]),
    ("the funding was cut and nobody told us", ["money", "talk"]),
    ("the weather was nice at the event", []),
    ("we met in the hall on tuesday", []),
    ("reserves paid for the service and the price was too low", ["money"]),
    ("we emailed three times with no reply", ["talk"]),
    ("young people and families at school", ["kids"]),
]


def fitted():
    texts, y = zip(*TRAIN)
    return ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), prior_strength=1.0).fit(
        list(texts), list(y))


def test_cold_start_scores_by_definition():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    p = clf.predict_proba(["our reserves paid because the funding and budget were short",
                           "no reply to our email, no contact"])
    assert p.shape == (2, 3)
    assert p[0].argmax() == 0 and p[1].argmax() == 1


def test_fit_predict_multilabel():
    clf = fitted()
    pred = clf.predict(["the funding was cut and nobody told us",
                        "we met in the hall"])
    assert pred.shape == (2, 3)
    assert pred[0, 0] == 1 and pred[0, 1] == 1
    assert (clf.predict_proba(["we met in the hall"])[0] < 0.25).all()  # off-topic: low
    assert clf.themes_of(clf.predict_proba(["children at school"]))[0] == ["kids"]
    assert 0 <= clf.score([t for t, _ in TRAIN], [y for _, y in TRAIN]) <= 1


def test_accepts_indicator_matrix_embeddings_and_dataframe():
    import pandas as pd
    texts = [t for t, _ in TRAIN]
    Y = np.array([[int(th in y) for th in CB.theme_ids] for _, y in TRAIN])
    emb = FakeEmbedder(256).encode(texts)
    a = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(emb, Y)
    assert a.predict_proba(emb).shape == (len(texts), 3)
    df = pd.DataFrame({"text": texts})
    b = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(df, Y)
    assert b.predict(df).shape == (len(texts), 3)


def test_sklearn_api():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), C=0.5)
    assert clf.get_params()["C"] == 0.5
    c2 = clone(clf)
    assert c2.get_params()["C"] == 0.5 and not hasattr(c2, "thresholds_")
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        clf.predict(["x"])


def test_rejects_unknown_theme_and_bad_shape():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256))
    with pytest.raises(ValueError, match="not in the codebook"):
        clf.fit(["a text"], [["nope"]])
    with pytest.raises(ValueError, match="shape"):
        clf.fit(["a text"], np.zeros((1, 5)))


def test_save_load_round_trip_without_pickle(tmp_path, monkeypatch):
    clf = fitted()
    emb = FakeEmbedder(256)
    save_model(clf, tmp_path / "m", embedder_spec="fake")
    monkeypatch.setattr("nlp.embed.get_embedder", lambda spec=None: FakeEmbedder(256))
    back = load_model(tmp_path / "m", codebook=CB, embedder=emb)
    texts = ["nobody told us about the funding", "children at school"]
    np.testing.assert_allclose(back.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    # weights are plain arrays: loading with allow_pickle=False works
    with np.load(tmp_path / "m" / "weights.npz", allow_pickle=False) as w:
        assert w["thresholds"].shape == (3,)


def test_load_refuses_other_codebook_or_embedder(tmp_path):
    save_model(fitted(), tmp_path / "m", embedder_spec="fake")
    other = loads_codebook(CB_YAML_OTHER)
    with pytest.raises(ModelError, match="trained on codebook 't' version 1"):
        load_model(tmp_path / "m", codebook=other, embedder=FakeEmbedder(256))
    with pytest.raises(ModelError, match="trained on embeddings from"):
        load_model(tmp_path / "m", codebook=CB, embedder=FakeEmbedder(dim=64))
    with pytest.raises(ModelError, match="no theme model here"):
        load_model(tmp_path / "nothing", codebook=CB, embedder=FakeEmbedder(256))


def test_load_refuses_a_model_of_an_older_format_and_says_what_to_do(tmp_path):
    import json
    d = save_model(fitted(), tmp_path / "m", embedder_spec="fake")
    config = json.loads((d / "config.json").read_text())
    config["format"] = 3  # before the lexical prior
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"model format 3 is not supported.*nlp train"):
        load_model(d, codebook=CB, embedder=FakeEmbedder(256))


CB_YAML_OTHER = """
name: t
version: 2
themes:
  - id: money
    label: Money
    definition: something else
"""


def test_segments():
    assert split_segments("We had no reply. The price was too low; our reserves paid for it.") == [
        "We had no reply.", "The price was too low", "our reserves paid for it."]
    assert split_segments("short") == ["short"]
    enc = encode(["The first sentence is here. Another sentence is there.", "x"], FakeEmbedder(256))
    assert enc.seg_owner.tolist() == [0, 0, 1]


def test_active_learning_rank_and_mistakes():
    proba = np.array([[0.5, 0.1], [0.99, 0.01], [0.45, 0.2], [0.05, 0.55]])
    thr = np.array([0.5, 0.5])
    u = uncertainty(proba, thr)
    assert u[0] == pytest.approx(1.0) and u[1] < 0.1
    emb = np.eye(4)
    order = rank_for_review(proba, thr, emb, n=3)
    assert order[0] == 0 and 1 not in order
    mistakes = likely_mistakes(np.array([[0.02, 0.5], [0.95, 0.1]]), np.array([[1, 0], [0, 0]]))
    assert [(r, c) for r, c, _ in mistakes] == [(0, 0), (1, 0)]


def _bigger(n_per=26, seed=0):
    """A synthetic set where every theme has >= MIN_CALIBRATION positives and negatives."""
    rng = np.random.default_rng(seed)
    words = {"money": "funding budget reserves cost price money".split(),
             "talk": "communication reply email told contact".split(),
             "kids": "children young people families school".split()}
    filler = "the a we our they met hall day week area group".split()
    texts, labels = [], []
    for i in range(n_per * 4):
        themes = [t for t in words if rng.random() < 0.35]
        toks = list(rng.choice(filler, 6))
        for t in themes:
            toks += list(rng.choice(words[t], 3))
        rng.shuffle(toks)
        texts.append(" ".join(toks))
        labels.append(themes)
    return texts, labels


def test_relative_rule_keeps_themes_near_the_best_and_caps_them():
    thr = np.full(5, 0.2)
    proba = np.array([[0.9, 0.85, 0.3, 0.1, 0.88],    # near the best, over the floor: 0, 4, 1
                      [0.1, 0.15, 0.05, 0.1, 0.12],    # nothing over the floor: the best
                      [0.95, 0.94, 0.93, 0.92, 0.91]])  # all near: capped at MAX_THEMES
    got = relative_rule(proba, thr, margin=1.0)
    assert got[0].tolist() == [True, True, False, False, True]
    assert got[1].tolist() == [False, True, False, False, False]
    assert not relative_rule(proba, thr, margin=1.0, at_least_one=False)[1].any()
    assert got[2].sum() == MAX_THEMES and got[2, :MAX_THEMES].all()
    # no margin: every theme over its threshold, still at most MAX_THEMES (the most probable)
    assert relative_rule(proba, thr, margin=1e9, max_themes=4)[0].tolist() == [
        True, True, True, False, True]


def test_prior_is_relative_to_the_consultation():
    """A theme every answer resembles (a generic definition) is not suggested for all of them:
    its scores are judged against its own spread over this consultation."""
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    answers = [f"our funding budget and reserves {w}" for w in
               "ran out; were cut; paid the cost; covered the price; fell short".split("; ")]
    answers += ["nobody replied to our email", "children at school with families"] * 3
    chosen = clf.predict(answers)
    assert 0 < chosen[:, 0].sum() < len(answers)
    # centring: adding words every answer shares changes nothing in the decision
    shared = clf.predict([f"{a} in the consultation on services" for a in answers])
    assert (shared == chosen).mean() > 0.9


def test_evidence_is_the_sentence_that_carries_the_theme():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    text = "The hall was cold that day. Our reserves paid because the funding budget was cut."
    out = clf.score_batch([text] + ["children at school", "no reply to our email"] * 20)
    s, e = out.evidence[0, 0]
    assert text[s:e] == "Our reserves paid because the funding budget was cut."
    assert out.chosen[0, 0] and out.proba.shape == (41, 3)


def test_newton_logreg_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2)) * 4
    y = (X[:, 0] + rng.normal(size=300) * 3 > 1).astype(int)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(X, y)
    w, b = _logreg(X, y, C=0.5)
    np.testing.assert_allclose(w, ref.coef_[0], atol=1e-4)
    assert b == pytest.approx(ref.intercept_[0], abs=1e-4)


def test_best_threshold_maximises_f1():
    y = np.array([1, 1, 0, 0, 0, 1])
    p = np.array([0.9, 0.6, 0.55, 0.2, 0.1, 0.3])
    assert best_threshold(y, p) == pytest.approx(0.3)  # all three positives, one false alarm


def test_cold_start_uses_the_prior_and_its_threshold():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    np.testing.assert_allclose(clf.thresholds_, _sigmoid(PRIOR_SLOPE * (MIN_Z - PRIOR_MID)))
    assert not clf.stacked_.any() and clf.n_examples_ == 0


def test_enough_examples_stack_and_calibrate():
    texts, labels = _bigger()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    Y = clf._binarize(labels, len(texts))
    assert (Y.sum(0) >= MIN_CALIBRATION).all()
    assert clf.stacked_.all() and (clf.stack_[:, :2] >= 0).all()
    assert clf.prior_coef_[1:].any()  # the prior refitted on 104 examples
    # out-of-fold probabilities are roughly calibrated: mean probability ~ base rate
    assert abs(clf.oof_proba_.mean() - Y.mean()) < 0.1
    test_t, test_y = _bigger(seed=5)
    assert clf.score(test_t, test_y) > 0.8


@pytest.mark.parametrize("n_per", [5, 20])
def test_under_a_hundred_examples_do_not_stack_even_with_eight_positives(n_per):
    texts, labels = _bigger(n_per=n_per)  # 20 or 80 answers, each theme in ~35% of them
    labels[:8] = [["money"]] * 8
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    assert clf._binarize(labels, len(texts))[:, 0].sum() >= MIN_CALIBRATION
    # out-of-fold scores of fewer than 100 answers are too few to stack, refit or choose on
    assert not clf.stacked_.any() and not clf.prior_coef_[1:].any()
    assert not clf.lex_vocabulary_ and clf.margin_ == PRIOR_SLOPE * MARGIN_Z


def test_few_examples_blend_towards_the_prior():
    texts, y = zip(*TRAIN)
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), prior_strength=1e9).fit(
        list(texts), list(y))
    cold = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    probe = ["nobody replied to our email", "children at school"]
    np.testing.assert_allclose(clf.predict_proba(probe), cold.predict_proba(probe), atol=1e-6)


def _skewed():
    """Examples in which every answer is coded `money`, whatever it says: far more often
    than the definitions predict."""
    texts, labels = _bigger(n_per=8)
    return texts, [sorted({"money", *ts}) for ts in labels]


def test_examples_theme_shares_move_the_prior_of_the_consultation_coded():
    texts, labels = _skewed()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    assert not clf.offset_.any()  # not before the consultation is known
    consultation, _ = _bigger(n_per=5, seed=3)
    clf.calibrate(consultation)
    assert clf.offset_[0] > 0.5 and (clf.offset_[0] > clf.offset_[1:]).all()
    cold = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit().calibrate(consultation)
    probe = ["the hall was full on the day", "we met the group in the area"]
    assert (clf.predict_proba(probe)[:, 0] > cold.predict_proba(probe)[:, 0]).all()
    # under another consultation's statistics, another estimate
    before = clf.offset_.copy()
    clf.calibrate(_bigger(n_per=5, seed=4)[0])
    assert clf.offset_[0] > 0.5 and not np.allclose(clf.offset_, before)


def test_theme_shares_within_chance_leave_the_prior_alone():
    """Observed counts equal to what the prior expects: the spread across themes is no more
    than chance, so the shrinkage takes the correction to nothing."""
    texts, labels = _bigger(n_per=8)
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    F, _ = clf._prior(clf._examples)
    clf.n_pos_ = _sigmoid(F @ clf.prior_coef_ + clf.prior_intercept_).sum(0)
    np.testing.assert_allclose(clf._prevalence_offset(clf._examples), 0.0)


def test_a_saved_model_keeps_its_examples_for_each_new_consultation(tmp_path):
    import json
    texts, labels = _skewed()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    d = save_model(clf, tmp_path / "m", embedder_spec="fake")
    back = load_model(d, codebook=CB, embedder=FakeEmbedder(256))
    assert not back.offset_.any()
    consultation, _ = _bigger(n_per=5, seed=3)
    clf.calibrate(consultation)
    back.calibrate(consultation)
    assert back.offset_[0] > 0.5
    np.testing.assert_allclose(back.offset_, clf.offset_, atol=1e-6)
    np.testing.assert_allclose(back.predict_proba(consultation), clf.predict_proba(consultation),
                               atol=1e-6)
    with np.load(d / "examples.npz", allow_pickle=False) as w:
        assert w["whole"].shape == (len(texts), 256)
    assert json.loads((d / "examples.json").read_text())["texts"] == texts
    # a model of format 4 (before the correction) still loads, without it
    config = json.loads((d / "config.json").read_text())
    config["format"] = 4
    (d / "config.json").write_text(json.dumps(config))
    (d / "examples.npz").unlink()
    (d / "examples.json").unlink()
    old = load_model(d, codebook=CB, embedder=FakeEmbedder(256))
    assert old._examples is None and not old.calibrate(consultation).offset_.any()
    # examples that do not fit the model are refused, naming the file
    d2 = save_model(clf, tmp_path / "m2", embedder_spec="fake")
    (d2 / "examples.json").write_text(json.dumps({"texts": texts[:3]}))
    with pytest.raises(ModelError, match="examples.npz: does not match"):
        load_model(d2, codebook=CB, embedder=FakeEmbedder(256))


def test_subset_keeps_segments_with_their_answers():
    enc = encode(["The first sentence is here. Another sentence is there.", "Alone here now",
                  "Three more words are here. And four more words follow."], FakeEmbedder(64))
    s = subset(enc, [2, 0])
    assert len(s) == 2 and s.seg_owner.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(s.seg[:2], enc.seg[enc.seg_owner == 2])
    np.testing.assert_allclose(s.whole, enc.whole[[2, 0]])


def test_select_C_by_group_cv():
    texts, labels = _bigger()
    groups = np.arange(len(texts)) % 3
    C, scores = select_C(texts, labels, groups, codebook=CB, embedder=FakeEmbedder(256),
                         grid=(0.1, 10.0))
    assert C in (0.1, 10.0) and set(scores) == {"0.1", "10.0"}
    assert all(0 <= v["micro_f1"] <= 1 and v["log_loss"] > 0 for v in scores.values())
    best = min(scores, key=lambda c: scores[c]["log_loss"])
    assert C == float(best)


def test_saved_stacked_model_round_trips(tmp_path):
    texts, labels = _bigger()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    save_model(clf, tmp_path / "m", embedder_spec="fake")
    back = load_model(tmp_path / "m", codebook=CB, embedder=FakeEmbedder(256))
    np.testing.assert_allclose(back.predict_proba(texts[:5]), clf.predict_proba(texts[:5]),
                               atol=1e-6)
    np.testing.assert_array_equal(back.stacked_, clf.stacked_)
    assert back.prior_threshold_ == pytest.approx(clf.prior_threshold_)


def test_default_model_for_another_embedder_retrains_on_the_bundled_corpus(tmp_path,
                                                                          monkeypatch):
    from nlp.codebook import load_codebook
    from nlp.corpora import codebook_path, load
    from nlp.classify.coding import resolve_model

    cb = load_codebook(codebook_path("vcs-commissioning"))
    df = load("vcs-commissioning").head(40)
    saved = ThemeClassifier(codebook=cb, embedder=FakeEmbedder(256)).fit(
        df["text"].tolist(), [list(t) for t in df["themes"]])
    save_model(saved, tmp_path / "m", embedder_spec="fake:256")
    monkeypatch.setenv("NLP_MODEL_DIR", str(tmp_path / "m"))
    same = resolve_model(cb, model_dir=None, embedder=FakeEmbedder(256))
    assert same.n_examples_ == 40  # the saved model, loaded
    other = resolve_model(cb, model_dir=None, embedder=FakeEmbedder(64))
    assert other.embedder_id_ == "fake:64" and other.n_examples_ == len(load())
    with pytest.raises(ModelError, match="trained on embeddings from"):
        resolve_model(cb, model_dir=tmp_path / "m", embedder=FakeEmbedder(64))  # named: refuse


def test_lexical_part_round_trips_and_a_damaged_vocabulary_is_refused(tmp_path):
    texts, labels = _bigger()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    assert clf.lex_vocabulary_ and clf.stack_[:, 2].any()  # 104 examples: TF-IDF stacked in
    save_model(clf, tmp_path / "m", embedder_spec="fake")
    back = load_model(tmp_path / "m", codebook=CB, embedder=FakeEmbedder(256))
    assert back.lex_vocabulary_ == clf.lex_vocabulary_
    (tmp_path / "m" / "lexical.json").write_text('{"vocabulary": ["only one"]}')
    with pytest.raises(ModelError, match="lexical.json"):
        load_model(tmp_path / "m", codebook=CB, embedder=FakeEmbedder(256))


def test_lexical_prior_is_fitted_on_the_consultation_and_scores_each_answer_alone():
    texts = [t for t, _ in TRAIN] + ["our reserves covered the cost", "email never answered"]
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    enc = encode(texts, clf.embedder)
    clf.calibrate(enc)
    assert enc.lexical is not None and enc.lexical.shape == (len(texts), 3)
    assert enc.lexical_key == clf.lex_key_
    # the words of "reserves"/"cost" match the money theme's definition and include example
    assert enc.lexical[-2].argmax() == 0 and enc.lexical[-1].argmax() == 1
    whole = clf.predict_proba(enc)
    alone = np.vstack([clf.predict_proba([t]) for t in texts[-2:]])  # transformed afresh
    assert np.allclose(whole[-2:], alone, atol=1e-6)
    # without the answers' texts (bare vectors) the lexical part has no say: other scores
    bare = clf.predict_proba(enc.whole)
    assert not np.allclose(bare, whole)
    # a refit (a relabel) calibrated on the same consultation reuses its lexical weights
    again = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit().calibrate(enc)
    assert again.lex_key_ == clf.lex_key_ and np.allclose(again.predict_proba(enc), whole)


def test_lexical_prior_needs_enough_answers():
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()
    enc = encode(["our reserves covered the cost", "no reply"], clf.embedder)
    clf.calibrate(enc)  # two answers: too few to weigh words on
    assert clf.lex_key_ == "" and enc.lexical is None
    assert clf.predict_proba(enc).shape == (2, 3)


def test_word_tfidf_of_the_answers_is_kept_for_one_vocabulary_at_a_time():
    texts, labels = _bigger()
    enc = encode(texts, FakeEmbedder(256))
    a = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(enc, labels)
    p = a.predict_proba(enc)

    def words():  # the memo also keeps the lexical prior's fits: count the word matrices
        return sum(key[0] == "words" for key in enc.memo)

    assert words() == 1 and np.allclose(a.predict_proba(enc), p)  # reused
    b = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(
        subset(enc, range(102)), labels[:102])  # other examples: another vocabulary
    b.predict_proba(enc)
    assert words() == 1
    assert np.allclose(a.predict_proba(enc), p)  # back to the first: computed again, same


def test_a_saved_model_keeps_a_sample_of_many_examples(tmp_path, monkeypatch):
    import nlp.classify.persist as persist
    texts, labels = _skewed()  # 32 examples
    # the theme-share correction alone: the per-theme shifts (nlp.classify.intercepts) apply
    # below MIN_STACK examples only, far below KEEP_EXAMPLES, so never to a sample
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), intercepts=False).fit(
        texts, labels)
    monkeypatch.setattr(persist, "KEEP_EXAMPLES", 20)
    d = save_model(clf, tmp_path / "m", embedder_spec="fake")
    back = load_model(d, codebook=CB, embedder=FakeEmbedder(256)).set_params(intercepts=False)
    assert len(back._examples) == 20 and back.n_examples_ == 32
    consultation, _ = _bigger(n_per=5, seed=3)
    clf.calibrate(consultation)
    back.calibrate(consultation)
    # the sample's expected counts are scaled to all 32: the same correction, give or take
    assert back.offset_[0] > 0.5
    np.testing.assert_allclose(back.offset_, clf.offset_, atol=0.35)


def test_an_oversized_examples_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    texts, labels = _skewed()
    clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(texts, labels)
    d = save_model(clf, tmp_path / "m", embedder_spec="fake")
    (d / "examples.json").write_text('{"texts": ["' + "x" * 1_100_000 + '"]}')
    monkeypatch.setenv("NLP_MAX_TEXT_MCHARS", "1")  # a million characters
    with pytest.raises(ModelError, match="examples.json: .* over the 1,000,000-character"):
        load_model(d, codebook=CB, embedder=FakeEmbedder(256))


def test_estimated_counts_follow_the_most_similar_theme():
    heads = np.eye(3, dtype=np.float32)
    whole = np.array([[1, 0, 0], [0.9, 0.1, 0], [1, 0.98, 0], [0, 0, 1]], dtype=np.float32)
    whole /= np.linalg.norm(whole, axis=1, keepdims=True)
    # best themes 0, 0, 0, 2; themes within 0.05 of the best: 1 + 1 + 2 + 1 = 5 over 4 answers
    assert np.allclose(estimated_counts(whole, heads), np.array([3, 0, 1]) * 5 / 4)
    assert np.allclose(share_offset([3.0, 0.0], [1.0, 1.0], weight=1.0), [np.log(2), np.log(.5)])


def test_a_theme_most_answers_raise_is_suggested_more_than_equal_shares_would():
    money = ["the budget and funding were cut", "the price was below cost", "money ran out",
             "our reserves paid for it", "funding budget money", "the cost and the price"]
    texts = money * 4 + ["nobody replied to our email", "children at school"]
    counts = {}
    for w in (0.0, 1.0):
        clf = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256), share_weight=w).fit()
        counts[w] = clf.calibrate(texts).predict(texts).sum(0)
        assert (clf.share_offset_ != 0).any() == bool(w)
    assert counts[1.0][0] >= counts[0.0][0] and counts[1.0][1:].sum() <= counts[0.0][1:].sum()
    assert (counts[1.0] != counts[0.0]).any()
    # a batch under OWN_STATISTICS answers is too small to estimate shares from
    assert not ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit()._share_offset(
        encode(texts[:5], FakeEmbedder(256)), np.zeros((5, 3))).any()


def test_propagated_residuals_reach_the_neighbours_of_a_confirmation_not_other_answers():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=16), rng.normal(size=16)
    W = np.vstack([a + 0.1 * rng.normal(size=(12, 16)), b + 0.1 * rng.normal(size=(12, 16))])
    E0 = np.zeros((24, 2))
    E0[0] = [1.0, -0.5]  # one confirmed answer of the first group
    E = propagate(knn_graph(W, k=4), E0, np.array([0]))
    assert (E[1:12, 0] > 0.01).all() and (E[1:12, 1] < 0).all()
    np.testing.assert_allclose(E[12:], 0.0, atol=1e-9)
    assert E[0, 0] == pytest.approx(E.max())  # the confirmation keeps the largest move
    # many confirmations with one residual: a mean, never more than that residual
    many = np.zeros((24, 2))
    many[:6] = [1.0, -0.5]
    E6 = propagate(knn_graph(W, k=4), many, np.arange(6))
    assert E6[:12, 0].max() < 1.0 and E6[1:12, 0].min() > E[1:12, 0].min()


def test_confirmations_spread_over_the_consultations_own_answers():
    consultation, _ = _bigger(n_per=5, seed=3)
    ex, labels = consultation[:8], [["money"]] * 8  # coded money, whatever they say
    on = ThemeClassifier(codebook=CB, embedder=FakeEmbedder(256)).fit(ex, labels) \
        .calibrate(consultation)
    off = clone(on).set_params(propagate_weight=0.0).fit(ex, labels).calibrate(consultation)
    moved = on.predict_proba(consultation)[:, 0] - off.predict_proba(consultation)[:, 0]
    assert (moved[:8] > 0).all() and (moved[8:] > 1e-3).sum() >= 5
    new = ["a completely new answer about the school"]  # not among the calibrated answers
    np.testing.assert_allclose(on.predict_proba(new), off.predict_proba(new))
    # more answers than the learner spreads over: none
    big = clone(on).set_params(learning=Learning(propagate_max=20)).fit(ex, labels) \
        .calibrate(consultation)
    np.testing.assert_allclose(big.predict_proba(consultation), off.predict_proba(consultation))
