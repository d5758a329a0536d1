"""Evaluation: the topic model against default BERTopic, LDA and NMF on the bundled corpus.

Every model sees the same answers (and, where it uses them, the same MiniLM vectors and spaCy
lemmas) in one run. Measures: agreement (NMI, ARI) with the hand-coded themes (units with
exactly one theme; also every coded unit by its first theme, alphabetical) and with the
reports' own section headings; NPMI coherence of the top 10 keywords over lemma document
co-occurrence; keyword diversity; outlier share; stability over 5 fits (other seeds, shuffled
answers): mean pairwise ARI and the share of topics that survive. A second, larger test set
(no themes, headings only) is the other sentences of the same reports, from ../shared/seeds.
Writes evaluation/results/topics.json and logs the Markdown tables kept in evaluation/RESULTS.md.

    python evaluation/eval_topics.py [--corpus vcs-commissioning] [--runs 5] [--seed 0]
        [--no-sentences]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from nlp import corpora  # noqa: E402
from nlp.topics.metrics import Stability, diversity, npmi_coherence, stability  # noqa: E402
from nlp.codebook import load_codebook  # noqa: E402
from nlp.embed import EmbeddingCache, cache_root, embed_texts, get_embedder  # noqa: E402
from nlp.topics import LemmaAnalyzer, fit_topics  # noqa: E402
from nlp.types import Corpus, Response  # noqa: E402

log = logging.getLogger("eval_topics")
RESULTS = ROOT / "results" / "topics.json"
SEEDS = ROOT.parent.parent / "shared" / "seeds"


def agreement(labels: np.ndarray, truth: list, mask: np.ndarray) -> dict[str, float]:
    """NMI and ARI of topic labels (outliers -1 count as one more cluster) with `truth`."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y = [truth[i] for i in np.flatnonzero(mask)]
    p = labels[mask]
    return {"nmi": round(float(normalized_mutual_info_score(y, p)), 4),
            "ari": round(float(adjusted_rand_score(y, p)), 4)}


def bertopic_default(texts: list[str], X: np.ndarray, embedder, cache, seed: int):
    """BERTopic() with its default settings on our vectors (UMAP given a random_state only,
    so the run can be repeated). Returns (model, labels)."""
    from bertopic import BERTopic
    from bertopic.backend import BaseEmbedder
    from umap import UMAP

    class Backend(BaseEmbedder):
        def embed(self, documents, verbose=False):
            return embed_texts([str(d) for d in documents], embedder=embedder, cache=cache)

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                low_memory=False, random_state=seed)
    model = BERTopic(embedding_model=Backend(), umap_model=umap)
    labels, _ = model.fit_transform(texts, embeddings=X)
    return model, np.asarray(labels)


def bertopic_words(model) -> list[list[str]]:
    return [[w for w, _ in model.get_topic(t) if w][:10]
            for t in sorted(set(model.topics_)) if t != -1]


def sklearn_topics(kind: str, texts: list[str], analyzer: LemmaAnalyzer, k: int, seed: int
                   ) -> tuple[np.ndarray, list[list[str]]]:
    """LDA (counts) or NMF (TF-IDF) on the same lemmas; each answer's topic is its argmax."""
    from sklearn.decomposition import NMF, LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    if kind == "lda":
        vec = CountVectorizer(analyzer=analyzer)
        D = vec.fit_transform(texts)
        model = LatentDirichletAllocation(n_components=k, learning_method="batch",
                                          max_iter=100, random_state=seed)
    else:
        vec = TfidfVectorizer(analyzer=analyzer)
        D = vec.fit_transform(texts)
        model = NMF(n_components=k, init="nndsvda", max_iter=500, random_state=seed)
    W = model.fit_transform(D)
    vocab = np.array(vec.get_feature_names_out())
    words = [vocab[np.argsort(-row)[:10]].tolist() for row in model.components_]
    return np.argmax(W, axis=1), words


def summarise(name: str, labels: np.ndarray, words: list[list[str]], *, outliers: float,
              truths: dict, analyzer: LemmaAnalyzer, stab: Stability | None,
              seconds: float) -> dict:
    """One row of the results table."""
    coh, _ = npmi_coherence(words, analyzer.doc_lemmas)
    row = {"model": name, "topics": int(len(np.unique(labels[labels >= 0]))),
           "outlier_share": round(outliers, 4), "seconds_one_fit": round(seconds, 1),
           "npmi": round(coh, 4), "diversity": round(diversity(words), 4),
           "stability": stab.to_dict() if stab else None}
    for key, (truth, mask) in truths.items():
        row[key] = agreement(labels, truth, mask)
    return row


