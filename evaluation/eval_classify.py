"""Evaluation: theme coding on the bundled corpus and on development consultations in other
domains, each method beside the naive floors run in the same process.

Data:
- the bundled corpus (`corpora/vcs-commissioning`): leave-one-report-out, testing on the
  quotes of the held-out report (the two reports that print quotes give the two folds);
- development consultations (`--devsets DIR`, default `../shared/devsets` beside the
  checkout: one folder each with `codebook.yaml` and `answers.jsonl` of `id`, `text`,
  `themes`); they are read from there and never shipped.

Regimes: the codebook alone (cold start); 5, 10, 20, 30, 40 and 80 confirmed examples (answers
drawn at random from the consultation, tested on the rest, 5 draws pooled; the bundled corpus
draws them from the training reports; nested: a draw's 20 examples hold its 10); the full
training side (bundled corpus only).

Floors, in the same process: `cosine` (MiniLM cosine to "label: definition", themes within
0.05 of the best one) and `logreg` (per-theme class-balanced logistic regression on the raw
vectors of the examples, C=10; themes within 0.2 of the most probable one). Figures: micro-F1
and samples-F1, paired bootstrap 95% intervals of the model's lead, per-theme F1, an ablation
of each part of the cold start, the model with examples against itself without the theme-share
correction (`no_shares`), without the examples' residuals spread over the consultation
(`no_propagation`) and without the examples' per-theme log-odds shifts (`no_intercepts`),
and the relabel time at 100,000 cached answers.

    python evaluation/eval_classify.py            # everything (~5 min on 2 cores, cached)
    python evaluation/eval_classify.py --quick    # no ablation, fewer bootstrap draws
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.base import clone  # noqa: E402

from nlp.classify import Encoded, ThemeClassifier, encode, subset  # noqa: E402
from nlp.classify.encoded import WHOLE  # noqa: E402
from nlp.classify.model import DecisionRule, Learning, LexicalPrior, Prototypes  # noqa: E402
from nlp.codebook import load_codebook  # noqa: E402
from nlp.corpora import DEFAULT_CORPUS, codebook_path, load  # noqa: E402
from nlp.embed import EmbeddingCache, cache_root, embed_texts, get_embedder  # noqa: E402

CORPUS = DEFAULT_CORPUS
SIZES = (5, 10, 20, 30, 40, 80)
SEEDS = 5
# Each part of the cold start switched off, one at a time: parameters of a clone of the model
# (`clone(model).set_params(...)`); "no question" drops the codebook's question.
ABLATIONS = {
    "equal theme shares": {"share_weight": 0.0},
    "no centring": {"prototypes": Prototypes(centre=False)},
    "no per-theme z-scores": {"prototypes": Prototypes(zscore=False)},
    "whole answer only": {"prototypes": Prototypes(sentence_weight=0.0)},
    "best sentence only": {"prototypes": Prototypes(sentence_weight=1.0)},
    "no include examples": {"prototypes": Prototypes(include_weight=0.0)},
    "no exclude examples": {"prototypes": Prototypes(exclude_weight=0.0)},
    "no relative rule": {"rule": DecisionRule(margin_z=1e9)},
    "no question": {"codebook": "without question"},
    "no lexical prior": {"lexical": LexicalPrior(weight=0.0)},
}


def binarize(themes, theme_ids):
    return np.array([[int(t in ts) for t in theme_ids] for ts in themes], dtype=int)


def load_sets(devsets: Path) -> dict:
    """{name: dict(codebook, texts, Y, group, test mask)}"""
    cb = load_codebook(codebook_path(CORPUS))
    df = load(CORPUS)
    sets = {CORPUS: dict(cb=cb, texts=df["text"].tolist(), Y=binarize(df["themes"], cb.theme_ids),
                         group=df["source"].to_numpy(), test=(df["kind"] == "quote").to_numpy(),
                         metric="micro")}
    for d in sorted(devsets.glob("**/answers.jsonl")) if devsets.is_dir() else []:
        cb = load_codebook(d.parent / "codebook.yaml")
        rows = [json.loads(x) for x in d.read_text(encoding="utf-8").splitlines() if x.strip()]
        sets[d.parent.relative_to(devsets).as_posix()] = dict(cb=cb, texts=[r["text"] for r in rows],
                                   Y=binarize([r["themes"] for r in rows], cb.theme_ids),
                                   group=np.zeros(len(rows), int), test=np.ones(len(rows), bool),
                                   metric="samples")
    return sets


# --- floors ---------------------------------------------------------------------------------
def cosine_floor(enc: Encoded, cb, embedder, cache) -> np.ndarray:
    P = embed_texts([f"{t.label}: {t.definition}" for t in cb.themes], embedder=embedder,
                    cache=cache)
    s = enc.whole @ P.T
    return (s >= s.max(1, keepdims=True) - 0.05).astype(int)


def logreg_floor(Xtr, Ytr, Xte) -> np.ndarray:
    """The strongest of the variants tried (C 1/10/100, balanced or not; p >= 0.5, top-2, or
    within 0.1/0.2 of the best) on 20 development examples: C=10, balanced, within 0.2."""
    P = np.zeros((len(Xte), Ytr.shape[1]))
    for k in range(Ytr.shape[1]):
        y = Ytr[:, k]
        if 0 < y.sum() < len(y):
            P[:, k] = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000) \
                .fit(Xtr, y).predict_proba(Xte)[:, 1]
    return (P >= P.max(1, keepdims=True) - 0.2).astype(int)


# --- metrics --------------------------------------------------------------------------------
def f1(Y, P, metric):
    return float(f1_score(Y, P, average=metric, zero_division=0))


def paired(Y, P, Q, metric, n=1000, seed=0):
    """f1(P) - f1(Q) with a paired bootstrap 95% interval over answers."""
    rng = np.random.default_rng(seed)
    d = []
    for _ in range(n):
        i = rng.integers(0, len(Y), len(Y))
        d.append(f1(Y[i], P[i], metric) - f1(Y[i], Q[i], metric))
    return {"lead": round(f1(Y, P, metric) - f1(Y, Q, metric), 4),
            "ci95": [round(float(np.percentile(d, 2.5)), 4),
                     round(float(np.percentile(d, 97.5)), 4)]}


# --- runs -------------------------------------------------------------------------------------
def base_model(s, embedder, cache) -> ThemeClassifier:
    """The model as `nlp code` makes it, for a set's codebook; every variant is a clone."""
    return ThemeClassifier(codebook=s["cb"], embedder=embedder, cache=cache)


