"""Evaluation: theme classifier, leave-one-report-out on the bundled corpus, beside baselines.

Train on three reports (quotes and report prose), test on the quotes of the fourth; predictions
of all folds are pooled (only two reports print quotes, so two folds have a test side).
Everything the model learns comes from the training reports of its fold: the theme-agnostic
prior constants are refitted on them, and C is chosen on them by an inner leave-one-report-out
(nested), for the model and for the TF-IDF baseline alike. Prints and writes
(evaluation/results/classify.json): per-theme precision/recall/F1, micro/macro F1 with
bootstrap 95% intervals, paired bootstrap intervals of the model's lead over each baseline,
Cohen's kappa (model as a second coder), ECE with a reliability table, a supplementary run that
tests on every unit of the held-out report (prose too), learning curves, retrain time at 100k
cached answers, and the same evaluation for each embedding backend.

    python evaluation/eval_classify.py                     # everything (~10 min on 2 cores)
    python evaluation/eval_classify.py --quick             # no learning curve, backends, bootstrap
    python evaluation/eval_classify.py --fit-prior         # print DEFAULT_PRIOR_* (nlp/classify.py)
    python evaluation/eval_classify.py --select-C          # print DEFAULT_C for nlp/classify.py
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

from nlp.classify import (C_GRID, Encoded, ThemeClassifier, encode, fit_prior,  # noqa: E402
                          select_C, subset)
from nlp.codebook import load_codebook  # noqa: E402
from nlp.corpora import codebook_path, load  # noqa: E402
from nlp.embed import EmbeddingCache, cache_root, get_embedder  # noqa: E402

CORPUS = "vcs-commissioning"
FOCUS = ["bid_candy", "subsidising_contracts", "poor_communication", "eu_rules_risk_aversion"]
BASELINES = ["keywords", "tfidf_lr", "zero_shot"]
BACKENDS = ["st", "onnx", "onnx-int8", "model2vec"]


def binarize(themes, theme_ids):
    return np.array([[int(t in ts) for t in theme_ids] for ts in themes], dtype=int)


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


def tfidf_lr(train_texts, Ytr, test_texts, C=10.0):
    """TF-IDF (1-2 grams) + one-vs-rest class-balanced logistic regression, cut at 0.5."""
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, stop_words="english")
    Xtr, Xte = vec.fit_transform(train_texts), vec.transform(test_texts)
    out = np.zeros((len(test_texts), Ytr.shape[1]), dtype=int)
    for j in range(Ytr.shape[1]):
        if 0 < Ytr[:, j].sum() < len(Ytr):
            lr = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
            out[:, j] = lr.fit(Xtr, Ytr[:, j]).predict(Xte)
    return out


def tfidf_select_C(texts, Y, groups, grid=C_GRID + (30.0, 100.0)):
    """The TF-IDF baseline's C, by the same inner leave-one-report-out as the model's."""
    groups = np.asarray(groups)
    scores = {}
    for c in grid:
        gold, pred = [], []
        for g in np.unique(groups):
            tr, te = np.flatnonzero(groups != g), np.flatnonzero(groups == g)
            pred.append(tfidf_lr([texts[i] for i in tr], Y[tr], [texts[i] for i in te], C=c))
            gold.append(Y[te])
        scores[str(c)] = float(micro(np.vstack(gold), np.vstack(pred)))
    best = max(sorted(grid), key=lambda c: (round(scores[str(c)], 6), -c))
    return float(best), scores


# --- metrics ------------------------------------------------------------------------------
def micro(Y, P):
    return f1_score(Y, P, average="micro", zero_division=0)


def macro(Y, P):
    """Macro-F1 over the themes that occur in the gold."""
    keep = Y.sum(0) > 0
    return f1_score(Y[:, keep], P[:, keep], average="macro", zero_division=0)


def bootstrap(Y, P, fn, n=1000, seed=0):
    """95% percentile interval of fn over answers resampled with replacement."""
    rng = np.random.default_rng(seed)
    vals = [fn(Y[i], P[i]) for i in (rng.integers(0, len(Y), len(Y)) for _ in range(n))]
    return [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))]


def paired_diff(Y, P, Q, fn=None, n=1000, seed=0):
    """fn(P) - fn(Q) with a paired bootstrap 95% interval (the same resampled answers) and the
    share of resamples in which P does not lead."""
    fn = fn or micro
    rng = np.random.default_rng(seed)
    d = []
    for _ in range(n):
        i = rng.integers(0, len(Y), len(Y))
        d.append(fn(Y[i], P[i]) - fn(Y[i], Q[i]))
    return {"diff": float(fn(Y, P) - fn(Y, Q)),
            "ci": [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))],
            "p_not_ahead": float(np.mean(np.array(d) <= 0))}


def reliability(Y, proba, bins=10):
    """Reliability over every (answer, theme) pair: per equal-width probability bin, pairs,
    mean predicted probability and observed rate; and ECE, their count-weighted gap."""
    y, p = Y.ravel(), proba.ravel()
    edges = np.linspace(0, 1, bins + 1)
    rows, total = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
            rows.append({"bin": [round(float(lo), 1), round(float(hi), 1)], "pairs": int(m.sum()),
                         "mean_p": float(p[m].mean()), "observed": float(y[m].mean())})
    return float(total), rows


def summarise(name, Y, P, theme_ids, boot=True):
    pr, rc, f1, sup = precision_recall_fscore_support(Y, P, zero_division=0)
    out = {
        "method": name,
        "micro_f1": float(micro(Y, P)), "macro_f1": float(macro(Y, P)),
        "kappa_pooled": float(cohen_kappa_score(Y.ravel(), P.ravel())),
        "per_theme": {t: {"precision": float(pr[j]), "recall": float(rc[j]),
                          "f1": float(f1[j]) if sup[j] else None, "support": int(sup[j]),
                          "predicted": int(P[:, j].sum()),
                          "kappa": float(cohen_kappa_score(Y[:, j], P[:, j]))
                          if len(set(Y[:, j]) | set(P[:, j])) > 1 else None}
                      for j, t in enumerate(theme_ids)},
    }
    if boot:
        out["micro_f1_ci"] = bootstrap(Y, P, micro)
        out["macro_f1_ci"] = bootstrap(Y, P, macro)
    return out


# --- leave one report out -----------------------------------------------------------------
def prior_features(codebook, embedder, cache, enc):
    probe = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache).fit()
    return probe._prior_features(enc)


def loro(df, enc, Y, codebook, embedder, cache, *, test_kinds=("quote",), baselines=True,
         log=print):
    """Leave-one-report-out; returns pooled gold, predictions and probabilities per method,
    and what each fold chose."""
    texts = df["text"].tolist()
    src = df["source"].to_numpy()
    kind_ok = df["kind"].isin(test_kinds).to_numpy()
    F = prior_features(codebook, embedder, cache, enc)
    methods = ["model"] + (BASELINES if baselines else ["zero_shot"])
    preds = {m: [] for m in methods}
    probas = {"model": [], "zero_shot": []}
    golds, folds = [], []
    for rep in sorted(set(src)):
        tr = np.flatnonzero(src != rep)
        te = np.flatnonzero((src == rep) & kind_ok)
        if len(te) == 0:
            continue
        prior = fit_prior(F[tr], Y[tr])
        C, c_scores = select_C(subset(enc, tr), Y[tr], src[tr], codebook=codebook,
                               embedder=embedder, cache=cache, prior=prior)
        clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache, C=C,
                              prior=prior).fit(subset(enc, tr), Y[tr])
        pr = clf.predict_proba(subset(enc, te))
        preds["model"].append((pr >= clf.thresholds_).astype(int))
        probas["model"].append(pr)
        zs = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache,
                             prior=prior).fit()
        pz = zs.predict_proba(subset(enc, te))
        preds["zero_shot"].append((pz >= zs.thresholds_).astype(int))
        probas["zero_shot"].append(pz)
        fold = {"test_report": rep, "train_units": int(len(tr)), "test_units": int(len(te)),
                "prior": {"coef": [round(float(x), 3) for x in prior[0]],
                          "intercept": round(float(prior[1]), 3),
                          "threshold": round(float(prior[2]), 3)},
                "C": C, "C_inner": c_scores,
                "stacked_themes": int(clf.stacked_.sum())}
        if baselines:
            preds["keywords"].append(keyword_rules(codebook, [texts[i] for i in te]))
            tC, _ = tfidf_select_C([texts[i] for i in tr], Y[tr], src[tr])
            preds["tfidf_lr"].append(tfidf_lr([texts[i] for i in tr], Y[tr],
                                              [texts[i] for i in te], C=tC))
            fold["tfidf_C"] = tC
        golds.append(Y[te])
        folds.append(fold)
        log(f"fold {rep}: train {len(tr)}, test {len(te)}; C={C} (inner log loss "
            f"{ {k: round(v['log_loss'], 4) for k, v in c_scores.items()} }); "
            f"prior {fold['prior']}")
    return (np.vstack(golds), {m: np.vstack(p) for m, p in preds.items()},
            {m: np.vstack(p) for m, p in probas.items()}, folds)


def learning_curve(df, enc, Y, codebook, embedder, cache, folds, sizes=(0, 5, 10, 20, 50),
                   seeds=5):
    """LORO micro-F1 when only n confirmed examples per theme (and n answers with no theme)
    are drawn from the training reports; each fold keeps the prior constants and C that it
    chose on its full training side. Median over seeds; TF-IDF + LR on the same draws."""
    texts = df["text"].tolist()
    src = df["source"].to_numpy()
    is_quote = (df["kind"] == "quote").to_numpy()
    fold_of = {f["test_report"]: f for f in folds}
    out = {}
    for n in sizes:
        scores, tf_scores, n_ex = [], [], []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            golds, preds, tf_preds, used = [], [], [], 0
            for rep, f in fold_of.items():
                te = np.flatnonzero((src == rep) & is_quote)
                pool = np.flatnonzero(src != rep)
                chosen: set[int] = set()
                for j in range(Y.shape[1]):
                    pos = pool[Y[pool, j] == 1]
                    chosen |= set(rng.choice(pos, size=min(n, len(pos)), replace=False).tolist())
                neg = pool[Y[pool].sum(1) == 0]
                chosen |= set(rng.choice(neg, size=min(n, len(neg)), replace=False).tolist())
                idx = np.array(sorted(chosen), dtype=int)
                used += len(idx)
                p = f["prior"]
                clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache,
                                      C=f["C"], prior=(p["coef"], p["intercept"],
                                                       p["threshold"]))
                clf.fit(subset(enc, idx) if len(idx) else None, Y[idx] if len(idx) else None)
                preds.append(clf.predict(subset(enc, te)))
                if len(idx):
                    tf_preds.append(tfidf_lr([texts[i] for i in idx], Y[idx],
                                             [texts[i] for i in te], C=f.get("tfidf_C", 10.0)))
                else:
                    tf_preds.append(np.zeros_like(Y[te]))
                golds.append(Y[te])
            scores.append(micro(np.vstack(golds), np.vstack(preds)))
            tf_scores.append(micro(np.vstack(golds), np.vstack(tf_preds)))
            n_ex.append(used / len(fold_of))
            if n == 0:
                break  # nothing is drawn: every seed is the same
        out[str(n)] = {"micro_f1_median": float(statistics.median(scores)),
                       "micro_f1_runs": [float(s) for s in scores],
                       "tfidf_lr_micro_f1_median": float(statistics.median(tf_scores)),
                       "examples_per_fold_median": float(statistics.median(n_ex))}
        print(f"learning curve n={n}: model {out[str(n)]['micro_f1_median']:.3f}, TF-IDF+LR "
              f"{out[str(n)]['tfidf_lr_micro_f1_median']:.3f} "
              f"({out[str(n)]['examples_per_fold_median']:.0f} examples a fold)")
    return out


def retrain_time(enc, Y, codebook, embedder, cache, n_corpus=100_000, segs_per_answer=2,
                 repeats=5):
    """Seconds to refit on every confirmed example and re-score n_corpus cached answers
    (`segs_per_answer` sentences each, as in the corpus), median of `repeats`; baseline in the
    same process: the bare similarity products of those vectors with the theme prototypes."""
    rng = np.random.default_rng(0)
    d = enc.whole.shape[1]

    def unit(m):
        v = rng.normal(size=(m, d)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    big = Encoded(whole=unit(n_corpus), seg=unit(n_corpus * segs_per_answer),
                  seg_owner=np.repeat(np.arange(n_corpus), segs_per_answer))
    fit_s, pred_s, base_s = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache).fit(enc, Y)
        fit_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        clf.predict_proba(big)
        pred_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        _ = big.whole @ clf.proto_.T, big.seg @ clf.proto_.T
        base_s.append(time.perf_counter() - t)
    total = [f + p for f, p in zip(fit_s, pred_s)]
    res = {"examples": int(len(Y)), "corpus": n_corpus, "segments": int(len(big.seg)),
           "repeats": repeats, "fit_s_median": statistics.median(fit_s),
           "predict_s_median": statistics.median(pred_s),
           "total_s_median": statistics.median(total),
           "baseline_similarity_s_median": statistics.median(base_s)}
    res["ratio_vs_baseline"] = res["total_s_median"] / max(res["baseline_similarity_s_median"],
                                                           1e-9)
    print(f"retrain on {len(Y)} examples + rescore {n_corpus:,} answers ({len(big.seg):,} "
          f"sentences): fit {res['fit_s_median']:.2f}s + predict {res['predict_s_median']:.2f}s "
          f"= {res['total_s_median']:.2f}s (median of {repeats}); "
          f"{res['ratio_vs_baseline']:.1f}x the bare similarity products")
    return res


def backend_comparison(df, Y, codebook, cache, backends, reference, log=print):
    """LORO micro-F1 of the model on each embedding backend (same procedure: prior and C
    refitted per fold), with the paired bootstrap difference from `reference`."""
    rows, preds = {}, {}
    gold = None
    for spec in backends:
        emb = get_embedder(spec)
        t0 = time.perf_counter()
        enc = encode(df["text"].tolist(), emb, cache=cache)
        secs = time.perf_counter() - t0
        G, P, _, folds = loro(df, enc, Y, codebook, emb, cache, baselines=False,
                              log=lambda *_: None)
        gold = G if gold is None else gold
        preds[spec] = P
        rows[spec] = {"model_id": emb.model_id, "micro_f1": float(micro(G, P["model"])),
                      "macro_f1": float(macro(G, P["model"])),
                      "zero_shot_micro_f1": float(micro(G, P["zero_shot"])),
                      "micro_f1_ci": bootstrap(G, P["model"], micro),
                      "C": [f["C"] for f in folds], "embed_s_this_run": round(secs, 1)}
        log(f"backend {spec}: micro-F1 {rows[spec]['micro_f1']:.3f} (zero-shot "
            f"{rows[spec]['zero_shot_micro_f1']:.3f})")
    if reference in preds:
        for spec in backends:
            rows[spec]["delta_vs_" + reference] = paired_diff(
                gold, preds[spec]["model"], preds[reference]["model"])
    return rows


# --- main ---------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="st")
    ap.add_argument("--quick", action="store_true",
                    help="skip bootstrap, the supplementary run, learning curves, backends")
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="embedding backends to compare ('' for none)")
    ap.add_argument("--fit-prior", action="store_true",
                    help="fit the prior constants on every unit, print them and exit")
    ap.add_argument("--select-C", dest="select_c", action="store_true",
                    help="choose C by leave-one-report-out on every unit, print it and exit")
    ap.add_argument("--out", default=str(ROOT / "results" / "classify.json"))
    args = ap.parse_args()

    codebook = load_codebook(codebook_path(CORPUS))
    theme_ids = codebook.theme_ids
    df = load(CORPUS)
    Y = binarize(df["themes"], theme_ids)
    src = df["source"].to_numpy()
    embedder = get_embedder(args.embedder)
    cache = EmbeddingCache(cache_root())
    t0 = time.perf_counter()
    enc = encode(df["text"].tolist(), embedder, cache=cache, progress=True)
    print(f"embedded {len(df)} units with {embedder.model_id} in "
          f"{time.perf_counter() - t0:.1f}s")

    if args.fit_prior:
        F = prior_features(codebook, embedder, cache, enc)
        coef, b, thr = fit_prior(F, Y)
        print("every unit:", np.round(coef, 2).tolist(), round(b, 2), round(thr, 2))
        for rep in sorted(set(src)):  # how much one report moves them
            c2, b2, t2 = fit_prior(F[src != rep], Y[src != rep])
            print(f"without {rep}:", np.round(c2, 2).tolist(), round(b2, 2), round(t2, 2))
        print(f"\nDEFAULT_PRIOR_COEF = np.array({np.round(coef, 2).tolist()})\n"
              f"DEFAULT_PRIOR_INTERCEPT = {round(b, 2)}\nDEFAULT_PRIOR_THRESHOLD = {round(thr, 2)}")
        return
    if args.select_c:
        F = prior_features(codebook, embedder, cache, enc)
        C, scores = select_C(enc, Y, src, codebook=codebook, embedder=embedder, cache=cache,
                             prior=fit_prior(F, Y))
        print(f"leave-one-report-out (every unit) by C: {scores}\nDEFAULT_C = {C}")
        return

    boot = not args.quick
    G, P, PR, folds = loro(df, enc, Y, codebook, embedder, cache)
    results = {"corpus": CORPUS, "codebook_version": codebook.version,
               "embedder": embedder.model_id, "test": "quotes of the held-out report",
               "test_quotes": int(len(G)), "folds": folds, "methods": {}}
    for m in ["model", *BASELINES]:
        results["methods"][m] = summarise(m, G, P[m], theme_ids, boot=boot)
    for m in ("model", "zero_shot"):
        e, rows = reliability(G, PR[m])
        results["methods"][m]["ece"] = e
        results["methods"][m]["reliability"] = rows
    if boot:
        results["model_minus_baseline_micro_f1"] = {
            b: paired_diff(G, P["model"], P[b]) for b in BASELINES}
        results["model_minus_baseline_macro_f1"] = {
            b: paired_diff(G, P["model"], P[b], fn=macro) for b in BASELINES}
        Ga, Pa, _, folds_a = loro(df, enc, Y, codebook, embedder, cache,
                                  test_kinds=("quote", "report_prose"))
        results["all_units"] = {
            "test": "every unit (quotes and report prose) of the held-out report",
            "test_units": int(len(Ga)),
            "methods": {m: summarise(m, Ga, Pa[m], theme_ids) for m in ["model", *BASELINES]},
            "model_minus_baseline_micro_f1": {b: paired_diff(Ga, Pa["model"], Pa[b])
                                              for b in BASELINES}}
        results["learning_curve"] = learning_curve(df, enc, Y, codebook, embedder, cache, folds)
    results["retrain"] = retrain_time(enc, Y, codebook, embedder, cache)
    backends = [b for b in args.backends.split(",") if b] if not args.quick else []
    if backends:
        results["backends"] = backend_comparison(df, Y, codebook, cache, backends,
                                                 reference=args.embedder)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print_table(results, theme_ids)


def print_table(results, theme_ids):
    ms = results["methods"]
    print(f"\nLeave-one-report-out, {results['test_quotes']} test quotes, {results['embedder']}")
    print(f"{'method':<12} {'micro-F1 [95% CI]':<24} {'macro-F1 [95% CI]':<24} kappa")
    for m, r in ms.items():
        ci = r.get("micro_f1_ci", [float("nan")] * 2)
        cm = r.get("macro_f1_ci", [float("nan")] * 2)
        print(f"{m:<12} {r['micro_f1']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]   "
              f"{r['macro_f1']:.3f} [{cm[0]:.3f}, {cm[1]:.3f}]   {r['kappa_pooled']:.3f}")
    for b, d in results.get("model_minus_baseline_micro_f1", {}).items():
        print(f"model - {b}: {d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]")
    print(f"ECE: model {ms['model']['ece']:.3f}, zero-shot {ms['zero_shot']['ece']:.3f}")
    print(f"\n{'theme':<34} {'P':>5} {'R':>5} {'F1':>5} {'n':>4}  (model)")
    for t in theme_ids:
        r = ms["model"]["per_theme"][t]
        star = " *" if t in FOCUS else ""
        f1 = f"{r['f1']:.2f}" if r["f1"] is not None else "  - "
        print(f"{t:<34} {r['precision']:.2f}  {r['recall']:.2f}  {f1} {r['support']:>4}{star}")
    if "all_units" in results:
        a = results["all_units"]["methods"]
        print(f"\nall units of the held-out report ({results['all_units']['test_units']}): "
              + ", ".join(f"{m} {r['micro_f1']:.3f}" for m, r in a.items()))
        print("  focus F1 (model): " + ", ".join(
            f"{t} {a['model']['per_theme'][t]['f1']}" for t in FOCUS))
    for spec, r in results.get("backends", {}).items():
        d = next((v for k, v in r.items() if k.startswith("delta_vs_")), None)
        print(f"backend {spec:<10} micro-F1 {r['micro_f1']:.3f}"
              + (f"  delta {d['diff']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]" if d else ""))


if __name__ == "__main__":
    main()
