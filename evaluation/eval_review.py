"""Evaluation: a simulated review, in the tool's order against random order and no learning.

A researcher reviews a consultation in batches of 5% of its answers (the gold codes are their
decisions); after each batch the model is refitted on every answer reviewed so far (as the
app's refresh does: `train_classifier`, then `calibrate` on the whole consultation) and the
order is ranked again. At 0/10/20/30/50% reviewed it records:

- whole: the whole consultation's micro-F1 (reviewed answers with the researcher's codes, the
  rest with the model's suggestions), and its samples-F1;
- rest: the model's micro-F1 on the answers not yet reviewed;
- the audit estimate (random checks of the tool's order, `nlp.classify.audit`) and whether
  its 95% interval covers the model's real micro-F1 on the rest at that moment.

Orders: `tool` (`nlp.classify.active.review_order`, one in five a random check, as shipped),
`random` (refitted after each batch), `none` (random order, never refitted: the reviewed
answers are simply corrected). Each over SEEDS seeds; intervals are mean ± t x sd / sqrt(n)
over seeds. Embeddings are computed once per set through the project's cache, with the
toolkit's default embedder.

Sets: the development consultations under `--devsets` (ltn-trial, student-wellbeing,
anes-terrorism as a fixed random 600 of its answers, proctoring q5/n3/n4) and the bundled
corpus (every unit of `corpora/vcs-commissioning`, the codebook alone at the start).

    python evaluation/eval_review.py                 # everything (~25 min on 2 busy cores)
    python evaluation/eval_review.py --sets ltn-trial --seeds 2   # a quick look
    python evaluation/eval_review.py --audit-only   # the audit interval, fixed model
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from sklearn.metrics import f1_score  # noqa: E402

from nlp.classify import encode, subset  # noqa: E402
from nlp.classify.active import review_order  # noqa: E402
from nlp.classify.audit import estimate  # noqa: E402
from nlp.classify.backends import CLASSIFIERS, DEFAULT_CLASSIFIER  # noqa: E402
from nlp.classify.coding import train_classifier  # noqa: E402
from nlp.codebook import load_codebook  # noqa: E402
from nlp.corpora import DEFAULT_CORPUS, codebook_path, load  # noqa: E402
from nlp.embed import EmbeddingCache, cache_root, get_embedder  # noqa: E402

CORPUS = DEFAULT_CORPUS
DEVSETS = ("ltn-trial", "student-wellbeing", "proctoring/q5", "proctoring/n3",
           "proctoring/n4", "anes-terrorism")
ANES_SAMPLE = 600
CHECKPOINTS = (0, 10, 20, 30, 50)  # % reviewed
BATCH_PCT = 5
SEEDS = 5
ORDERS = ("tool", "random", "none")


def load_sets(devsets: Path, names) -> dict:
    out = {}
    for name in names:
        if name == CORPUS:
            cb = load_codebook(codebook_path(CORPUS))
            df = load(CORPUS)
            out[name] = (cb, df["text"].tolist(), [list(t) for t in df["themes"]])
            continue
        d = devsets / name
        cb = load_codebook(d / "codebook.yaml")
        rows = [json.loads(x) for x in (d / "answers.jsonl").read_text(encoding="utf-8")
                .splitlines() if x.strip()]
        if name == "anes-terrorism" and len(rows) > ANES_SAMPLE:
            keep = np.sort(np.random.default_rng(0).choice(len(rows), ANES_SAMPLE, replace=False))
            rows = [rows[i] for i in keep]
        out[name] = (cb, [r["text"] for r in rows], [list(r["themes"]) for r in rows])
    return out


def binarize(themes, ids) -> np.ndarray:
    pos = {t: i for i, t in enumerate(ids)}
    Y = np.zeros((len(themes), len(ids)), dtype=int)
    for i, ts in enumerate(themes):
        for t in ts:
            if t in pos:
                Y[i, pos[t]] = 1
    return Y


def f1(Y, P, avg="micro") -> float:
    return float(f1_score(Y, P, average=avg, zero_division=0)) if len(Y) else float("nan")


def fitted(cb, enc, themes, idx, embedder, cache):
    """The model `nlp code` fits (`train_classifier`), on the reviewed answers' vectors."""
    if not len(idx):
        return train_classifier(cb, [], [], embedder=embedder, cache=cache).calibrate(enc)
    model = CLASSIFIERS[DEFAULT_CLASSIFIER](codebook=cb, embedder=embedder, cache=cache)
    return model.fit(subset(enc, idx), [themes[i] for i in idx]).calibrate(enc)


