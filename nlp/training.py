"""Classify stage: train the shipped theme model on a bundled corpus, with its model card."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .codebook import load_codebook
from .corpora import codebook_path, load

log = logging.getLogger(__name__)


def train_bundled(corpus: str, out_dir: str | Path, *, embedder_spec: str | None = None,
                  cache_dir: str | Path | None = None) -> Path:
    """Fit a ThemeClassifier on every unit of a bundled corpus (quotes and report prose) and
    save it with out-of-fold metrics. Returns the model folder."""
    from sklearn.metrics import f1_score

    from .classify import ThemeClassifier
    from .embed import EmbeddingCache, cache_root, get_embedder
    from .persist import save_model

    codebook = load_codebook(codebook_path(corpus))
    df = load(corpus)
    spec = embedder_spec or "st"
    embedder = get_embedder(spec)
    cache = EmbeddingCache(Path(cache_dir) if cache_dir else cache_root())
    clf = ThemeClassifier(codebook=codebook, embedder=embedder, cache=cache)
    clf.fit(df["text"].tolist(), [list(t) for t in df["themes"]])
    Y = clf._binarize([list(t) for t in df["themes"]], len(df))
    pred = (clf.oof_proba_ >= clf.thresholds_).astype(int)
    metrics = {
        "corpus": corpus, "units": int(len(df)),
        "note": "out-of-fold (5-fold) on the training corpus; see evaluation/RESULTS.md for "
                "leave-one-report-out figures",
        "oof_micro_f1": float(f1_score(Y, pred, average="micro", zero_division=0)),
        "oof_macro_f1": float(f1_score(Y, pred, average="macro", zero_division=0)),
        "per_theme": {t: {"f1": float(f1_score(Y[:, i], pred[:, i], zero_division=0)),
                          "positives": int(Y[:, i].sum()),
                          "threshold": float(clf.thresholds_[i])}
                      for i, t in enumerate(clf.theme_ids_)},
    }
    card = _card(corpus, codebook, spec, clf, metrics)
    path = save_model(clf, out_dir, embedder_spec=spec, metrics=metrics, card=card)
    log.info("saved model to %s (oof micro-F1 %.3f)", path, metrics["oof_micro_f1"])
    return path


def _card(corpus, codebook, spec, clf, metrics) -> str:
    rows = "\n".join(f"| {t} | {m['positives']} | {m['threshold']:.2f} | {m['f1']:.2f} |"
                     for t, m in metrics["per_theme"].items())
    return f"""# Theme model: {corpus}

A `nlp.classify.ThemeClassifier` for codebook **{codebook.name} v{codebook.version}**
(hash `{codebook.content_hash}`), trained on the {metrics['units']} hand-coded units of the
bundled corpus `corpora/{corpus}` (quotes and report prose). Embeddings: `{spec}`
(`{clf.embedder_id_}`).

- Files: `config.json` (embedder, codebook hash, theme order, parameters), `weights.npz`
  (NumPy arrays, loaded with `allow_pickle=False`), `codebook.yaml`, `metrics.json`.
- Intended use: suggesting codes for review by a researcher on answers about public-service
  commissioning. It will not know themes outside its codebook; on another codebook the toolkit
  refuses to load it and codes from definitions alone until examples are confirmed.
- Out-of-fold micro-F1 on its training corpus: {metrics['oof_micro_f1']:.3f}, macro-F1
  {metrics['oof_macro_f1']:.3f} (optimistic; leave-one-report-out figures are in
  `evaluation/RESULTS.md`).
- Rebuild: `nlp train --corpus {corpus} --out models/{corpus}`.

| theme | positives | threshold | out-of-fold F1 |
|---|---|---|---|
{rows}
"""
