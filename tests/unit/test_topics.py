"""Topic modelling on tiny synthetic corpora: hand-made clustered vectors and FakeEmbedder."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nlp.topics import cluster as tc
from nlp.topics.metrics import diversity, match_themes, npmi_coherence, stability
from nlp.codebook import loads_codebook
from nlp.embed import FakeEmbedder
from nlp.errors import CodebookError, NlpError, ProjectError
from nlp.types import Corpus, Response

VOCAB = {
    "money": "funding budget reserves price cost money grant payment",
    "talk": "email reply contact meeting phone letter communication told",
    "kids": "children families school parents youth nursery playground teenagers",
}
CB = loads_codebook("""
name: t
version: 1
themes:
  - id: money
    label: Money
    definition: funding budget reserves price cost money grant payment
  - id: talk
    label: Communication
    definition: email reply contact meeting phone letter communication told
""")


def blobs(k: int = 4, per: int = 25, dim: int = 16, spread: float = 0.15, seed: int = 0):
    """Unit vectors in `k` well-separated groups; returns (X, true labels, group centres)."""
    rng = np.random.default_rng(seed)
    centres = tc.normalise_rows(rng.normal(size=(k, dim)))
    X = np.vstack([c + spread * rng.normal(size=(per, dim)) for c in centres])
    return tc.normalise_rows(X), np.repeat(np.arange(k), per), centres


def synthetic_corpus(per: int = 12, seed: int = 0) -> Corpus:
    """Three topics with disjoint words, plus three non-answers."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, words in VOCAB.items():
        w = words.split()
        for i in range(per):
            picked = rng.choice(w, size=4, replace=False)
            text = f"We think the {picked[0]} and {picked[1]} matter, and {picked[2]} {picked[3]}."
            rows.append(Response(response_id=f"{name}-{i}", text=text, source=f"src-{i % 2}"))
    rows += [Response(response_id=f"na-{i}", text="N/A", flag="non_answer") for i in range(3)]
    return Corpus(tuple(rows))


# --- size rules and clustering ------------------------------------------------------------------

def test_size_rules_pick_kmeans_for_small_and_hdbscan_for_large():
    small = tc.choose_params(300, theme_ids=("a", "b", "c"))
    assert small.method == "consensus-kmeans"
    assert small.k == max(tc.rule_of_thumb_k(300), 3 + 2) and small.min_topic_size == 3
    assert tc.choose_params(300).k == tc.rule_of_thumb_k(300) == 12
    large = tc.choose_params(20_000)
    assert large.method == "umap-hdbscan" and large.hdbscan_min_cluster_size == 100
    assert tc.choose_params(300, method="umap-hdbscan").hdbscan_min_cluster_size == 10
    # many themes, few answers: never more topics than answers / min topic size
    assert tc.choose_params(30, theme_ids=tuple("abcdefghijklmnop")).k <= 30 // 3
    with pytest.raises(ValueError, match="method"):
        tc.choose_params(100, method="lda")


def test_consensus_kmeans_recovers_groups_whatever_the_seed_or_order():
    from sklearn.metrics import adjusted_rand_score

    X, truth, _ = blobs()
    params = tc.ClusterParams("consensus-kmeans", len(X), 4, (), 3, 10, None, None, None, None,
                              0.0)
    labels, outliers = tc.cluster(X, params, seed=0)
    assert outliers == 0.0 and adjusted_rand_score(truth, labels) == 1.0
    again, _ = tc.cluster(X, params, seed=0)
    assert (again == labels).all()  # reproducible
    st = stability(X, lambda Z, s: tc.cluster(Z, params, seed=s)[0], reference=labels, runs=4)
    assert st.mean_ari == pytest.approx(1.0) and st.survival == 1.0 and st.runs == 4


def test_seeded_topics_match_their_themes_and_the_rest_are_emergent():
    X, truth, centres = blobs(k=3, per=20, seed=1)
    params = tc.ClusterParams("consensus-kmeans", len(X), 3, ("a", "b"), 3, 20, None, None,
                              None, None, 0.0)
    labels, _ = tc.cluster(X, params, seeds=centres[:2], seed=0)
    matches = match_themes(X, labels, centres[:2])
    for t, (j, sim, ok) in matches.items():
        group = np.bincount(truth[labels == t]).argmax()
        assert ok == (group < 2)
        if ok:
            assert j == group and sim > 0.9