def simulate(cb, texts, themes, enc, Y, order: str, seed: int, embedder, cache) -> list[dict]:
    n = len(texts)
    batch = max(1, math.ceil(n * BATCH_PCT / 100))
    marks = {math.ceil(n * c / 100): c for c in CHECKPOINTS}
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    reviewed: list[int] = []
    checks: list[tuple[set, set]] = []  # random checks: (model's themes then, gold)
    model = fitted(cb, enc, themes, [], embedder, cache)
    ids = list(model.theme_ids_)
    rows = []
    while True:
        proba = model.predict_proba(enc)
        P = model.decide(proba).astype(int)
        done = np.zeros(n, bool)
        done[reviewed] = True
        if len(reviewed) in marks:
            W = np.where(done[:, None], Y, P)
            rest = ~done
            truth = f1(Y[rest], P[rest])
            est = estimate([c[0] for c in checks], [c[1] for c in checks]) if checks else None
            rows.append({"pct": marks[len(reviewed)], "whole": f1(Y, W),
                         "whole_samples": f1(Y, W, "samples"), "rest": truth,
                         "checks": len(checks),
                         "covered": None if est is None or est.low is None else
                         bool(est.low <= truth <= est.high)})
        if len(reviewed) >= max(marks):
            return rows
        step = min(batch, min(m for m in marks if m > len(reviewed)) - len(reviewed))
        if order == "tool":
            ro = review_order(proba, np.asarray(model.thresholds_), enc.whole, reviewed=done,
                              confirmed=Y[done].sum(0), seed=seed + len(reviewed))
            pick = ro.order[:step]
            for j, is_check in zip(pick, ro.audit[:step]):
                if is_check:
                    checks.append(({ids[t] for t in np.flatnonzero(P[j])},
                                   {ids[t] for t in np.flatnonzero(Y[j])}))
        else:
            pick = [i for i in perm if not done[i]][:step]
        reviewed += [int(i) for i in pick]
        if order != "none":
            model = fitted(cb, enc, themes, reviewed, embedder, cache)


def interval(xs) -> list[float]:
    xs = [x for x in xs if x == x]
    if len(xs) < 2:
        return [round(xs[0], 4)] * 3 if xs else [float("nan")] * 3
    from scipy.stats import t

    m, s = float(np.mean(xs)), float(np.std(xs, ddof=1))
    h = float(t.ppf(0.975, len(xs) - 1)) * s / math.sqrt(len(xs))
    return [round(m, 4), round(m - h, 4), round(m + h, 4)]


