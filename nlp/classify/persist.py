"""Classify stage: save and load theme models as a folder of JSON + NumPy (never pickle)."""
from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import errors, limits, __version__
from ..codebook import dumps_codebook, loads_codebook
from ..corpora import DEFAULT_CORPUS
from ..embed import get_embedder
from ..fsio import atomic_dir, check_output_dir, read_input
from ..types import Codebook
from .model import Encoded, ThemeClassifier, subset
from .persist_checks import check_config, check_weights

if TYPE_CHECKING:
    from ..embed import Embedder, EmbeddingCache

FORMAT = 5  # 5: + the examples, for the theme-share correction; 4: + lexical prior (a sixth prior feature); 3: consultation-relative prior (2: absolute prior constants; 1: Platt blend)
READS = (4, 5)  # a format 4 model loads without the theme-share correction
_ARRAYS = ("theme_vec_", "excl_vec_", "excl_theme_", "ref_center_", "ref_mu_", "ref_sd_", "prior_coef_", "lr_coef_",
           "lr_intercept_", "lex_idf_", "lex_coef_", "lex_intercept_", "n_pos_", "stack_",
           "stacked_", "thresholds_")
KEEP_EXAMPLES = 20_000  # examples a saved model keeps (a sample beyond: ~40 MB of vectors)
# What a model folder holds; a folder holding anything else is never replaced by a save.
MODEL_FILES = frozenset({"config.json", "weights.npz", "lexical.json", "examples.npz",
                         "examples.json", "codebook.yaml", "metrics.json", "README.md"})
CONFIG_BYTES = 1 << 20  # a model's config.json is a few kilobytes


def _model_file(path: Path, *, limit: int | None = None) -> bytes:
    """One file of a model folder, through the checked reader (a regular file under the
    limit; a pipe or a device is refused before it is opened).

    Raises:
        ModelError: missing, not a regular file, over the limit, or unreadable.
    """
    try:
        return read_input(path, limit=limit, what="model file")
    except errors.InputError as exc:
        raise errors.model_damaged(path, exc.problem) from None


def is_model_folder(directory: Path) -> bool:
    """True when `directory` holds a theme model this toolkit saved (its config.json names a
    format and an embedder): the only kind of folder `save_model` replaces."""
    try:
        config = json.loads(_model_file(directory / "config.json", limit=CONFIG_BYTES))
    except (errors.ModelError, ValueError, RecursionError):
        return False
    return isinstance(config, dict) and isinstance(config.get("format"), int) and \
        isinstance(config.get("embedder_spec"), str)


def check_model_dir(directory: str | Path) -> Path:
    """Where a model may be saved: a new or empty folder, or one holding a toolkit model and
    nothing else (never a project, never a user's folder).

    Raises:
        OutputError: any other folder, a file, or a project.
    """
    return check_output_dir(directory, own_names=MODEL_FILES, is_own=is_model_folder,
                            what="theme model folder")


