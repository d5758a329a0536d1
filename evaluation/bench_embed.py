"""Benchmark of the embedding backends: speed, peak memory and agreement with plain MiniLM.

Texts: realistic answers made by recombining 1-4 sentences (40-400 characters) of the reports
in ../shared/seeds (or the files given with --texts), with a fixed seed. Each backend runs in its
own subprocess, so peak RSS (ru_maxrss) is that backend's alone. "ref" is plain
`SentenceTransformer(<bundled MiniLM>).encode(texts, batch_size=32)`, measured in the same run;
every speed is also given as a ratio to it. Quality is measured on the 1k set against ref's
vectors: mean cosine (where dimensions match) and top-10 nearest-neighbour overlap.

    .venv/bin/python evaluation/bench_embed.py                        # 1k and 10k, all backends
    .venv/bin/python evaluation/bench_embed.py --sizes 100k --backends onnx-int8,model2vec

The 100k run of plain ST takes ~30 min on a 2-core machine (~16 min for 180-character texts);
leave it out unless you have the time. Other jobs sharing the cores slow everything down: the
load average is recorded before and after each measurement.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
BACKENDS = ["st", "onnx", "onnx-int8", "model2vec"]
QUALITY_SIZE = 1_000


# --- texts ----------------------------------------------------------------------------------

def split_sentences(text: str) -> list[str]:
    """Sentences of 40-400 characters from a (markdown) report; headings and tables dropped."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        para = " ".join(line.strip() for line in block.splitlines()).strip()
        if not para or para.startswith(("#", "|", "!", "<")):
            continue
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“‘(])", para):
            s = s.strip()
            if 40 <= len(s) <= 400:
                out.append(s)
    return out


def make_texts(files: list[str], n: int, seed: int) -> tuple[list[str], int]:
    sentences = [s for f in sorted(files) for s in split_sentences(Path(f).read_text("utf-8"))]
    if len(sentences) < 10:
        sys.exit(f"only {len(sentences)} usable sentences in {files}; give --texts FILE...")
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(1, 4))) for _ in range(n)], len(sentences)


# --- workers: one process per backend, all loaded, fed the same chunks in turn --------------
# Other jobs on the machine come and go over minutes (timings here moved by 2-3x between runs),
# so the backends are interleaved chunk by chunk: each ratio compares like with like.

