"""Benchmark of batch coding (issue 17): `nlp code IN --out OUT` against the bare encoder.

For each size, answers of 1-3 sentences (recombined from the reports in ../shared/seeds, else
from the bundled corpus) are made unique (each ends with its own reference), written to a
JSONL file, and timed twice, each as a whole process so start-up counts on both sides:

- **bare**: a script that loads all-MiniLM-L6-v2 with sentence-transformers and encodes the
  texts once (`SentenceTransformer(<bundled MiniLM>).encode(texts)`, its default batch of 32);
- **nlp code**: `python -m nlp code IN --out OUT` with default settings and an empty
  embedding cache (NLP_CACHE_DIR is a fresh folder; the built int8 model is found in the user
  cache, as after `make setup`).

Reported: wall seconds, answers/s, peak RSS (the child's own ru_maxrss), and the ratio
bare / nlp. The two runs alternate and the 1-minute load average is recorded, because other
jobs share the machine. Sizes whose bare run would take too long can be left to an estimate
from the largest bare run (`--bare-max`); the report says so. Then, on the bundled corpus, the
held-out micro-F1 (leave-one-report-out, every training unit) of the default path (default
embedder, `WHOLE`) against the reference path (`st`, whole answers and sentences embedded
apart), as in `eval_classify.py`.

    .venv/bin/python evaluation/bench_batch.py                        # 2k and 20k (~15 min)
    .venv/bin/python evaluation/bench_batch.py --sizes 2k,20k,100k --bare-max 20000
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "evaluation"))
SIZES = {"2k": 2_000, "20k": 20_000, "100k": 100_000}

BARE = """
import json, sys
from sentence_transformers import SentenceTransformer
from nlp.embed import bundled_encoder_dir
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(bundled_encoder_dir()), device="cpu")
vectors = model.encode(texts, normalize_embeddings=True)
print(vectors.shape)
"""


def make_answers(n: int, seed: int = 0) -> list[str]:
    from bench_embed import split_sentences

    files = sorted(glob.glob(str(REPO.parent / "shared" / "seeds" / "*.txt")))
    sentences = [s for f in files for s in split_sentences(Path(f).read_text("utf-8"))]
    if len(sentences) < 100:  # a plain clone: the bundled corpus's own sentences
        from nlp.corpora import DEFAULT_CORPUS, load
        from nlp.text.segment import split_segments

        sentences = [s for t in load(DEFAULT_CORPUS)["text"] for s in split_segments(t)
                     if 40 <= len(s) <= 400]
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(1, 3))) + f" (ref {seed}-{i})"
            for i in range(n)]


def timed(cmd: list[str], env: dict) -> dict:
    """Run `cmd`; wall seconds and the child's peak RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{err[-3000:]}")
    return {"seconds": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "stderr_tail": err.strip().splitlines()[-3:]}


def accuracy() -> dict:
    """Held-out micro-F1 on the bundled corpus: the default path against the reference."""
    from eval_classify import base_model, f1, full, load_sets
    from nlp.classify import encode
    from nlp.classify.encoded import WHOLE
    from nlp.corpora import DEFAULT_CORPUS
    from nlp.embed import EmbeddingCache, cache_root, get_embedder

    s = load_sets(Path("/nonexistent"))[DEFAULT_CORPUS]
    cache = EmbeddingCache(cache_root())
    out = {}
    for name, spec, whole in (("reference", "st", "embed"), ("default", None, WHOLE)):
        emb = get_embedder(spec)
        enc = encode(s["texts"], emb, cache=cache, whole=whole)
        o = full(s, enc, base_model(s, emb, cache))
        out[name] = {"embedder": emb.model_id, "whole": whole,
                     "micro_f1": round(f1(o["gold"], o["model"], "micro"), 4),
                     "answers_tested": int(len(o["gold"]))}
    out["difference"] = round(out["default"]["micro_f1"] - out["reference"]["micro_f1"], 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2k,20k")
    ap.add_argument("--bare-max", type=int, default=20_000,
                    help="largest size the bare encoder is run at; larger sizes use the rate "
                         "of the largest bare run (reported as an estimate)")
    ap.add_argument("--no-accuracy", action="store_true")
    ap.add_argument("--out", default=str(REPO / "evaluation" / "results" / "bench_batch.json"))
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("NLP_EMBEDDER", None)
    # The default's model, built once (as `make setup` does), outside the timings.
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from nlp.embed import get_embedder; "
                    "e = get_embedder(); e.encode(['warm up'])"], env=env, cwd=REPO, check=True)
    res = {"machine": {"python": platform.python_version(), "cores": len(os.sched_getaffinity(0)),
                       "platform": platform.platform()},
           "first_model_load_s": round(time.perf_counter() - t0, 1), "sizes": {}}
    bare_rate = None
    for name in args.sizes.split(","):
        n = SIZES.get(name) or int(name)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.jsonl"
            src.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n"
                                   for i, t in enumerate(make_answers(n))), encoding="utf-8")
            row = {"answers": n, "load_before": round(os.getloadavg()[0], 2)}
            if n <= args.bare_max:
                row["bare"] = timed([sys.executable, "-c", BARE, str(src)], env)
                bare_rate = n / row["bare"]["seconds"]
            print(f"{n:,}: bare {row.get('bare', {}).get('seconds', 'not run')} s", flush=True)
            cenv = {**env, "NLP_CACHE_DIR": str(Path(tmp) / "cache")}
            row["nlp_code"] = timed([sys.executable, "-m", "nlp", "code", str(src), "--out",
                                     str(Path(tmp) / "out.jsonl")], cenv)
            lines = sum(1 for _ in open(Path(tmp) / "out.jsonl", encoding="utf-8"))
            assert lines == n, (lines, n)
            row["load_after"] = round(os.getloadavg()[0], 2)
            row["nlp_answers_per_s"] = round(n / row["nlp_code"]["seconds"], 1)
            if "bare" in row:
                row["bare_answers_per_s"] = round(n / row["bare"]["seconds"], 1)
                row["ratio"] = round(row["bare"]["seconds"] / row["nlp_code"]["seconds"], 2)
            elif bare_rate:
                row["bare_seconds_estimated"] = round(n / bare_rate, 1)
                row["ratio_estimated"] = round(n / bare_rate / row["nlp_code"]["seconds"], 2)
            print(f"{n:,}: nlp code {row['nlp_code']['seconds']} s "
                  f"({row['nlp_answers_per_s']}/s, {row['nlp_code']['peak_rss_mb']} MB), "
                  f"ratio {row.get('ratio', row.get('ratio_estimated'))}", flush=True)
            res["sizes"][str(n)] = row
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    if not args.no_accuracy:
        res["accuracy"] = accuracy()
        print("accuracy:", json.dumps(res["accuracy"]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
