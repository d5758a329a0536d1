"""Classify stage: train the shipped theme model on a bundled corpus, with its model card."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from ..codebook import load_codebook
from ..corpora import codebook_path, load
from ..embed import EmbeddingCache, cache_root, default_spec, get_embedder
from .model import MIN_CALIBRATION, ThemeClassifier
from .persist import check_model_dir, save_model

log = logging.getLogger(__name__)

EVAL_RESULTS = Path(__file__).resolve().parents[2] / "evaluation" / "results" / "classify.json"


def train_bundled(corpus: str, out_dir: str | Path, *, embedder_spec: str | None = None,
                  cache_dir: str | Path | None = None) -> Path:
    """Fit a ThemeClassifier (default settings) on every unit of a bundled corpus (quotes and
    report prose) and save it with out-of-fold metrics, and the leave-one-report-out figures
    of `evaluation/eval_classify.py` when they were computed for this corpus, codebook and
    embedder. Returns the model folder.

    Raises:
        OutputError: `out_dir` is a project, a file, or a folder holding anything but a
            model the toolkit saved (checked before training, and again when saving).
    """
    check_model_dir(out_dir)
    codebook = load_codebook(codebook_path(corpus))
    df = load(corpus)
    spec = embedder_spec or default_spec()
    embedder = get_embedder(spec)
    cache = EmbeddingCache(Path(cache_dir) if cache_dir else cache_root())
    clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
    clf.fit(df["text"].tolist(), [list(t) for t in df["themes"]])
    Y = clf._binarize([list(t) for t in df["themes"]], len(df))
    pred = clf.decide(clf.oof_proba_).astype(int)
    metrics = {
        "corpus": corpus, "units": int(len(df)),
        "codebook": {"name": codebook.name, "version": codebook.version,
                     "hash": codebook.content_hash},
        "embedder_id": clf.embedder_id_,
        "params": {"C": clf.C, "prior_strength": clf.prior_strength, "cv": clf.cv},
        "prior": {"coef": [float(x) for x in clf.prior_coef_],
                  "intercept": float(clf.prior_intercept_),
                  "threshold": float(clf.prior_threshold_), "margin": float(clf.margin_)},
        "note": f"oof_*: out-of-fold ({clf.cv}-fold, random over all units) on the training "
                "corpus, optimistic; leave_one_report_out: evaluation/eval_classify.py",
        "oof_micro_f1": float(f1_score(Y, pred, average="micro", zero_division=0)),
        "oof_macro_f1": float(f1_score(Y, pred, average="macro", zero_division=0)),
        "per_theme": {t: {"oof_f1": float(f1_score(Y[:, i], pred[:, i], zero_division=0)),
                          "positives": int(Y[:, i].sum()),
                          "threshold": float(clf.thresholds_[i]),
                          "combined": "stacked" if clf.stacked_[i] else "blend"}
                      for i, t in enumerate(clf.theme_ids_)},
    }
    loro = _loro_figures(corpus, clf.embedder_id_)
    if loro:
        metrics["leave_one_report_out"] = loro
    card = _card(corpus, codebook, spec, clf, metrics)
    path = save_model(clf, out_dir, embedder_spec=spec, metrics=metrics, card=card)
    log.info("saved model to %s (oof micro-F1 %.3f)", path, metrics["oof_micro_f1"])
    return path


def _loro_figures(corpus: str, embedder_id: str) -> dict | None:
    """Headline figures of the last evaluation run, if it covered this corpus and embedder."""
    try:
        r = json.loads(EVAL_RESULTS.read_text(encoding="utf-8"))
        full = r["sets"][corpus]["regimes"]["full"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if r.get("embedder") != embedder_id:
        return None
    return {"source": "evaluation/results/classify.json",
            "micro_f1": {m: full[m] for m in ("model", "cosine", "logreg")},
            "lead": {m: full[f"lead_vs_{m}"] for m in ("cosine", "logreg")},
            "per_theme_f1": full.get("per_theme_f1", {})}


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _limits(metrics) -> str:
    """The card's known limits, from the figures: themes with few training units, themes
    the leave-one-report-out test never got right."""
    few = [t for t, m in metrics["per_theme"].items() if m["positives"] < MIN_CALIBRATION]
    loro = metrics.get("leave_one_report_out") or {}
    zero = [t for t, f in loro.get("per_theme_f1", {}).items() if f == 0]
    out = []
    if few:
        out.append(f"{', '.join(f'`{t}`' for t in few)} ha{'s' if len(few) == 1 else 've'} "
                   f"fewer than {MIN_CALIBRATION} training units (scored mostly from the "
                   "definition)")
    if zero:
        out.append(f"leave-one-report-out F1 0 for {', '.join(f'`{t}`' for t in zero)}")
    return f"- Known limits: {'; '.join(out)}.\n" if out else ""


def _card(corpus, codebook, spec, clf, metrics) -> str:
    loro = metrics.get("leave_one_report_out")
    rows = "\n".join(
        f"| {t} | {m['positives']} | {m['combined']} | {m['threshold']:.2f} | {m['oof_f1']:.2f} |"
        + (f" {_fmt(loro['per_theme_f1'].get(t))} |" if loro else "")
        for t, m in metrics["per_theme"].items())
    if loro:
        mf, lead = loro["micro_f1"], loro["lead"]

        def cell(m):
            d = lead[m]
            return (f"{mf[m]:.3f} (the model leads by {d['lead']:+.3f} "
                    f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}])")
        headline = (
            f"- Leave-one-report-out (train on the other reports, test on the quotes of the "
            f"held-out one; paired bootstrap 95% intervals): micro-F1 **{mf['model']:.3f}**; "
            f"floors: MiniLM cosine with a relative rule {cell('cosine')}, logistic "
            f"regression on raw vectors {cell('logreg')}. Details: "
            f"`evaluation/RESULTS.md`.\n")
        extra_head, extra_rule = " leave-one-report-out F1 |", "---|"
    else:
        headline, extra_head, extra_rule = "", "", ""
    return f"""# Theme model: {corpus}