def cold(s, enc, model):
    """Codebook alone (a clone of `model`); the test side of each group is the consultation."""
    Ys, Ps, Fs = [], [], []
    for g in np.unique(s["group"]):
        te = np.flatnonzero((s["group"] == g) & s["test"])
        if not len(te):
            continue
        m = clone(model).fit()
        Ps.append(m.predict(subset(enc, te)))
        Fs.append(cosine_floor(subset(enc, te), s["cb"], model.embedder, model.cache))
        Ys.append(s["Y"][te])
    return np.vstack(Ys), np.vstack(Ps), np.vstack(Fs)


def _score_split(s, enc, model, train, test, consultation, out) -> None:
    """Fit clones of `model` on `train`, code `test` (the prior's statistics from
    `consultation`), and append the model's, its variants', the cold start's and both floors'
    decisions and the gold to `out`."""
    Y = s["Y"]
    ex, cons, tested = subset(enc, train), subset(enc, consultation), subset(enc, test)

    def fitted(m, examples=True):
        return (m.fit(ex, Y[train]) if examples else m.fit()).calibrate(cons)

    m = fitted(clone(model))
    c0 = fitted(clone(model), examples=False)
    # the same model without the theme-share correction
    m0 = fitted(clone(model).set_params(learning=Learning(prevalence=False)))
    out["no_shares"].append(m0.predict(tested))
    # the same model without the examples' residuals spread over the consultation
    mp = fitted(clone(model).set_params(propagate_weight=0.0))
    out["no_propagation"].append(mp.predict(tested))
    # ... and without the examples' per-theme log-odds shifts (nlp.classify.intercepts)
    mi = fitted(clone(model).set_params(intercepts=False))
    out["no_intercepts"].append(mi.predict(tested))
    out["model"].append(m.predict(tested))
    out["cold"].append(c0.predict(tested))
    out["cosine"].append(cosine_floor(tested, s["cb"], model.embedder, model.cache))
    out["logreg"].append(logreg_floor(enc.whole[train], Y[train], enc.whole[test]))
    out["gold"].append(Y[test])