def test_hdbscan_outliers_are_reassigned_like_bertopic_reduce_outliers():
    X, _, _ = blobs(k=3, per=15, seed=2)
    raw = np.repeat([0, 1, 2], 15)
    raw[[0, 16, 40]] = -1
    mine = tc.reassign_outliers(X, raw)
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction

    docs = [f"doc {i} word{raw[i]}" for i in range(len(X))]
    model = BERTopic(umap_model=BaseDimensionalityReduction(), hdbscan_model=BaseCluster(),
                     embedding_model=None)
    topics, _ = model.fit_transform(docs, embeddings=X, y=raw)
    theirs = model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=X)
    # same partition (BERTopic renumbers topics by size)
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(mine, theirs) == 1.0 and -1 not in mine
    kept = tc.reassign_outliers(X, raw, threshold=1.01)
    assert (kept == raw).all()


def test_small_topics_are_merged_and_topics_numbered_by_size():
    X, truth, _ = blobs(k=3, per=10, seed=3)
    labels = truth.copy()
    labels[:2] = 5  # a topic of two answers
    merged = tc.merge_small(X, labels, min_size=3)
    assert sorted(np.bincount(merged)) == [10, 10, 10]
    assert len(set(merged[:10])) == 1  # the two went back to their own group
    assert list(tc.renumber(np.array([2, 2, 2, 0, 1, 1, -1]))) == [0, 0, 0, 2, 1, 1, -1]


# --- measures -----------------------------------------------------------------------------------

def test_npmi_and_diversity():
    docs = [["cat", "dog"], ["cat", "dog"], ["fish"], ["bird"]]
    coh, per = npmi_coherence([["cat", "dog"], ["fish", "bird"], ["cat", "zebra"]], docs)
    assert per[0] == pytest.approx(1.0) and per[1] == -1.0 and np.isnan(per[2])
    assert coh == pytest.approx(0.0)
    assert npmi_coherence([["cat dog", "fish"]], docs)[1][0] == -1.0  # phrases: all lemmas
    assert diversity([["a", "b"], ["b", "c"]]) == 0.75


def test_lemma_analyzer_drops_stop_words_and_reads_joined_documents():
    from nlp.topics import LemmaAnalyzer

    texts = ["The children playing in the schools.", "Children love schools and parents.",
             "Parents were paying the costs."]
    an = LemmaAnalyzer(texts, min_df=1)
    grams = an(texts[0])
    assert "child" in grams and "school" in grams and "the" not in grams
    assert "child play" in grams
    joined = an(" ".join(texts[:2]))  # BERTopic joins a topic's answers into one document
    assert all(g in joined for g in an(texts[0]) + an(texts[1]))
    assert an.doc_lemmas[2] and all(w not in an.doc_lemmas[2] for w in ("the", "were"))
    strict = LemmaAnalyzer(texts)  # min_df 2: only words two answers share
    assert set(strict(" ".join(texts))) <= {"child", "school", "parent"}


def test_topic_label_skips_overlapping_keywords():
    from nlp.topics import topic_label

    assert topic_label(["voluntary sector", "sector", "small charity", "charity", "funding"]) \
        == "Voluntary sector, small charity, funding"
    assert topic_label([]) == "(no keywords)"


# --- fit_topics end to end ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted():
    from nlp.topics import fit_topics

    corpus = synthetic_corpus()
    return corpus, fit_topics(corpus, embedder=FakeEmbedder(64), codebook=CB, stability_runs=3)


def test_fit_topics_guided_by_codebook(fitted):
    corpus, res = fitted
    assert res.excluded == ("na-0", "na-1", "na-2")
    assert len(res.response_ids) == 36 and "na-0" not in res.response_ids
    assert res.outlier_share == 0.0 and res.unassigned_share == 0.0
    assert sum(t.size for t in res.topics) == 36
    assert sum(t.share for t in res.topics) == pytest.approx(1.0, abs=1e-3)
    assert res.params["method"] == "consensus-kmeans" and res.stability.runs == 3
    assert res.centroids.shape == (len(res.topics), 64)
    for t in res.topics:
        members = [r for r, a in zip(res.response_ids, res.assignments) if a == t.topic_id]
        group = max(VOCAB, key=lambda g: sum(m.startswith(g) for m in members))
        if group == "kids":
            assert t.emergent
        else:
            assert not t.emergent and t.theme_id == group
        assert 1 <= len(t.quotes) <= 5 and all(q[0] in members for q in t.quotes)
        assert t.keywords and t.label and "the" not in t.keywords
    assert res.emergent and res.topic_of("kids-0") in {t.topic_id for t in res.emergent}
    assert res.topic_of("na-0") is None


