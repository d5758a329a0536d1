"""Topic modelling end to end on a tiny synthetic corpus with FakeEmbedder: fit_topics (which
imports BERTopic and spaCy), the project functions, figures, and BERTopic's own outlier
reduction as the reference. Slow only for those imports; the parts are in tests/unit."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nlp.embed import FakeEmbedder
from nlp.errors import CodebookError, NlpError, ProjectError
from nlp.topics import cluster as tc
from nlp.types import Corpus
from topicdata import CB, VOCAB, blobs, synthetic_corpus

pytestmark = pytest.mark.slow


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
    from nlp.pipeline import (accept_emergent, fit_project_topics, load_project_topics,
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


def test_project_topic_whose_answers_are_coded_with_a_theme_is_that_themes(project):
    """The kids answers, NEW by similarity, are the money theme's once most of them are
    coded with it (here the model's suggestions; a researcher's decision would count first)."""
    from nlp.pipeline import fit_project_topics

    kids = [r.response_id for r in project.store.corpus() if r.response_id.startswith("kids")]
    tids = project.store.active_codebook().theme_ids
    project.store.write_model_codings(
        {rid: {t: (0.9 if t == "money" else 0.1) for t in tids} for rid in kids},
        {t: 0.5 for t in tids}, model_id="test")
    res = fit_project_topics(project, stability_runs=0)
    seen = 0
    for t in res.topics:
        members = [r for r, a in zip(res.response_ids, res.assignments) if a == t.topic_id]
        if all(m.startswith("kids") for m in members):
            seen += 1
            assert not t.emergent and t.theme_id == "money"
            assert res.params["matched_by_codes"][str(t.topic_id)] == 1.0
    assert seen  # the kids answers make a topic of their own