def _splits(s):
    """(held-out group's test rows, the other groups' rows) per group; one group: all rows."""
    one = len(np.unique(s["group"])) == 1
    for g in np.unique(s["group"]):
        te = np.flatnonzero((s["group"] == g) & s["test"])
        if len(te):
            yield te, (np.arange(len(s["Y"])) if one else np.flatnonzero(s["group"] != g)), one


def with_examples(s, enc, model, n):
    """n confirmed examples drawn at random (from the training reports for the bundled
    corpus), tested on the rest; pooled over SEEDS draws. The draws are nested: each seed
    orders the pool once and the n examples are the first n of that order, so the 20
    examples of a seed hold its 10 and 30 hold its 20, as a researcher's review grows."""
    out = {"gold": [], "model": [], "cold": [], "cosine": [], "logreg": [], "no_shares": [],
           "no_propagation": [], "no_intercepts": []}
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        for te, pool, one in _splits(s):
            ex = np.sort(rng.permutation(pool)[:n])
            te = np.setdiff1d(te, ex)
            _score_split(s, enc, model, ex, te, np.union1d(ex, te) if one else te, out)
    return {k: np.vstack(v) for k, v in out.items()}


def full(s, enc, model):
    """Leave-one-report-out with every unit of the training reports (the prior's statistics
    from the held-out report, as when a new report is coded)."""
    out = {"gold": [], "model": [], "cold": [], "cosine": [], "logreg": [], "no_shares": [],
           "no_propagation": [], "no_intercepts": []}
    for te, tr, _ in _splits(s):
        _score_split(s, enc, model, tr, te, te, out)
    return {k: np.vstack(v) for k, v in out.items()}


def ablation(s, enc, model):
    """The cold start with each part switched off (ABLATIONS), beside the whole of it."""
    rows = {"full cold start": round(f1(*cold(s, enc, model)[:2], s["metric"]), 4)}
    for name, params in ABLATIONS.items():
        if params.get("codebook") == "without question":
            params = {"codebook": dataclasses.replace(s["cb"], question=None)}
        variant = clone(model).set_params(**params)
        rows[name] = round(f1(*cold(s, enc, variant)[:2], s["metric"]), 4)
    return rows


