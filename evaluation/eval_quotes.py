"""Evaluation: the report-quote importer's precision and recall against hand-checked quotes.

A found quote matches a gold quote from the same report when they start within 3 lines of each
other and share most of their words (token overlap >= 0.6 of the shorter). Prints a table per
report and writes evaluation/results/quotes.json.

    python evaluation/eval_quotes.py [--gold corpora/vcs-commissioning/quotes_gold.jsonl]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from nlp.ingest.quotes import extract_quotes  # noqa: E402

SEEDS = ROOT.parent.parent / "shared" / "seeds"


def tokens(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def matches(a, b) -> bool:
    if abs(a["line"] - b["line"]) > 3:
        return False
    ta, tb = tokens(a["text"]), tokens(b["text"])
    return len(ta & tb) / max(1, min(len(ta), len(tb))) >= 0.6


def evaluate(gold: list[dict], seeds: Path) -> dict:
    by_src = defaultdict(list)
    for g in gold:
        by_src[g["source"]].append(g)
    out = {}
    for src in sorted(by_src):
        lines = (seeds / src).read_text(encoding="utf-8").splitlines()
        found = [{"text": q.text, "line": q.line} for q in extract_quotes(lines)]
        gs = by_src[src]
        tp_found = sum(any(matches(f, g) for g in gs) for f in found)
        tp_gold = sum(any(matches(f, g) for f in found) for g in gs)
        out[src] = {"gold": len(gs), "found": len(found),
                    "precision": tp_found / len(found) if found else 1.0,
                    "recall": tp_gold / len(gs) if gs else 1.0,
                    "missed": [g["id"] for g in gs if not any(matches(f, g) for f in found)],
                    "spurious": [f["text"][:80] for f in found
                                 if not any(matches(f, g) for g in gs)]}
    tot_g = sum(v["gold"] for v in out.values())
    tot_f = sum(v["found"] for v in out.values())
    out["all"] = {
        "gold": tot_g, "found": tot_f,
        "precision": sum(v["precision"] * v["found"] for v in out.values()) / max(1, tot_f),
        "recall": sum(v["recall"] * v["gold"] for v in out.values()) / max(1, tot_g)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(ROOT.parent / "corpora" / "vcs-commissioning" /
                                          "quotes_gold.jsonl"))
    ap.add_argument("--seeds", default=str(SEEDS))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    gold = [json.loads(x) for x in Path(args.gold).read_text(encoding="utf-8").splitlines() if x]
    res = evaluate(gold, Path(args.seeds))
    print(f"{'report':<28} {'gold':>5} {'found':>6} {'precision':>10} {'recall':>7}")
    for src, v in res.items():
        print(f"{src:<28} {v['gold']:>5} {v['found']:>6} {v['precision']:>10.2f} {v['recall']:>7.2f}")
        if args.verbose and src != "all":
            for m in v["missed"]:
                print("   missed", m)
            for s in v["spurious"]:
                print("   spurious", s)
    out = ROOT / "results" / "quotes.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
