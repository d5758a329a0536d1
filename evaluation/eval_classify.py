"""Evaluation: theme classifier, leave-one-report-out on the bundled corpus, beside baselines.

Train on three reports (quotes and report prose), test on the quotes of the fourth; predictions
of all folds are pooled. Prints per-theme precision/recall/F1, micro/macro F1 with bootstrap
95% intervals, Cohen's kappa (model as a second coder), ECE, learning curves and retrain time,
and writes evaluation/results/classify.json.

    python evaluation/eval_classify.py [--embedder st] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support  # noqa: E402

from nlp.classify import Encoded, ThemeClassifier, encode  # noqa: E402
from nlp.codebook import load_codebook  # noqa: E402
from nlp.corpora import codebook_path, load  # noqa: E402
from nlp.embed import EmbeddingCache, cache_root, get_embedder  # noqa: E402

FOCUS = ["bid_candy", "subsidising_contracts", "poor_communication", "eu_rules_risk_aversion"]


def binarize(themes, theme_ids):
    return np.array([[int(t in ts) for t in theme_ids] for ts in themes], dtype=int)


def subset(enc: Encoded, idx: np.ndarray) -> Encoded:
    """Rows `idx` of an Encoded (segments follow their answers)."""
    idx = np.asarray(idx)
    mask = np.isin(enc.seg_owner, idx)
    remap = {int(o): i for i, o in enumerate(idx)}
    order = np.argsort([remap[int(o)] for o in enc.seg_owner[mask]], kind="stable")
    owners = np.array([remap[int(o)] for o in enc.seg_owner[mask]])[order]
    return Encoded(whole=enc.whole[idx], seg=enc.seg[mask][order], seg_owner=owners)


# --- baselines ----------------------------------------------------------------------------
def keyword_rules(codebook, texts):
    """Keyword rules from the codebook: a theme applies when a word of its label, or two words
    of its include examples, appear in the answer (lower-cased, stop words removed)."""
    def words(s):
        return {w for w in re.findall(r"[a-z]+", s.lower()) if w not in ENGLISH_STOP_WORDS
                and len(w) > 2}
    out = np.zeros((len(texts), len(codebook.themes)), dtype=int)
    for j, t in enumerate(codebook.themes):
        label = words(t.label)
        inc = set().union(*[words(x) for x in t.include]) if t.include else set()
        for i, text in enumerate(texts):
            w = words(text)
            out[i, j] = int(bool(w & label) or len(w & inc) >= 2)
    return out


def tfidf_lr(train_texts, Ytr, test_texts):
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, stop_words="english")
    Xtr, Xte = vec.fit_transform(train_texts), vec.transform(test_texts)
    out = np.zeros((len(test_texts), Ytr.shape[1]), dtype=int)
    for j in range(Ytr.shape[1]):
        if 0 < Ytr[:, j].sum() < len(Ytr):
            lr = LogisticRegression(C=10, class_weight="balanced", max_iter=1000)
            out[:, j] = lr.fit(Xtr, Ytr[:, j]).predict(Xte)
    return out


# --- metrics ------------------------------------------------------------------------------
def bootstrap(Y, P, fn, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(Y), len(Y))
        vals.append(fn(Y[i], P[i]))
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def micro(Y, P):
    return f1_score(Y, P, average="micro", zero_division=0)


def macro(Y, P):
    keep = Y.sum(0) > 0
    return f1_score(Y[:, keep], P[:, keep], average="macro", zero_division=0)


def ece(Y, proba, bins=10):
    y, p = Y.ravel(), proba.ravel()
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p >= lo) & (p < hi if hi < 1 else p <= hi)
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def summarise(name, Y, P, theme_ids):
    pr, rc, f1, sup = precision_recall_fscore_support(Y, P, zero_division=0)
    kappa_all = cohen_kappa_score(Y.ravel(), P.ravel())
    return {
        "method": name,
        "micro_f1": float(micro(Y, P)), "micro_f1_ci": bootstrap(Y, P, micro),
        "macro_f1": float(macro(Y, P)), "macro_f1_ci": bootstrap(Y, P, macro),
        "kappa_pooled": float(kappa_all),
        "per_theme": {t: {"precision": float(pr[j]), "recall": float(rc[j]), "f1": float(f1[j]),
                          "support": int(sup[j]),
                          "kappa": float(cohen_kappa_score(Y[:, j], P[:, j]))
                          if len(set(Y[:, j])) > 1 or len(set(P[:, j])) > 1 else 1.0}
                      for j, t in enumerate(theme_ids)},
    }


# --- main ---------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="st")
    ap.add_argument("--quick", action="store_true", help="skip learning curves and bootstrap")
    ap.add_argument("--out", default=str(ROOT / "results" / "classify.json"))
    args = ap.parse_args()

    codebook = load_codebook(codebook_path("vcs-commissioning"))
    theme_ids = codebook.theme_ids
    df = load("vcs-commissioning")
    texts = df["text"].tolist()
    Y = binarize(df["themes"], theme_ids)
    embedder = get_embedder(args.embedder)
    cache = EmbeddingCache(cache_root())
    t0 = time.perf_counter()
    enc = encode(texts, embedder, cache=cache, progress=True)
    print(f"embedded {len(texts)} units with {embedder.model_id} in "
          f"{time.perf_counter() - t0:.1f}s")

    reports = sorted(df["source"].unique())
    is_quote = (df["kind"] == "quote").to_numpy()
    preds = {m: [] for m in ("ours", "zero_shot", "keywords", "tfidf_lr")}
    probas, golds, test_idx_all = [], [], []
    for rep in reports:
        tr = np.flatnonzero(df["source"].to_numpy() != rep)
        te = np.flatnonzero((df["source"].to_numpy() == rep) & is_quote)
        if len(te) == 0:
            continue
        clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
        clf.fit(subset(enc, tr), Y[tr])
        pr = clf.predict_proba(subset(enc, te))
        preds["ours"].append((pr >= clf.thresholds_).astype(int))
        probas.append(pr)
        zs = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache).fit()
        preds["zero_shot"].append(zs.predict(subset(enc, te)))
        preds["keywords"].append(keyword_rules(codebook, [texts[i] for i in te]))
        preds["tfidf_lr"].append(tfidf_lr([texts[i] for i in tr], Y[tr], [texts[i] for i in te]))
        golds.append(Y[te])
        test_idx_all.append(te)
        print(f"fold {rep}: train {len(tr)}, test quotes {len(te)}")
    G = np.vstack(golds)
    results = {"corpus": "vcs-commissioning", "embedder": embedder.model_id,
               "test_quotes": int(len(G)), "folds": reports, "methods": {}}
    for m, ps in preds.items():
        results["methods"][m] = summarise(m, G, np.vstack(ps), theme_ids)
    Pr = np.vstack(probas)
    results["methods"]["ours"]["ece"] = ece(G, Pr)

    if not args.quick:
        results["learning_curve"] = learning_curve(df, enc, Y, codebook, embedder, cache)
    results["retrain"] = retrain_time(enc, Y, codebook, embedder, cache)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print_table(results, theme_ids)


def learning_curve(df, enc, Y, codebook, embedder, cache, sizes=(0, 5, 10, 20, 50), seeds=3):
    """Leave-one-report-out micro-F1 when training on only n confirmed examples per theme."""
    src = df["source"].to_numpy()
    is_quote = (df["kind"] == "quote").to_numpy()
    out = {}
    for n in sizes:
        scores = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            golds, preds = [], []
            for rep in sorted(set(src)):
                te = np.flatnonzero((src == rep) & is_quote)
                if len(te) == 0:
                    continue
                pool = np.flatnonzero(src != rep)
                chosen: set[int] = set()
                for j in range(Y.shape[1]):
                    pos = pool[Y[pool, j] == 1]
                    chosen |= set(rng.choice(pos, size=min(n, len(pos)), replace=False).tolist())
                neg = pool[Y[pool].sum(1) == 0]
                chosen |= set(rng.choice(neg, size=min(n, len(neg)), replace=False).tolist())
                clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
                idx = np.array(sorted(chosen), dtype=int)
                clf.fit(subset(enc, idx) if len(idx) else None, Y[idx] if len(idx) else None)
                preds.append(clf.predict(subset(enc, te)))
                golds.append(Y[te])
            scores.append(micro(np.vstack(golds), np.vstack(preds)))
        out[str(n)] = {"micro_f1_median": float(statistics.median(scores)),
                       "runs": [float(s) for s in scores]}
        print(f"learning curve n={n}: micro-F1 {out[str(n)]['micro_f1_median']:.3f}")
    return out


def retrain_time(enc, Y, codebook, embedder, cache, n_corpus=100_000, repeats=5):
    """Seconds to refit on every confirmed example and re-score 100k cached answers (median);
    baseline: one matrix product of the 100k vectors with the prototypes."""
    rng = np.random.default_rng(0)
    big = rng.normal(size=(n_corpus, enc.whole.shape[1])).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    big_enc = Encoded(whole=big, seg=big, seg_owner=np.arange(n_corpus))
    fit_s, pred_s, base_s = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache).fit(enc, Y)
        fit_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        clf.predict_proba(big_enc)
        pred_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        _ = big @ clf.proto_.T
        base_s.append(time.perf_counter() - t)
    res = {"examples": int(len(Y)), "corpus": n_corpus,
           "fit_s_median": statistics.median(fit_s), "predict_s_median": statistics.median(pred_s),
           "total_s_median": statistics.median(fit_s) + statistics.median(pred_s),
           "baseline_matmul_s_median": statistics.median(base_s)}
    res["ratio_vs_baseline"] = res["total_s_median"] / max(res["baseline_matmul_s_median"], 1e-9)
    print(f"retrain on {len(Y)} examples + rescore {n_corpus:,}: fit "
          f"{res['fit_s_median']:.2f}s + predict {res['predict_s_median']:.2f}s (median of "
          f"{repeats}); {res['ratio_vs_baseline']:.0f}x one bare similarity matmul")
    return res


def print_table(results, theme_ids):
    ms = results["methods"]
    print(f"\nLeave-one-report-out, {results['test_quotes']} test quotes, {results['embedder']}")
    print(f"{'method':<12} {'micro-F1 [95% CI]':<24} {'macro-F1 [95% CI]':<24} kappa")
    for m, r in ms.items():
        print(f"{m:<12} {r['micro_f1']:.3f} [{r['micro_f1_ci'][0]:.3f}, {r['micro_f1_ci'][1]:.3f}]"
              f"   {r['macro_f1']:.3f} [{r['macro_f1_ci'][0]:.3f}, {r['macro_f1_ci'][1]:.3f}]"
              f"   {r['kappa_pooled']:.3f}")
    print(f"ECE (ours): {ms['ours']['ece']:.3f}")
    print(f"\n{'theme':<34} {'P':>5} {'R':>5} {'F1':>5} {'n':>4}  (ours)")
    for t in theme_ids:
        r = ms["ours"]["per_theme"][t]
        star = " *" if t in FOCUS else ""
        print(f"{t:<34} {r['precision']:.2f}  {r['recall']:.2f}  {r['f1']:.2f} {r['support']:>4}{star}")


if __name__ == "__main__":
    main()