A `nlp.classify.ThemeClassifier` for codebook **{codebook.name} v{codebook.version}**
(hash `{codebook.content_hash}`), trained on the {metrics['units']} hand-coded units of the
bundled corpus `corpora/{corpus}` (quotes and report prose). Embeddings: `{spec}`
(`{clf.embedder_id_}`). Settings: C = {clf.C}, prior_strength = {clf.prior_strength},
{clf.cv}-fold out-of-fold scores.

- Files: `config.json` (embedder, codebook hash, theme order, parameters), `weights.npz`
  (NumPy arrays, loaded with `allow_pickle=False`), `codebook.yaml`, `metrics.json`, and the
  training units themselves (`examples.npz` vectors, `examples.json` texts): share the folder
  as you would share them.
- How it scores: a definition prior relative to the consultation being coded (centred
  similarity of the answer and of its best sentence to each theme's question + label +
  definition + include examples, as z-scores over the consultation's own answers, refitted on
  the training units with the uncentred similarities beside it) and a class-balanced logistic
  regression on the answer's embedding; themes with at least 8 examples combine the two with a
  stacked logistic regression and have their own threshold, rarer themes mix them by example
  count. Each theme's prior then moves by how far the training units' theme shares stand from
  what the definitions predict of them on the consultation being coded (shrunk to nothing
  where the difference is within chance). A relative rule decides (themes near the answer's
  best one, at most three). Each suggestion carries the sentence that supports it.
- Intended use: suggesting codes of codebook {codebook.name!r} for review by a researcher.
  It will not know themes outside its codebook; on another codebook the toolkit refuses to
  load it and codes from definitions alone until examples are confirmed.
- Out-of-fold micro-F1 on its training corpus: {metrics['oof_micro_f1']:.3f}, macro-F1
  {metrics['oof_macro_f1']:.3f} (random folds over all units: optimistic).
{headline}{_limits(metrics)}- Rebuild: `nlp train --corpus {corpus} --out models/{corpus}`.

| theme | positives | scores combined by | threshold | out-of-fold F1 |{extra_head}
|---|---|---|---|---|{extra_rule}
{rows}
"""