def test_fit_topics_without_codebook_and_too_few_answers():
    from nlp.topics import fit_topics

    res = fit_topics(synthetic_corpus(), embedder=FakeEmbedder(64), stability_runs=0)
    assert res.stability is None and res.codebook is None
    assert all(t.theme_id is None and t.emergent for t in res.topics)
    with pytest.raises(NlpError, match="at least 20"):
        fit_topics(Corpus.from_texts(["a b c"] * 5), embedder=FakeEmbedder())


def test_save_and_load_round_trip_without_pickle(fitted, tmp_path):
    from nlp.topics import load_topics, save_topics

    _, res = fitted
    save_topics(res, tmp_path)
    np.load(tmp_path / "centroids.npy", allow_pickle=False)  # plain arrays only
    back = load_topics(tmp_path)
    assert back == res and np.allclose(back.centroids, res.centroids)
    (tmp_path / "topics.json").write_text("{broken")
    assert load_topics(tmp_path) is None
    assert load_topics(tmp_path / "nothing") is None


# --- project functions --------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    from nlp.codebook import dumps_codebook
    from nlp.project import init_project

    cb = tmp_path / "cb.yaml"
    cb.write_text(dumps_codebook(CB))
    p = init_project(tmp_path / "proj", codebook=cb)
    p.config["embedder"] = "fake:64"
    p.save_config()
    with p.store.write() as conn:
        p.store.add_responses(conn, synthetic_corpus().responses, None)
    yield p
    p.close()


def test_project_fit_reuse_refit_and_accept(project):
    from nlp.topics import (accept_emergent, fit_project_topics, load_project_topics,
                            topics_command)

    assert load_project_topics(project) is None
    with pytest.raises(ProjectError):
        accept_emergent(project, 0, theme_id="kids", label="Kids", definition="children")
    view = topics_command(project)
    assert view.refitted and view.rows and len(view.columns) == len(view.rows[0])
    assert any("Stability" in n for n in view.notes) and len(view.rows) == len(view.result.topics)
    again = topics_command(project)
    assert not again.refitted and again.result == view.result
    assert topics_command(project, refit=True).refitted
    res = fit_project_topics(project, stability_runs=0)
    new = [t for t in res.topics if t.emergent][0]
    with pytest.raises(CodebookError):
        accept_emergent(project, new.topic_id, theme_id="money", label="x", definition="y")
    with pytest.raises(NlpError, match="no topic"):
        accept_emergent(project, 99, theme_id="kids", label="x", definition="y")
    cb = accept_emergent(project, new.topic_id, theme_id="kids", label="Children",
                         definition="Children, schools and families.")
    assert cb.version == 2 and cb.theme("kids").include
    assert project.store.active_codebook().theme_ids == ["money", "talk", "kids"]
    saved = load_project_topics(project)
    assert saved.topic(new.topic_id).theme_id == "kids" and not saved.topic(new.topic_id).emergent
    assert not topics_command(project).refitted  # still current after the new version


# --- figures ------------------------------------------------------------------------------------

def test_figures_from_a_saved_result(fitted, tmp_path):
    from nlp.topics import figures as tf

    corpus, res = fitted
    assert len(tf.intertopic_map(res).data) >= 1
    assert len(tf.topic_sizes(res).data[0].x) == len(res.topics)
    assert tf.topic_hierarchy(res).data
    groups = {r.response_id: r.source for r in corpus}
    fig = tf.topics_per_group(res, groups, group_name="source")
    assert len(fig.data) == len(res.topics) and set(fig.data[0].y) == {"src-0", "src-1"}
    paths = tf.write_figures(res, tmp_path, groups=groups, formats=("html",))
    assert {p.name for p in paths} == {f"{n}.html" for n in tf.FIGURES}
    assert (tmp_path / "plotly.min.js").exists()  # opens offline
    assert tf.topic_coordinates(res).shape == (len(res.topics), 2)


def test_importing_topics_does_not_import_bertopic():
    code = "import sys, nlp.topics, nlp.topics.figures; print('bertopic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
