"""Topics stage: what people write about, guided by the codebook (BERTopic over cached vectors).

`fit_topics` clusters the answers (size rules in `_topic_cluster`), lets BERTopic describe each
cluster (c-TF-IDF over spaCy lemmas, KeyBERTInspired then MMR), matches topics to codebook themes,
and measures stability. The only module that imports bertopic, and only when fitting.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from .. import errors
from ..classify import theme_prototypes
from ..embed import embed_texts
from ..types import Codebook, Corpus
from .cluster import (MIN_ANSWERS, choose_params, cluster, min_topic_size, normalise_rows,
                      seed_themes)
from .labels import distinct_first, distinct_label, shared_words, topic_label
from .metrics import (Stability, diversity, match_themes, npmi_coherence, random_coherence,
                      stability, theme_match_cut)

if TYPE_CHECKING:
    from ..embed import Embedder, EmbeddingCache

log = logging.getLogger("nlp.topics")

TOP_WORDS = 10
N_QUOTES = 5
MMR_DIVERSITY = 0.3
_TOKEN = re.compile(r"[^\W\d_]+")  # letters only: spaCy splits at hyphens and apostrophes too

__all__ = ["Topic", "TopicResult", "Stability", "fit_topics", "LemmaAnalyzer", "topic_label"]


@dataclass(frozen=True)
class Topic:
    """One topic: keywords, readable label, size, nearest codebook theme, quotes.

    `theme_id` is the nearest theme and `theme_similarity` the cosine of the topic centroid
    and that theme's vector; `emergent` is True when the topic is not about that theme (or any):
    a candidate new theme. `quotes` are (response_id, text) nearest the topic centroid.
    """
    topic_id: int
    label: str
    keywords: tuple[str, ...]
    size: int
    share: float
    theme_id: str | None
    theme_similarity: float | None
    emergent: bool
    quotes: tuple[tuple[str, str], ...] = ()
    coherence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"topic_id": self.topic_id, "label": self.label, "keywords": list(self.keywords),
                "size": self.size, "share": self.share, "theme_id": self.theme_id,
                "theme_similarity": self.theme_similarity, "emergent": self.emergent,
                "quotes": [list(q) for q in self.quotes], "coherence": self.coherence}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Topic":
        return cls(topic_id=int(d["topic_id"]), label=str(d["label"]),
                   keywords=tuple(d["keywords"]), size=int(d["size"]), share=float(d["share"]),
                   theme_id=d.get("theme_id"), theme_similarity=d.get("theme_similarity"),
                   emergent=bool(d["emergent"]),
                   quotes=tuple((str(a), str(b)) for a, b in d.get("quotes", ())),
                   coherence=d.get("coherence"))


@dataclass(frozen=True)
class TopicResult:
    """A fitted topic model of a corpus: the topic table, each answer's topic, and how sure.

    `assignments[i]` is the topic of `response_ids[i]` (-1: an outlier left unassigned);
    `excluded` lists the non-answers left out. `outlier_share` is the share of answers HDBSCAN
    called outliers before they were reassigned (0 for k-means); `unassigned_share` is what is
    left after. `centroids` (topics x dim, unit rows, topic order) feed the figures.
    """
    topics: tuple[Topic, ...]
    response_ids: tuple[str, ...]
    assignments: tuple[int, ...]
    excluded: tuple[str, ...]
    outlier_share: float
    unassigned_share: float
    stability: Stability | None
    coherence: float
    diversity: float
    params: Mapping[str, Any]
    embedder: str
    codebook: str | None = None
    codebook_version: str | None = None
    fingerprint: str = ""
    # The mean NPMI of random word sets of the consultation (see metrics.random_coherence):
    # what `coherence` is to be read against. None in results saved before it was kept.
    coherence_baseline: float | None = None
    centroids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32),
                                  compare=False, repr=False)

    def topic(self, topic_id: int) -> Topic:
        for t in self.topics:
            if t.topic_id == topic_id:
                return t
        raise KeyError(topic_id)

    def topic_of(self, response_id: str) -> int | None:
        """The topic of an answer (-1 unassigned; None when it was not modelled)."""
        try:
            return self.assignments[self.response_ids.index(response_id)]
        except ValueError:
            return None

    @property
    def emergent(self) -> list[Topic]:
        return [t for t in self.topics if t.emergent]


def match_by_codes(result: TopicResult, codes: Mapping[str, Sequence[str]], *,
                   share: float = 0.5) -> TopicResult:
    """`result` with each NEW topic whose answers are mostly coded with one theme (more than
    `share` of them) matched to that theme: a topic that sits on a theme is that theme's,
    however far its centroid lies from the theme's wording. The topics so matched are listed
    in `params["matched_by_codes"]` ({topic id: share of its answers coded so}).

    Args:
        codes: {response id: the themes it is coded with} (a researcher's decisions, else the
            model's suggestions); answers absent count as coded with no theme.
    """
    members: dict[int, list[str]] = {}
    for rid, t in zip(result.response_ids, result.assignments):
        members.setdefault(t, []).append(rid)
    topics, matched = [], {}
    for topic in result.topics:
        ids = members.get(topic.topic_id, [])
        counts = Counter(th for rid in ids for th in set(codes.get(rid, ())))
        if topic.emergent and ids and counts:
            theme, n = max(counts.items(), key=lambda kv: (kv[1], kv[0] == topic.theme_id))
            if n / len(ids) > share:
                matched[str(topic.topic_id)] = round(n / len(ids), 4)
                topic = replace(topic, theme_id=theme, emergent=False,
                                theme_similarity=topic.theme_similarity
                                if theme == topic.theme_id else None)
        topics.append(topic)
    if not matched:
        return result
    return replace(result, topics=tuple(topics),
                   params={**result.params, "matched_by_codes": matched})


class LemmaAnalyzer:
    """CountVectorizer analyzer: content lemmas (spaCy, no stop words or punctuation) and
    bigrams of adjacent ones, kept when at least `min_df` answers use them (default 2, or
    0.2% of the answers). Words map through a table learnt from the corpus, so BERTopic's
    joined per-topic documents analyse exactly like the answers they join."""
    def __init__(self, texts: Sequence[str], *, spacy_model: str | None = None,
                 min_df: int | None = None) -> None:
        from ..text.process import load_pipeline, pipe_chunks

        nlp = load_pipeline(spacy_model, components="lemma")
        votes: dict[str, Counter] = {}
        forms: dict[str, Counter] = {}
        proper: Counter = Counter()
        self.doc_lemmas: list[list[str]] = [[] for _ in texts]
        for i, _, doc in pipe_chunks(list(texts), pipeline=nlp):
            for tok in doc:
                lemma = _content_lemma(tok)
                votes.setdefault(_key(tok.text), Counter())[lemma or ""] += 1
                if lemma:
                    self.doc_lemmas[i].append(lemma)
                    forms.setdefault(lemma, Counter())[_key(tok.text, lower=False)] += 1
                    proper[lemma] += 1 if tok.pos_ == "PROPN" else -1
        self.table = {w: c.most_common(1)[0][0] for w, c in votes.items()}
        # Acronyms and names keep their case in labels ("NHS", "DfE", "London").
        self.forms = {lemma: form for lemma, c in forms.items()
                      for form in [c.most_common(1)[0][0]]
                      if form != form.lower() and (form != form.capitalize() or
                                                   proper[lemma] > 0)}
        self.min_df = min_df if min_df is not None else max(2, round(0.002 * len(texts)))
        self.vocabulary: set[str] | None = None
        df = Counter(g for t in texts for g in set(self(t)))
        self.vocabulary = {g for g, c in df.items() if c >= self.min_df}

    def display(self, phrase: str) -> str:
        """A keyword as people write it: acronyms and names in their usual case."""
        return " ".join(self.forms.get(w, w) for w in phrase.split())

    def lemmas(self, text: str) -> list[str | None]:
        """Lemma per word token (None: stop word, unknown or not a content word)."""
        return [self.table.get(w) or None for w in (m.group().lower()
                                                      for m in _TOKEN.finditer(text))]

    def __call__(self, text: str) -> list[str]:
        seq = self.lemmas(text)
        grams = [x for x in seq if x]
        grams += [f"{a} {b}" for a, b in zip(seq, seq[1:]) if a and b and a != b]
        if self.vocabulary is not None:
            grams = [g for g in grams if g in self.vocabulary]
        return grams


def _key(word: str, *, lower: bool = True) -> str:
    word = word.strip(".'’-")
    return word.lower() if lower else word


def _content_lemma(token) -> str | None:
    from spacy.lang.en.stop_words import STOP_WORDS

    if token.is_stop or token.is_punct or token.is_space or token.like_num:
        return None
    lemma = _key(token.lemma_ or token.text).strip()
    if not lemma or not lemma[0].isalpha() or lemma in STOP_WORDS or len(lemma) < 2:
        return None
    return lemma


def _bertopic_keywords(texts: list[str], X: np.ndarray, labels: np.ndarray,
                       analyzer: LemmaAnalyzer, *, embedder, cache, seed: int
                       ) -> dict[int, list[str]]:
    """Keywords per topic from BERTopic fitted on our clusters (manual topic modelling:
    pass-through reducer and cluster model, labels as `y`). BERTopic's c-TF-IDF needs two
    topics and a vocabulary: without them, each topic's most frequent lemmas."""
    topic_ids = np.unique(labels[labels >= 0])
    if len(topic_ids) < 2 or not analyzer.vocabulary:
        return {int(t): [g for g, _ in Counter(g for i in np.flatnonzero(labels == t)
                                               for g in analyzer(texts[i])).most_common(TOP_WORDS)]
                for t in topic_ids}
    try:
        from bertopic import BERTopic
        from bertopic.backend import BaseEmbedder
        from bertopic.cluster import BaseCluster
        from bertopic.dimensionality import BaseDimensionalityReduction
        from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
        from bertopic.vectorizers import ClassTfidfTransformer
    except ImportError as exc:  # pragma: no cover - bertopic is a dependency
        raise errors.optional_dependency("bertopic") from exc


    class _Backend(BaseEmbedder):
        def embed(self, documents, verbose=False):  # noqa: ARG002 - BERTopic's signature
            return embed_texts([str(d) for d in documents], embedder=embedder, cache=cache)

    model = BERTopic(
        embedding_model=_Backend(), umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=CountVectorizer(analyzer=analyzer, lowercase=False),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        representation_model=[KeyBERTInspired(top_n_words=TOP_WORDS, random_state=seed),
                              MaximalMarginalRelevance(diversity=MMR_DIVERSITY,
                                                       top_n_words=TOP_WORDS)],
        top_n_words=TOP_WORDS, calculate_probabilities=False, verbose=False)
    embed_log = logging.getLogger("nlp.embed")
    level = embed_log.level
    embed_log.setLevel(max(level, logging.WARNING))  # BERTopic embeds words topic by topic
    try:
        model.fit(texts, embeddings=X, y=labels)
    finally:
        embed_log.setLevel(level)
    theirs = np.asarray(model.topics_)
    out: dict[int, list[str]] = {}
    for t in topic_ids:
        bt = Counter(theirs[labels == t].tolist()).most_common(1)[0][0]
        words = [w for w, _ in (model.get_topic(bt) or []) if w]
        out[int(t)] = words[:TOP_WORDS]
    return out


def theme_vectors(codebook: Codebook, *, embedder: Embedder, cache: EmbeddingCache | None = None,
                  examples: Mapping[str, Sequence[str]] | None = None) -> np.ndarray:
    """One unit vector per theme: the mean of its label+definition and include examples, averaged
    with the mean of researcher-confirmed answers (`examples`, by theme id) when there are any."""
    texts, idx, sign = theme_prototypes(codebook)
    P = embed_texts(texts, embedder=embedder, cache=cache)
    out = []
    for k, t in enumerate(codebook.themes):
        v = normalise_rows(P[(idx == k) & (sign > 0)].mean(axis=0, keepdims=True))[0]
        ex = list((examples or {}).get(t.theme_id, ()))
        if ex:
            e = normalise_rows(embed_texts(ex, embedder=embedder, cache=cache).mean(
                axis=0, keepdims=True))[0]
            v = (v + e) / 2
        out.append(v)
    return normalise_rows(np.stack(out)) if out else np.zeros((0, 0), np.float32)


def _quotes(X: np.ndarray, labels: np.ndarray, t: int, cent: np.ndarray, ids: Sequence[str],
            texts: Sequence[str]) -> tuple[tuple[str, str], ...]:
    members = np.flatnonzero(labels == t)
    order = members[np.argsort(-(X[members] @ cent), kind="stable")]
    seen: set[str] = set()
    out = []
    for i in order:
        key = " ".join(texts[i].lower().split())
        if key in seen:
            continue
        seen.add(key)
        out.append((ids[i], texts[i]))
        if len(out) == N_QUOTES:
            break
    return tuple(out)


def fit_topics(corpus: Corpus, *, embedder: Embedder, cache: EmbeddingCache | None = None,
               codebook: Codebook | None = None,
               examples: Mapping[str, Sequence[str]] | None = None, seed: int = 0,
               stability_runs: int = 5, outlier_threshold: float = 0.0, method: str = "auto",
               spacy_model: str | None = None, progress: bool = False) -> TopicResult:
    """Fit topics to the answers of `corpus` (non-answers are left out).

    Args:
        corpus: the responses; those with a `flag` are not modelled.
        embedder: an `nlp.embed.Embedder`; cache: an `EmbeddingCache` (recommended).
        codebook: themes that seed topics and name them; None models without guidance.
        examples: researcher-confirmed answer texts by theme id (sharpen the theme vectors).
        seed: random seed of the reported fit.
        stability_runs: fits (the reported one included) behind the stability score; 0 or 1
            skips it.
        outlier_threshold: cosine an HDBSCAN outlier needs to join its nearest topic (large
            corpora only; 0 reassigns every outlier).
        method: "auto" (by corpus size), "consensus-kmeans" or "umap-hdbscan".
        spacy_model: spaCy pipeline for lemmas (default: `nlp.process.load_pipeline`'s).
        progress: show progress bars.

    Returns:
        A `TopicResult` (fingerprint left empty; the project functions fill it in).

    Raises:
        NlpError: fewer than 20 answers.
        ValueError: unknown `method`.
    """
    answers = corpus.answers()
    excluded = tuple(r.response_id for r in corpus if r.flag is not None)
    n = len(answers)
    if n < MIN_ANSWERS:
        raise errors.too_few_for_topics(MIN_ANSWERS, n)
    texts, ids = answers.texts, answers.ids
    X = normalise_rows(embed_texts(texts, embedder=embedder, cache=cache, progress=progress))
    T = (theme_vectors(codebook, embedder=embedder, cache=cache, examples=examples)
         if codebook is not None else np.zeros((0, X.shape[1]), np.float32))
    theme_ids = codebook.theme_ids if codebook is not None else []
    chosen = seed_themes(X, T, theme_ids, min_size=min_topic_size(n))
    params = choose_params(n, theme_ids=tuple(theme_ids[j] for j in chosen),
                           outlier_threshold=outlier_threshold, method=method)
    seeds = T[[theme_ids.index(t) for t in params.seeded_themes]] if params.seeded_themes \
        else None
    log.info("Topics: %d answers, %s (k=%s, %d seeded themes)", n, params.method, params.k,
             len(params.seeded_themes))
    labels, outliers = cluster(X, params, seeds=seeds, seed=seed)
    stab = None
    if stability_runs >= 2:
        stab = stability(X, lambda Z, s: cluster(Z, params, seeds=seeds, seed=s)[0],
                         reference=labels, runs=stability_runs, seed=seed, progress=progress)
    analyzer = LemmaAnalyzer(texts, spacy_model=spacy_model)
    keywords = _bertopic_keywords(texts, X, labels, analyzer, embedder=embedder, cache=cache,
                                  seed=seed)
    cut = theme_match_cut(X, labels, T, seed=seed) if len(T) else None
    matches = match_themes(X, labels, T, seed=seed, cut=cut) if len(T) else {}
    topic_ids = sorted(keywords)
    shared = shared_words(keywords)
    keywords = distinct_first(keywords)
    coh, per_topic = npmi_coherence([keywords[t] for t in topic_ids], analyzer.doc_lemmas)
    baseline = random_coherence(analyzer.doc_lemmas, size=TOP_WORDS, seed=seed)
    cents = normalise_rows(np.stack([X[labels == t].mean(axis=0) for t in topic_ids]))
    topics = []
    for t, cent, c in zip(topic_ids, cents, per_topic):
        j, sim, ok = matches.get(t, (None, None, False))
        size = int((labels == t).sum())
        topics.append(Topic(
            topic_id=t, label=distinct_label(keywords[t], shared, display=analyzer.display),
            keywords=tuple(keywords[t]), size=size, share=round(size / n, 4),
            theme_id=theme_ids[j] if j is not None else None,
            theme_similarity=round(sim, 4) if sim is not None else None, emergent=not ok,
            quotes=_quotes(X, labels, t, cent, ids, texts),
            coherence=None if np.isnan(c) else round(c, 4)))
    params_d = {**params.to_dict(), "seed": seed, "stability_runs": stability_runs,
                "top_words": TOP_WORDS, "mmr_diversity": MMR_DIVERSITY,
                "representation": "c-TF-IDF (spaCy lemmas) > KeyBERTInspired > MMR, words "
                                  "in most topics' keywords last",
                "match_cut": None if cut is None or not np.isfinite(cut) else round(cut, 4)}
    return TopicResult(
        topics=tuple(topics), response_ids=tuple(ids), assignments=tuple(int(x) for x in labels),
        excluded=excluded, outlier_share=round(outliers, 4),
        unassigned_share=round(float(np.mean(labels < 0)), 4), stability=stab,
        coherence=round(coh, 4),
        coherence_baseline=None if np.isnan(baseline) else round(baseline, 4),
        diversity=round(diversity([keywords[t] for t in topic_ids]), 4),
        params=params_d, embedder=embedder.model_id,
        codebook=codebook.name if codebook is not None else None,
        codebook_version=str(codebook.version) if codebook is not None else None,
        centroids=cents.astype(np.float32))
