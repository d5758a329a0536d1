"""Integration test of the topics stage with the real MiniLM on 150 units of the bundled corpus."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from nlp import corpora
    from nlp.codebook import load_codebook
    from nlp.embed import EmbeddingCache, get_embedder
    from nlp.topics import fit_topics
    from nlp.types import Corpus, Response

    df = corpora.load("vcs-commissioning").sample(150, random_state=0)
    corpus = Corpus(tuple(Response(response_id=r.id, text=r.text, source=r.source)
                          for r in df.itertuples()))
    cache = EmbeddingCache(tmp_path_factory.mktemp("topics-cache"))
    result = fit_topics(corpus, embedder=get_embedder("st"), cache=cache,
                        codebook=load_codebook(corpora.codebook_path("vcs-commissioning")),
                        stability_runs=3)
    return df, result


def test_small_corpus_gets_several_topics_and_no_outliers(fitted):
    _, res = fitted
    assert res.params["method"] == "consensus-kmeans"
    assert 5 <= len(res.topics) <= 25
    assert res.outlier_share == 0.0 and res.unassigned_share == 0.0
    assert max(t.share for t in res.topics) < 0.5  # not one topic swallowing the rest


def test_topics_agree_with_hand_coded_themes_and_are_stable(fitted):
    from sklearn.metrics import normalized_mutual_info_score

    df, res = fitted
    single = [i for i, t in enumerate(df["themes"]) if len(t) == 1]
    truth = [df["themes"].iloc[i][0] for i in single]
    labels = np.array(res.assignments)[single]
    assert normalized_mutual_info_score(truth, labels) > 0.3
    assert res.stability.mean_ari > 0.6 and res.stability.survival > 0.6
    assert sum(not t.emergent for t in res.topics) >= len(res.topics) / 2


def test_labels_keywords_and_quotes_are_readable(fitted):
    from spacy.lang.en.stop_words import STOP_WORDS

    _, res = fitted
    texts = {}
    for t in res.topics:
        assert t.keywords and not any(w in STOP_WORDS for k in t.keywords for w in k.split())
        assert t.label and "_" not in t.label
        assert 1 <= len(t.quotes) <= 5
        for rid, text in t.quotes:
            assert res.topic_of(rid) == t.topic_id
            texts[rid] = text
    assert len(texts) == sum(len(t.quotes) for t in res.topics)  # no quote used twice


def test_labels_tell_topics_apart_and_matching_is_one_cut(fitted):
    """No word leads most labels; coherence is read against random word sets; a topic closer
    to its theme than a matched topic is matched too."""
    from collections import Counter

    _, res = fitted
    first = Counter(t.label.split(",")[0].split()[0].lower() for t in res.topics)
    assert first.most_common(1)[0][1] <= len(res.topics) / 2
    assert res.coherence_baseline is not None and res.coherence > res.coherence_baseline
    cut = res.params["match_cut"]
    for t in res.topics:
        assert t.emergent == (t.theme_similarity < cut - 1e-4 or t.share == 1.0)