def relabel_time(enc, Y, model, texts, n_corpus=100_000, segs=2, repeats=5):
    """Seconds to refit on every example, recalibrate on n_corpus cached answers and re-score
    them (median of `repeats`), and the bare similarity products of those vectors as the
    baseline. The answers are the corpus's texts made unique; their lexical similarities are
    computed once, as a project's first coding run does, and reused by every refresh."""
    rng = np.random.default_rng(0)
    d = enc.whole.shape[1]

    def unit(m):
        v = rng.normal(size=(m, d)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    big = Encoded(whole=unit(n_corpus), seg=unit(n_corpus * segs),
                  seg_owner=np.repeat(np.arange(n_corpus), segs),
                  texts=[f"{texts[i % len(texts)]} ({i})" for i in range(n_corpus)])
    t = time.perf_counter()
    clone(model).fit(enc, Y).calibrate(big)
    first = time.perf_counter() - t
    tot, base = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        m = clone(model).fit(enc, Y)
        m.calibrate(big)
        m.decide(m.predict_proba(big))
        tot.append(time.perf_counter() - t)
        t = time.perf_counter()
        _ = big.whole @ m.theme_vec_.T, big.seg @ m.theme_vec_.T
        base.append(time.perf_counter() - t)
    return {"answers": n_corpus, "examples": int(len(Y)),
            "first_calibration_s": round(first, 2),
            "refit_and_rescore_s_median": round(statistics.median(tot), 3),
            "bare_similarity_s_median": round(statistics.median(base), 3),
            "ratio": round(statistics.median(tot) / max(statistics.median(base), 1e-9), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default=None,
                    help="embedder spec (default: the toolkit's default, as nlp code uses)")
    ap.add_argument("--devsets", default=str(ROOT.parent.parent / "shared" / "devsets"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="numbers of confirmed examples, comma-separated")
    ap.add_argument("--only", default="", help="comma-separated set names (default: all)")
    ap.add_argument("--whole", choices=("context", "embed", "mean"), default=None,
                    help="how answers and sentences are embedded (nlp.classify.encoded.WHOLE): "
                         "context (default: each answer run once, its sentences pooled from "
                         "that run), embed (the reference: answer and sentences apart) or mean "
                         "(sentences apart, the answer their mean)")
    ap.add_argument("--out", default=str(ROOT / "results" / "classify.json"))
    args = ap.parse_args()
    whole = args.whole or WHOLE
    embedder = get_embedder(args.embedder)
    cache = EmbeddingCache(cache_root())
    sets = load_sets(Path(args.devsets))
    if args.only:
        sets = {k: v for k, v in sets.items() if k in args.only.split(",")}
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if len(sets) == 1:
        print(f"no development consultations under {args.devsets}: bundled corpus only")
    res = {"embedder": embedder.model_id, "whole": whole, "seeds": SEEDS, "sizes": sizes,
           "sets": {}}
    for name, s in sets.items():
        enc = encode(s["texts"], embedder, cache=cache, progress=True, whole=whole)
        model = base_model(s, embedder, cache)
        m = s["metric"]
        r = {"metric": f"{m}-F1", "answers": len(s["texts"]), "regimes": {}}
        G, P, F = cold(s, enc, model)
        r["regimes"]["cold"] = {"model": round(f1(G, P, m), 4), "cosine": round(f1(G, F, m), 4),
                                "micro_f1": round(f1(G, P, "micro"), 4),
                                "lead_vs_cosine": paired(G, P, F, m),
                                "per_theme_f1": dict(zip(s["cb"].theme_ids, np.round(f1_score(
                                    G, P, average=None, zero_division=0), 3).tolist()))}
        for n in sizes:
            o = with_examples(s, enc, model, n)
            r["regimes"][str(n)] = {
                k: round(f1(o["gold"], o[k], m), 4)
                for k in ("model", "cold", "cosine", "logreg", "no_shares",
                          "no_propagation", "no_intercepts")}
            r["regimes"][str(n)].update({
                f"lead_vs_{b}": paired(o["gold"], o["model"], o[b], m)
                for b in ("cold", "cosine", "logreg", "no_shares",
                          "no_propagation", "no_intercepts")})
        if len(np.unique(s["group"])) > 1:
            o = full(s, enc, model)
            r["regimes"]["full"] = {k: round(f1(o["gold"], o[k], m), 4)
                                    for k in ("model", "cold", "cosine", "logreg", "no_shares",
                          "no_propagation", "no_intercepts")}
            r["regimes"]["full"].update({f"lead_vs_{b}": paired(o["gold"], o["model"], o[b], m)
                                         for b in ("cold", "cosine", "logreg", "no_shares",
                          "no_propagation", "no_intercepts")})
            r["regimes"]["full"]["per_theme_f1"] = dict(zip(s["cb"].theme_ids, np.round(
                f1_score(o["gold"], o["model"], average=None, zero_division=0), 3).tolist()))
            r["relabel"] = relabel_time(enc, s["Y"], model, s["texts"])
        if not args.quick:
            r["ablation_cold"] = ablation(s, enc, model)
        res["sets"][name] = r
        print_set(name, r)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")


def print_set(name, r):
    print(f"\n== {name}: {r['answers']} answers, {r['metric']}")
    for reg, v in r["regimes"].items():
        leads = "; ".join(f"{k[8:]} {x['lead']:+.3f} [{x['ci95'][0]:+.3f}, {x['ci95'][1]:+.3f}]"
                          for k, x in v.items() if k.startswith("lead_vs_"))
        figs = ", ".join(f"{k} {x:.3f}" for k, x in v.items() if isinstance(x, float))
        print(f"{reg:>5}: {figs} | lead: {leads}")
    for k, v in r.get("ablation_cold", {}).items():
        print(f"  ablation {k:<24} {v:.3f}")
    if "relabel" in r:
        x = r["relabel"]
        print(f"relabel: refit on {x['examples']} + rescore {x['answers']:,} answers "
              f"{x['refit_and_rescore_s_median']:.2f} s (median; {x['ratio']}x the bare "
              f"similarity products; the first calibration with its lexical similarities "
              f"{x['first_calibration_s']:.1f} s)")


if __name__ == "__main__":
    main()