def run_models(corpus: Corpus, truths: dict, *, codebook, embedder, cache, seed: int,
               runs: int, variants: tuple[tuple[str, object, str], ...]) -> list[dict]:
    """Every model on one corpus: our variants (name, codebook or None, method), BERTopic with
    its defaults (before and after reduce_outliers), LDA and NMF with our first variant's k."""
    texts = corpus.texts
    _INDEX.clear()
    X = embed_texts(texts, embedder=embedder, cache=cache, progress=True)
    analyzer = LemmaAnalyzer(texts)
    rows = []
    for name, cb, method in variants:
        log.info("%s ...", name)
        t0 = time.perf_counter()
        res = fit_topics(corpus, embedder=embedder, cache=cache, codebook=cb, seed=seed,
                         stability_runs=runs, method=method)
        secs = time.perf_counter() - t0
        labels = np.array(res.assignments)
        row = summarise(name, labels, [list(t.keywords) for t in res.topics],
                        outliers=res.outlier_share, truths=truths, analyzer=analyzer,
                        stab=res.stability, seconds=secs)
        row["params"] = {k: res.params[k] for k in ("method", "k", "min_topic_size")}
        row["emergent"] = [{"topic": t.topic_id, "label": t.label, "size": t.size,
                            "nearest_theme": t.theme_id, "similarity": t.theme_similarity}
                           for t in res.emergent]
        row["labels"] = {t.topic_id: t.label for t in res.topics}
        rows.append(row)
    k_ours = rows[0]["topics"]  # LDA and NMF get as many topics as our first variant

    log.info("BERTopic defaults ...")
    t0 = time.perf_counter()
    model, labels = bertopic_default(texts, X, embedder, cache, seed)
    secs = time.perf_counter() - t0
    fit = lambda Z, s: bertopic_default([texts[_row(X, z)] for z in Z], Z, embedder,  # noqa: E731
                                        cache, s)[1]
    stab = stability(X, fit, reference=labels, runs=runs, seed=seed)
    rows.append(summarise("BERTopic defaults", labels, bertopic_words(model),
                          outliers=float(np.mean(labels == -1)), truths=truths,
                          analyzer=analyzer, stab=stab, seconds=secs))
    # The same fit with every outlier moved to its nearest topic (stability: not re-measured).
    reduced = np.asarray(model.reduce_outliers(texts, labels.tolist(), strategy="embeddings",
                                               embeddings=X))
    rows.append(summarise("BERTopic defaults + reduce_outliers", reduced,
                          bertopic_words(model), outliers=float(np.mean(labels == -1)),
                          truths=truths, analyzer=analyzer, stab=None, seconds=secs))

    for kind in ("nmf", "lda"):
        log.info("%s ...", kind.upper())
        t0 = time.perf_counter()
        labels, words = sklearn_topics(kind, texts, analyzer, k_ours, seed)
        secs = time.perf_counter() - t0
        fit = lambda Z, s, kind=kind: sklearn_topics(  # noqa: E731
            kind, [texts[_row(X, z)] for z in Z], analyzer, k_ours, s)[0]
        stab = stability(X, fit, reference=labels, runs=runs, seed=seed)
        rows.append(summarise(f"{kind.upper()} (k={k_ours})", labels, words, outliers=0.0,
                              truths=truths, analyzer=analyzer, stab=stab, seconds=secs))
    return rows


def bundled(name: str) -> tuple[Corpus, dict]:
    """A bundled corpus and its truths: hand-coded themes and report section headings."""
    df = corpora.load(name)
    corpus = Corpus(tuple(Response(response_id=r.id, text=r.text, source=r.source,
                                   metadata={"section": r.section, "kind": r.kind})
                          for r in df.itertuples()))
    themes = [list(t) for t in df["themes"]]
    truths = {
        "themes_single": ([t[0] if len(t) == 1 else None for t in themes],
                          np.array([len(t) == 1 for t in themes])),
        "themes_first": ([t[0] if t else None for t in themes],
                         np.array([len(t) >= 1 for t in themes])),
        "sections": ([f"{s}|{h}" for s, h in zip(df["source"], df["section"])],
                     np.ones(len(df), dtype=bool)),
    }
    return corpus, truths