def default_model_dir() -> Path:
    """The model the toolkit ships: models/<DEFAULT_CORPUS> beside the package, or
    $NLP_MODEL_DIR."""
    env = os.environ.get("NLP_MODEL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_CORPUS


def save_model(clf: ThemeClassifier, directory: str | Path, *, embedder_spec: str,
               metrics: dict[str, Any] | None = None, card: str | None = None) -> Path:
    """Write `clf` to `directory` (config.json, weights.npz, codebook.yaml, metrics.json,
    README.md), replacing it atomically; only a new or empty folder, or one holding a model
    the toolkit saved and nothing else, is written (see `check_model_dir`).

    Raises:
        OutputError: `directory` is a project, a file, or a folder holding other files.
    """
    target = Path(directory)
    cb: Codebook = clf.codebook  # type: ignore[assignment]
    config = {
        "format": FORMAT, "toolkit_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "embedder_spec": embedder_spec, "embedder_id": clf.embedder_id_,
        "codebook": {"name": cb.name, "version": cb.version, "hash": cb.content_hash},
        "theme_ids": clf.theme_ids_, "n_examples": int(clf.n_examples_),
        "params": {k: v for k, v in clf.get_params(deep=False).items()
                   if k in ("C", "prior_strength", "cv", "random_state")},
        "prior_intercept": float(clf.prior_intercept_),
        "prior_threshold": float(clf.prior_threshold_),
        "margin": float(clf.margin_), "reference_answers": int(clf.ref_n_),
    }
    with atomic_dir(target, own_names=MODEL_FILES, is_own=is_model_folder,
                    what="theme model folder") as tmp:
        (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        arrays: dict[str, Any] = {k.rstrip("_"): np.asarray(getattr(clf, k)) for k in _ARRAYS}
        np.savez(tmp / "weights.npz", **arrays)
        (tmp / "lexical.json").write_text(json.dumps({"vocabulary": list(clf.lex_vocabulary_)}),
                                          encoding="utf-8")
        ex = getattr(clf, "_examples", None)
        ys = getattr(clf, "_examples_Y", None)
        if ys is not None and ex is not None and len(ys) != len(ex):
            ys = None
        if ex is not None and len(ex) > KEEP_EXAMPLES:  # a sample keeps the shares
            pick = np.sort(np.random.default_rng(0).choice(len(ex), KEEP_EXAMPLES,
                                                           replace=False))
            ex, ys = subset(ex, pick), ys[pick] if ys is not None else None
        if ex is not None and len(ex):
            # The training answers (vectors and texts): each new consultation re-estimates
            # from them how far its theme shares stand from the definitions' (offset_).
            # ... and their themes, spread over each consultation's answers (_spread)
            extra = {"themes": ys.astype(np.int8)} if ys is not None else {}
            np.savez(tmp / "examples.npz", whole=ex.whole.astype(np.float32),
                     seg=ex.seg.astype(np.float32), seg_owner=ex.seg_owner.astype(np.int64),
                     **extra)
            (tmp / "examples.json").write_text(json.dumps(
                {"texts": list(ex.texts) if ex.texts is not None else None},
                ensure_ascii=False), encoding="utf-8")
        (tmp / "codebook.yaml").write_text(dumps_codebook(cb), encoding="utf-8")
        (tmp / "metrics.json").write_text(json.dumps(metrics or {}, indent=2), encoding="utf-8")
        (tmp / "README.md").write_text(card or f"# Theme model for codebook {cb.name} "
                                       f"v{cb.version}\n", encoding="utf-8")
    return target


def read_model_config(directory: str | Path) -> dict[str, Any]:
    d = Path(directory)
    try:
        raw = _model_file(d / "config.json", limit=CONFIG_BYTES)
    except errors.ModelError:
        if not os.path.lexists(d / "config.json"):
            raise errors.no_model(d) from None
        raise
    try:
        return check_config(json.loads(raw.decode("utf-8")), d / "config.json")
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        raise errors.model_part_damaged(d / "config.json", "damaged", exc) from None


def load_model(directory: str | Path | None = None, *, codebook: Codebook | None = None,
               embedder: Embedder | None = None,
               cache: EmbeddingCache | None = None) -> ThemeClassifier:
    """Load a saved theme model.

    Args:
        directory: the model folder (default: the shipped model).
        codebook: the codebook you will code with; must be the one the model was trained on.
        embedder: an embedder to use; its id must match the one the model was trained with
            (default: built from the model's own embedder spec).

    Raises:
        ModelError: missing/damaged files, or a codebook or embedder other than the model's.
    """
    d = Path(directory) if directory is not None else default_model_dir()
    config = read_model_config(d)
    if config.get("format") not in READS:
        raise errors.model_format_unsupported(d, config.get("format"), FORMAT)
    try:
        saved_cb = loads_codebook(_model_file(d / "codebook.yaml").decode("utf-8"),
                                  source=str(d / "codebook.yaml"))
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.model_part_damaged(d / "codebook.yaml", "missing or damaged", exc) from None
    if codebook is not None and codebook.content_hash != config["codebook"]["hash"]:
        raise errors.model_codebook_mismatch(d, config["codebook"]["name"],
                                             config["codebook"]["version"], codebook.name,
                                             codebook.version)

    if embedder is None:
        embedder = get_embedder(config["embedder_spec"])
    if getattr(embedder, "model_id", None) != config["embedder_id"]:
        raise errors.model_embedder_mismatch(d, config["embedder_id"],
                                             getattr(embedder, "model_id", "?"))
    raw = _model_file(d / "weights.npz")
    check_weights(d / "weights.npz", raw)  # under the limits before NumPy inflates anything
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as w:
            arrays = {k: w[k.rstrip("_")] for k in _ARRAYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise errors.model_part_damaged(d / "weights.npz", "damaged or incomplete", exc) \
            from None
    clf = ThemeClassifier(codebook=codebook or saved_cb, embedder=embedder, cache=cache,
                          **config.get("params", {}))
    clf.theme_ids_ = list(config["theme_ids"])
    for k, v in arrays.items():
        setattr(clf, k, v)
    clf.prior_intercept_ = float(config["prior_intercept"])
    clf.prior_threshold_ = float(config["prior_threshold"])
    clf.margin_ = float(config["margin"])
    try:
        vocab = json.loads(_model_file(d / "lexical.json").decode("utf-8"))["vocabulary"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise errors.model_part_damaged(d / "lexical.json", "missing or damaged", exc) from None
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab) or \
            len(vocab) != clf.lex_coef_.shape[1] or len(vocab) != len(clf.lex_idf_):
        raise errors.model_part_mismatch(d / "lexical.json", "weights.npz")
    clf.lex_vocabulary_ = vocab
    clf._words = clf._lex_fit = None
    clf.ref_n_ = int(config.get("reference_answers", 0))
    clf.calibrated_ = False
    clf.lex_key_, clf.comb_mu_, clf.comb_sd_ = "", None, None
    clf.lex_mu_ = clf.lex_sd_ = np.zeros(len(clf.theme_ids_))
    clf.n_examples_ = int(config.get("n_examples", 0))
    clf.embedder_id_ = config["embedder_id"]
    clf.offset_ = np.zeros(len(clf.theme_ids_))  # set by calibrate, from the examples
    clf.share_offset_ = np.zeros(len(clf.theme_ids_))  # set by calibrate
    clf.head_vec_ = None  # embedded on first use
    clf._examples, clf._examples_Y = _load_examples(d, clf)
    clf._prop_keys = clf._prop_E = None
    return clf


def _load_examples(d: Path, clf: ThemeClassifier
                   ) -> tuple[Encoded | None, np.ndarray | None]:
    """The training answers a model keeps (format 5), checked against the model, and their
    (n, k) themes when saved with them; None when it has none (a codebook-only or format 4
    model)."""
    if not os.path.lexists(d / "examples.npz"):
        return None, None
    raw = _model_file(d / "examples.npz")
    check_weights(d / "examples.npz", raw)
    texts_file, cap = d / "examples.json", limits.current().text
    size = texts_file.stat().st_size if texts_file.is_file() else 0
    if size > cap:  # texts capped like any input file's, before JSON reads them
        raise errors.model_text_too_big(d / "examples.json", size, cap, limits.ENV["text"][0])
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as w:
            whole, seg, owner = w["whole"], w["seg"], w["seg_owner"]
            themes = w["themes"] if "themes" in w.files else None
        texts = json.loads(_model_file(texts_file, limit=max(cap, 1)).decode("utf-8"))["texts"]
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        raise errors.model_part_damaged(f"{d / 'examples.npz'} or examples.json",
                                        "damaged or incomplete", exc) from None
    dim = clf.theme_vec_.shape[1]
    n = len(whole)
    ok = (whole.ndim == 2 and whole.shape == (n, dim) and seg.ndim == 2
          and seg.shape[1:] == (dim,) and owner.shape == (len(seg),)
          and np.issubdtype(owner.dtype, np.integer)
          and (not len(owner) or (owner.min() >= 0 and owner.max() < n))
          and n == min(clf.n_examples_, KEEP_EXAMPLES)
          and (themes is None or themes.shape == (n, len(clf.theme_ids_)))
          and (texts is None or (isinstance(texts, list) and len(texts) == n
                                 and all(isinstance(t, str) for t in texts))))
    if not ok:
        raise errors.model_part_mismatch(
            d / "examples.npz", f"the model ({clf.n_examples_} examples of {dim} dimensions)")
    return (Encoded(whole=whole.astype(np.float32), seg=seg.astype(np.float32),
                    seg_owner=owner.astype(np.int64), texts=texts),
            None if themes is None else (themes > 0).astype(int))