def audit_simulation(reps: int = 400, seed: int = 24) -> dict:
    """The audit interval with the model held fixed: random checks from simulated
    consultations (800 answers, 12 themes of uneven shares, a model that errs far more on
    some answers than on others); the truth is its micro-F1 on the answers not checked."""
    rng = np.random.default_rng(seed)
    out = {}
    for n_checks in (10, 20, 40, 80, 160):
        hits, widths = 0, []
        for _ in range(reps):
            prev = np.clip(rng.dirichlet(np.full(12, 0.7)) * 1.6, 0, 0.9)
            gold = rng.random((800, 12)) < prev
            hard = rng.beta(2, 5, 800)
            pred = gold ^ (rng.random((800, 12)) < hard[:, None] * np.where(gold, 0.8, 0.08))
            idx = rng.choice(800, n_checks, replace=False)
            rest = np.setdiff1d(np.arange(800), idx)
            truth = f1(gold[rest].astype(int), pred[rest].astype(int))
            e = estimate([set(np.flatnonzero(r)) for r in pred[idx]],
                         [set(np.flatnonzero(r)) for r in gold[idx]])
            hits += e.low <= truth <= e.high
            widths.append(e.high - e.low)
        out[n_checks] = {"coverage": round(hits / reps, 3),
                         "mean_width": round(float(np.mean(widths)), 3)}
        print(f"audit, fixed model, {n_checks} checks: covers {hits / reps:.1%}, "
              f"mean width {np.mean(widths):.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devsets", type=Path, default=ROOT.parent.parent / "shared" / "devsets",
                    help="the development sets (default: ../shared/devsets beside the checkout)")
    ap.add_argument("--sets", nargs="*", default=[*DEVSETS, CORPUS])
    ap.add_argument("--seeds", type=int, default=SEEDS)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "review.json")
    ap.add_argument("--audit-only", action="store_true",
                    help="only the audit interval's coverage with a fixed model (seconds)")
    args = ap.parse_args()
    if args.audit_only:
        print(json.dumps(audit_simulation()))
        return
    embedder = get_embedder(None)
    cache = EmbeddingCache(cache_root())
    results = {"embedder": embedder.model_id, "seeds": args.seeds, "batch_pct": BATCH_PCT,
               "sets": {}}
    audit_hits = []
    for name, (cb, texts, themes) in load_sets(args.devsets, args.sets).items():
        t0 = time.time()
        enc = encode(texts, embedder, cache=cache)
        Y = binarize(themes, cb.theme_ids)
        per = {o: [simulate(cb, texts, themes, enc, Y, o, s, embedder, cache)
                   for s in range(args.seeds)] for o in ORDERS}
        table = {}
        for o, runs in per.items():
            table[o] = {}
            for k, pct in enumerate(CHECKPOINTS):
                table[o][pct] = {m: interval([r[k][m] for r in runs])
                                 for m in ("whole", "whole_samples", "rest")}
                if o == "tool":
                    hits = [r[k]["covered"] for r in runs if r[k]["covered"] is not None]
                    audit_hits += hits
                    table[o][pct]["checks"] = int(np.mean([r[k]["checks"] for r in runs]))
        lead30 = [a[CHECKPOINTS.index(30)]["whole"] - b[CHECKPOINTS.index(30)]["whole"]
                  for a, b in zip(per["tool"], per["random"])]
        mine = [r[k]["covered"] for r in per["tool"] for k in range(len(CHECKPOINTS))
                if r[k]["covered"] is not None]
        results["sets"][name] = {"answers": len(texts), "themes": len(cb.theme_ids),
                                 "table": table, "tool_lead_at_30": interval(lead30),
                                 "audit_covered": [int(sum(mine)), len(mine)],
                                 "seconds": round(time.time() - t0, 1)}
        print(f"{name}: {len(texts)} answers, {time.time() - t0:.0f} s", flush=True)
        for o in ORDERS:
            print("  " + o.ljust(7) + "  ".join(
                f"{p}%: {table[o][p]['whole'][0]:.3f}/{table[o][p]['rest'][0]:.3f}"
                for p in CHECKPOINTS), flush=True)
        print(f"  tool - random, whole micro-F1 at 30%: {interval(lead30)}", flush=True)
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")  # so far
    if audit_hits:
        results["audit_coverage"] = {"covered": int(sum(audit_hits)), "of": len(audit_hits),
                                     "rate": round(sum(audit_hits) / len(audit_hits), 3)}
        print(f"audit interval covers the model's F1 on the rest: "
              f"{sum(audit_hits)}/{len(audit_hits)}", flush=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