def report_sentences(seeds: Path, exclude: set[str]) -> tuple[Corpus, dict]:
    """The other sentences of the reports the corpus was cut from (60-400 characters, not in
    the corpus), with the heading (## or #) they sit under: a second, larger test set."""
    rows = []
    for f in sorted(seeds.glob("*.txt")):
        top, sub, para = "", "", []
        for line in f.read_text(encoding="utf-8").splitlines() + [""]:
            m = re.match(r"^(#{1,3})\s+(.*)", line)
            if m:
                top, sub = (m.group(2).strip(), "") if len(m.group(1)) == 1 else \
                    (top, m.group(2).strip())
                continue
            if line.strip():
                para.append(line.strip())
                continue
            text, para = re.sub(r"\*\*|\[\d+\]", "", " ".join(para)).strip(), []
            if len(text) < 60 or text.startswith("|"):
                continue
            for sent in re.split(r"(?<=[.!?])\s+(?=[A-Z“‘'\"])", text):
                sent = sent.strip()
                if 60 <= len(sent) <= 400 and " ".join(sent.lower().split()) not in exclude:
                    rows.append((f"{f.stem}:{len(rows)}", sent, f.name, sub or top))
    corpus = Corpus(tuple(Response(response_id=i, text=t, source=src,
                                   metadata={"section": sec}) for i, t, src, sec in rows))
    return corpus, {"sections": ([f"{r[2]}|{r[3]}" for r in rows],
                                 np.ones(len(rows), dtype=bool))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=corpora.DEFAULT_CORPUS)
    ap.add_argument("--runs", type=int, default=5, help="fits behind each stability score")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds-dir", type=Path, default=SEEDS,
                    help="the reports as text, for the report-sentence test set")
    ap.add_argument("--no-sentences", action="store_true", help="skip the report sentences")
    ap.add_argument("--cache-dir", type=Path, default=cache_root(),
                    help="embedding cache (default: the user cache)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("bertopic", "BERTopic", "numba", "sentence_transformers", "nlp.embed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    t_start = time.perf_counter()
    codebook = load_codebook(corpora.codebook_path(args.corpus))
    embedder = get_embedder("st")
    cache = EmbeddingCache(args.cache_dir / "embeddings")
    common = dict(codebook=codebook, embedder=embedder, cache=cache, seed=args.seed,
                  runs=args.runs)

    corpus, truths = bundled(args.corpus)
    out = {"embedder": embedder.model_id, "seed": args.seed, "runs": args.runs,
           "themes": len(codebook.themes), "corpora": {}}
    out["corpora"][args.corpus] = {
        "answers": len(corpus), "single_theme_units": int(truths["themes_single"][1].sum()),
        "coded_units": int(truths["themes_first"][1].sum()),
        "sections": len(set(truths["sections"][0])),
        "rows": run_models(corpus, truths, variants=(
            ("ours: codebook-guided", codebook, "auto"), ("ours: no codebook", None, "auto"),
            ("ours: guided, HDBSCAN regime forced", codebook, "umap-hdbscan")), **common)}
    log.info("%s\n\n%s", args.corpus, table(out["corpora"][args.corpus]["rows"]))

    if not args.no_sentences and args.seeds_dir.is_dir():
        exclude = {" ".join(t.lower().split()) for t in corpus.texts}
        sents, s_truths = report_sentences(args.seeds_dir, exclude)
        out["corpora"]["report-sentences"] = {
            "answers": len(sents), "sections": len(set(s_truths["sections"][0])),
            "rows": run_models(sents, s_truths, variants=(
                ("ours: codebook-guided", codebook, "auto"),
                ("ours: guided, HDBSCAN regime forced", codebook, "umap-hdbscan")), **common)}
        log.info("report sentences\n\n%s", table(out["corpora"]["report-sentences"]["rows"]))
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    log.info("wrote %s in %.0f s", args.out, out["seconds"])


_INDEX: dict[bytes, int] = {}


def _row(X: np.ndarray, z: np.ndarray) -> int:
    """Index of vector `z` in X (stability reruns hand us shuffled vectors, not texts)."""
    if not _INDEX:
        _INDEX.update({x.tobytes(): i for i, x in enumerate(X)})
    return _INDEX[np.asarray(z, dtype=X.dtype).tobytes()]


def table(rows: list[dict]) -> str:
    """The Markdown results table (theme columns only where the corpus has themes)."""
    themed = "themes_single" in rows[0]
    head = "| model | topics | outliers |" + (
        " NMI themes | ARI themes | NMI themes (first) |" if themed else "") + (
        " NMI sections | ARI sections | NPMI | diversity | stability ARI | survival | s/fit |")
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for r in rows:
        s = r.get("stability") or {}
        cells = [r["model"], str(r["topics"]), f"{r['outlier_share']:.1%}"]
        if themed:
            cells += [f"{r['themes_single']['nmi']:.3f}", f"{r['themes_single']['ari']:.3f}",
                      f"{r['themes_first']['nmi']:.3f}"]
        cells += [f"{r['sections']['nmi']:.3f}", f"{r['sections']['ari']:.3f}",
                  f"{r['npmi']:.3f}", f"{r['diversity']:.2f}",
                  f"{s['mean_ari']:.2f}" if s else "-", f"{s['survival']:.0%}" if s else "-",
                  f"{r['seconds_one_fit']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