def worker(args: argparse.Namespace) -> None:
    """Line protocol on stdin/stdout: ENCODE start end [save.npy] -> DONE s; QUIT -> BYE rss."""
    texts = json.loads(Path(args.texts_json).read_text("utf-8"))
    t0 = time.perf_counter()
    if args.backend == "ref":
        import torch
        from sentence_transformers import SentenceTransformer

        from nlp.embed import bundled_encoder_dir
        torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
        model = SentenceTransformer(str(bundled_encoder_dir()), device="cpu")
        encode = lambda t: model.encode(t, batch_size=args.batch_size or 32,  # noqa: E731
                                        normalize_embeddings=True, show_progress_bar=False)
    else:
        from nlp.embed import get_embedder
        emb = get_embedder(args.backend)
        if args.batch_size:
            emb.batch_size = args.batch_size
        if args.threads:
            emb.threads = args.threads
        encode = emb.encode
    encode(texts[:16])  # load (and build, when the cache is cold) outside the timings
    batch = args.batch_size or (32 if args.backend == "ref" else
                                getattr(emb, "batch_size", None)) or \
        (4 if args.backend == "onnx-int8" else 8)  # OnnxEmbedder's default when None
    print(f"READY {time.perf_counter() - t0:.2f} {batch}", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "QUIT":
            break
        a, b = int(cmd[1]), int(cmd[2])
        t = time.perf_counter()
        vectors = np.asarray(encode(texts[a:b]), dtype=np.float32)
        took = time.perf_counter() - t
        if len(cmd) > 3:
            np.save(cmd[3], vectors)
        print(f"DONE {took:.4f} {vectors.shape[1]}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"BYE {rss:.0f}", flush=True)


class Worker:
    """A backend in its own process (so its peak RSS is its own)."""

    def __init__(self, name: str, backend: str, texts_json: str, env: dict, *,
                 batch_size: int | None = None, threads: int | None = None) -> None:
        cmd = [sys.executable, __file__, "--worker", "--backend", backend,
               "--texts-json", texts_json]
        cmd += ["--batch-size", str(batch_size)] if batch_size else []
        cmd += ["--threads", str(threads)] if threads else []
        self.name, self.seconds, self.dim = name, 0.0, None
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, env=env)
        load_s, batch = self._reply("READY")
        self.load_s, self.batch_size = float(load_s), int(batch)

    def _reply(self, word: str) -> list[str]:
        for line in self.proc.stdout:
            if line.startswith(word + " "):
                return line.split()[1:]
        self.err.seek(0)
        sys.exit(f"worker {self.name} died:\n{self.err.read()[-3000:]}")

    def encode(self, a: int, b: int, save: str | None = None) -> float:
        self.proc.stdin.write(f"ENCODE {a} {b}{' ' + save if save else ''}\n")
        self.proc.stdin.flush()
        took, dim = self._reply("DONE")
        self.dim = int(dim)
        return float(took)

    def close(self) -> int:
        self.proc.stdin.write("QUIT\n")
        self.proc.stdin.flush()
        rss = int(self._reply("BYE")[0])
        self.proc.wait()
        return rss


def measure(configs: dict[str, dict], size: int, texts_json: str, env: dict, *, repeats: int,
            chunk: int, save_dir: Path | None = None, sparse: dict[str, int] | None = None
            ) -> dict[str, dict]:
    """Interleaved timings of every config on texts[:size], chunk by chunk, `repeats` times.

    `sparse[name] = k` runs that config on every k-th chunk only (its rate is then estimated
    from those chunks, under the same conditions as the others).
    """
    sparse = sparse or {}
    workers = {n: Worker(n, **c, texts_json=texts_json, env=env) for n, c in configs.items()}
    for w in workers.values():  # untimed: a fresh process's first big batches run slow here
        w.encode(0, min(size, chunk))
    load = [os.getloadavg()[0]]
    per_rep = {n: [] for n in workers}
    counted = {n: 0 for n in workers}
    n_chunks = max(1, size // chunk)
    for rep in range(repeats):
        spent = {n: 0.0 for n in workers}
        done = {n: 0 for n in workers}
        for c in range(n_chunks):
            a, b = c * chunk, min(size, (c + 1) * chunk)
            names = list(workers)
            names = names[c % len(names):] + names[:c % len(names)]  # rotate who goes first
            for n in names:
                if c % sparse.get(n, 1):
                    continue
                save = str(save_dir / f"{n}.npy") if save_dir and rep == repeats - 1 else None
                spent[n] += workers[n].encode(a, b, save)
                done[n] += b - a
                time.sleep(0.2)  # let the last backend's idle threads stop spinning
            load.append(os.getloadavg()[0])
            print(f"  {size:,} rep {rep + 1}/{repeats} chunk {c + 1}/{n_chunks}: " + ", ".join(
                f"{n} {done[n] / spent[n]:.0f}/s" for n in names if spent[n]), flush=True)
        for n in workers:
            per_rep[n].append(done[n] / spent[n])
            counted[n] = done[n]
    out = {}
    for n, w in workers.items():
        out[n] = {"texts_per_s": round(statistics.median(per_rep[n]), 1),
                  "per_repeat": [round(x, 1) for x in per_rep[n]], "texts_timed": counted[n],
                  "load_s": round(w.load_s, 2), "dim": w.dim, "batch_size": w.batch_size}
        if "ref" in per_rep:
            ratios = [x / r for x, r in zip(per_rep[n], per_rep["ref"])]
            out[n]["ratio_vs_ref"] = round(statistics.median(ratios), 2)
    for n, w in workers.items():
        out[n]["peak_rss_mb"] = w.close()
        out[n]["loadavg_1min"] = [round(min(load), 2), round(max(load), 2)]
    return out


# --- quality --------------------------------------------------------------------------------

def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (itself excluded) that a and b agree on."""
    def knn(v: np.ndarray) -> np.ndarray:
        sim = v @ v.T
        np.fill_diagonal(sim, -np.inf)
        return np.argpartition(-sim, k, axis=1)[:, :k]
    na, nb = knn(a), knn(b)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))


# --- main -----------------------------------------------------------------------------------

def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for pkg in ("torch", "sentence-transformers", "transformers", "onnxruntime", "onnx",
                "model2vec", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(rows: list[dict]) -> None:
    head = ["size", "backend", "texts/s", "x ref", "peak MB", "load s", "cos", "top10",
            "load avg"]
    body = [[f"{r['size']:,}", r["backend"], f"{r['texts_per_s']:,.0f}",
             "-" if r.get("ratio_vs_ref") is None else f"{r['ratio_vs_ref']:.2f}",
             str(r["peak_rss_mb"]), f"{r['load_s']:.1f}",
             "-" if r.get("cosine") is None else f"{r['cosine']:.3f}",
             "-" if r.get("top10_overlap") is None else f"{r['top10_overlap']:.2f}",
             "{:.1f}-{:.1f}".format(*r["loadavg_1min"])] for r in rows]
    try:
        from rich.console import Console
        from rich.table import Table
        t = Table(*head, title="Embedding backends (x ref: speed over plain "
                  "SentenceTransformer.encode, interleaved in the same run)")
        for b in body:
            t.add_row(*b)
        Console(width=120).print(t)
    except ImportError:
        print("\t".join(head))
        for b in body:
            print("\t".join(b))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1k,10k",
                   help="comma list of 1k, 10k, 100k (or numbers); 'none' with --sweep")
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--repeats", type=int, default=3, help="repeats up to 1k (median reported)")
    p.add_argument("--chunk", type=int, default=1000, help="texts per interleaved turn")
    p.add_argument("--ref-every", type=int, default=10,
                   help="above 10k, plain ST runs on every N-th chunk only (0: not at all)")
    p.add_argument("--texts", nargs="*", help="text files to draw sentences from "
                   "(default: ../shared/seeds/*.txt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweep", action="store_true", help="also sweep batch size and threads at 1k")
    p.add_argument("--reuse-cache", action="store_true",
                   help="use the user's model cache (default: build models afresh in a temp dir)")
    p.add_argument("--out", default=str(REPO / "evaluation/results/bench_embed.json"))
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of other sizes already in --out")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for opt, typ in (("--backend", str), ("--texts-json", str), ("--batch-size", int),
                     ("--threads", int)):
        p.add_argument(opt, type=typ, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    sizes = [SIZES.get(s.strip()) or int(s) for s in args.sizes.split(",")
             if s.strip() not in ("", "none")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    files = args.texts or glob.glob(str(REPO.parent / "shared/seeds/*.txt"))
    if not files:
        sys.exit("no texts: ../shared/seeds is missing; pass --texts FILE...")
    work = Path(tempfile.mkdtemp(prefix="bench_embed."))
    try:
        run(args, sizes, backends, files, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # texts, vectors and freshly built models


def run(args: argparse.Namespace, sizes: list[int], backends: list[str], files: list[str],
        work: Path) -> None:
    texts, n_sent = make_texts(files, max(sizes + [QUALITY_SIZE]), args.seed)
    texts_json = str(work / "texts.json")
    Path(texts_json).write_text(json.dumps(texts), "utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    if not args.reuse_cache:
        env["NLP_CACHE_DIR"] = str(work / "cache")
    out = Path(args.out)
    old = json.loads(out.read_text("utf-8")) if args.merge and out.is_file() else {}

    first_load = {}
    for b in backends:  # first load, building derived models into an empty cache: timed alone
        w = Worker(b, b, texts_json, env)
        first_load[b] = round(w.load_s, 1)
        w.close()
        print(f"first load of {b} (incl. building it): {w.load_s:.1f} s", flush=True)

    rows: list[dict] = []
    for size in sizes:
        configs = {b: {"backend": b} for b in ["ref", *backends]}
        sparse = {}
        if size > 10_000:
            configs = {n: c for n, c in configs.items() if n not in ("st", "onnx")}
            if args.ref_every:
                sparse["ref"] = args.ref_every
            else:
                configs.pop("ref")
        save = work / f"vec{size}" if size == QUALITY_SIZE else None
        if save:
            save.mkdir()
        res = measure(configs, size, texts_json, env, chunk=min(args.chunk, size), save_dir=save,
                      repeats=args.repeats if size <= QUALITY_SIZE else 1, sparse=sparse)
        for n, r in res.items():
            r.update(size=size, backend=n)
            if n in sparse:
                r["note"] = (f"timed on every {sparse[n]}th chunk ({r['texts_timed']:,} texts), "
                             f"interleaved; a full run would take ~{size / r['texts_per_s'] / 60:.0f}"
                             " min (estimate)")
            rows.append(r)
        if save:
            ref = np.load(save / "ref.npy")
            for r in rows:
                if r["size"] == size:
                    v = np.load(save / f"{r['backend']}.npy")
                    r["cosine"] = round(float((v * ref).sum(1).mean()), 4) \
                        if v.shape == ref.shape else None
                    r["top10_overlap"] = round(top_k_overlap(ref, v), 3)

    sweep = []
    if args.sweep:
        grid = [(b, bs, th) for b in ("st", "onnx-int8")
                for bs, th in ((4, 2), (8, 2), (16, 2), (32, 2), (64, 2), (8, 1), (16, 1))]
        configs = {f"{b} bs={bs} threads={th}": {"backend": b, "batch_size": bs, "threads": th}
                   for b, bs, th in grid}
        res = measure(configs, QUALITY_SIZE, texts_json, env, repeats=args.repeats,
                      chunk=QUALITY_SIZE // 4)
        for (b, bs, th), (n, r) in zip(grid, res.items()):
            sweep.append({"backend": b, "batch_size": bs, "threads": th, **r})

    keep = [r for r in old.get("rows", []) if r["size"] not in sizes]
    result = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commands": old.get("commands", []) + [
            "python evaluation/bench_embed.py " + " ".join(sys.argv[1:])],
        "machine": {"cpu": cpu_name(), "cores": len(os.sched_getaffinity(0)),
                    "platform": platform.platform()},
        "versions": versions(),
        "texts": {"sentences": n_sent, "seed": args.seed,
                  "files": sorted(Path(f).name for f in files),
                  "mean_chars": round(float(np.mean([len(t) for t in texts])), 1)},
        "first_load_s": {**old.get("first_load_s", {}), **first_load},
        "rows": sorted(keep + rows, key=lambda r: (r["size"], r["backend"] != "ref")),
        "sweep": sweep or old.get("sweep", []),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), "utf-8")
    print_table(result["rows"])
    for r in result["sweep"]:
        print(f"sweep {r['backend']:10s} batch {r['batch_size']:>3} threads {r['threads']}: "
              f"{r['texts_per_s']:>6.1f}/s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
