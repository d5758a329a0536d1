"""Evaluation: build corpora/vcs-commissioning from hand extraction and two coders' codes.

Inputs (corpora/vcs-commissioning/_build/, not shipped): extract_*.jsonl (hand-checked units),
coder1.jsonl and coder2.jsonl (independent codes), adjudication.jsonl (final codes for the
units the coders disagreed on). Outputs: units.jsonl, quotes_gold.jsonl (the unique quotes,
gold for the quote extractor), agreement.json, and _build/quotes_all.jsonl (every hand-checked
quote, pull-quote duplicates included). Prints agreement per theme.

    python evaluation/build_corpus.py
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.codebook import load_codebook  # noqa: E402

CORPUS = ROOT / "corpora" / "vcs-commissioning"
BUILD = CORPUS / "_build"
SEEDS = ROOT.parent / "shared" / "seeds"
REPORTS = {
    "000_13c9ca5bb28908b5.txt": "Clinks (2014) More than a provider",
    "001_37d5bcfed99dff0f.txt": "RRTSAG Task and Finish Group (2011) Competition, "
                                "Commissioning and the VCS",
    "002_2bec4e9496a7c596.txt": "RR3 SIG (2018) How to improve commissioning (prison family "
                                "services)",
    "004_8e6876aec3cb1f83.txt": "Clinks, NCVO, TSRC (2016) Change & challenge",
}


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def tokens(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def duplicates(units: list[dict]) -> dict[str, str]:
    """Quotes repeated in the same report (pull-quotes of a longer quote): id -> kept id."""
    quotes = [u for u in units if u["kind"] == "quote"]
    dup = {}
    for a in quotes:
        ta = tokens(a["text"])
        for b in quotes:
            if a is b or b["source"] != a["source"] or b["id"] in dup:
                continue
            tb = tokens(b["text"])
            if len(tb) > len(ta) or (len(tb) == len(ta) and b["id"] < a["id"]):
                if len(ta & tb) / max(1, len(ta)) >= 0.8:
                    dup[a["id"]] = b["id"]
                    break
    return dup


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    po = float((a == b).mean())
    pa, pb = a.mean(), b.mean()
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def main() -> None:
    import krippendorff

    codebook = load_codebook(CORPUS / "codebook.yaml")
    tids = codebook.theme_ids
    units = [u for p in sorted(BUILD.glob("extract_*.jsonl")) for u in read(p)]
    c1 = {r["id"]: r["themes"] for r in read(BUILD / "coder1.jsonl")}
    c2 = {r["id"]: r["themes"] for r in read(BUILD / "coder2.jsonl")}
    adj_path = BUILD / "adjudication.jsonl"
    adj = {r["id"]: r["themes"] for r in read(adj_path)} if adj_path.exists() else {}
    missing = [u["id"] for u in units if u["id"] not in c1 or u["id"] not in c2]
    if missing:
        sys.exit(f"not coded by both coders: {missing[:10]} ... ({len(missing)})")
    for codes in (c1, c2, adj):
        for uid, ts in codes.items():
            bad = set(ts) - set(tids)
            if bad:
                sys.exit(f"{uid}: unknown themes {bad}")
    dup = duplicates(units)
    out = []
    undecided = []
    for u in units:
        a, b = sorted(set(c1[u["id"]])), sorted(set(c2[u["id"]]))
        if a == b:
            final = a
        elif u["id"] in adj:
            final = sorted(set(adj[u["id"]]))
        else:
            undecided.append(u["id"])
            final = sorted(set(a) & set(b))
        out.append({**u, "themes": final, "coder1": a, "coder2": b,
                    **({"duplicate_of": dup[u["id"]]} if u["id"] in dup else {})})
    if undecided:
        print(f"WARNING: {len(undecided)} disagreements not adjudicated (kept the "
              f"intersection): {undecided[:8]}")
    disagree = [u for u in out if u["coder1"] != u["coder2"]]
    stale = sorted(set(adj) - {u["id"] for u in disagree})
    if stale:
        print(f"WARNING: {len(stale)} adjudications for units the coders agree on (ignored): "
              f"{stale[:8]}")
    resolved = [u for u in disagree if u["id"] in adj]
    adjudication = {
        "disagreements": len(disagree), "adjudicated": len(resolved),
        "to_coder1": sum(u["themes"] == u["coder1"] for u in resolved),
        "to_coder2": sum(u["themes"] == u["coder2"] for u in resolved),
        "other": sorted(u["id"] for u in resolved
                        if u["themes"] not in (u["coder1"], u["coder2"]))}
    shipped = [u for u in out if "duplicate_of" not in u]
    with (CORPUS / "units.jsonl").open("w", encoding="utf-8") as fh:
        for u in shipped:
            fh.write(json.dumps({k: u[k] for k in ("id", "text", "kind", "source", "line",
                                                    "section", "speaker", "themes", "coder1",
                                                    "coder2")}, ensure_ascii=False) + "\n")
    with (CORPUS / "quotes_gold.jsonl").open("w", encoding="utf-8") as fh:
        for u in shipped:
            if u["kind"] == "quote":
                fh.write(json.dumps({k: u[k] for k in ("id", "text", "source", "line")},
                                    ensure_ascii=False) + "\n")
    # Every hand-checked quote, pull-quote duplicates included: the list the importer is
    # measured against (python evaluation/eval_quotes.py --gold <this file>).
    with (BUILD / "quotes_all.jsonl").open("w", encoding="utf-8") as fh:
        for u in out:
            if u["kind"] == "quote":
                fh.write(json.dumps({k: u[k] for k in ("id", "text", "source", "line")},
                                    ensure_ascii=False) + "\n")
    # Agreement on every unit coded by both (duplicates included: each was coded).
    A = np.array([[int(t in c1[u["id"]]) for t in tids] for u in units])
    B = np.array([[int(t in c2[u["id"]]) for t in tids] for u in units])
    per = {}
    for j, t in enumerate(tids):
        per[t] = {"kappa": cohen_kappa(A[:, j], B[:, j]), "coder1": int(A[:, j].sum()),
                  "coder2": int(B[:, j].sum()),
                  "final": int(sum(t in u["themes"] for u in shipped)),
                  "final_quotes": int(sum(t in u["themes"] for u in shipped
                                          if u["kind"] == "quote"))}
    alpha = krippendorff.alpha(reliability_data=np.vstack([A.ravel(), B.ravel()]),
                               level_of_measurement="nominal")
    exact = float((A == B).all(1).mean())
    agreement = {"units": len(units), "alpha_nominal_unit_x_theme": float(alpha),
                 "kappa_pooled": cohen_kappa(A.ravel(), B.ravel()),
                 "exact_unit_agreement": exact, "per_theme": per,
                 "disagreements": adjudication["disagreements"],
                 "adjudicated": adjudication["adjudicated"], "adjudication": adjudication,
                 "duplicates_dropped": len(dup)}
    (CORPUS / "agreement.json").write_text(json.dumps(agreement, indent=2))
    print(f"units: {len(units)} coded, {len(shipped)} shipped ({len(dup)} duplicate pull-quotes "
          f"dropped); quotes {sum(u['kind'] == 'quote' for u in shipped)}, prose "
          f"{sum(u['kind'] == 'report_prose' for u in shipped)}")
    print(f"Krippendorff's alpha (nominal, unit x theme): {alpha:.3f}; pooled kappa "
          f"{agreement['kappa_pooled']:.3f}; units coded identically {exact:.1%}")
    print(f"disagreements {adjudication['disagreements']}, adjudicated "
          f"{adjudication['adjudicated']}: to coder1 {adjudication['to_coder1']}, to coder2 "
          f"{adjudication['to_coder2']}, other {len(adjudication['other'])}")
    print(f"{'theme':<34} {'kappa':>6} {'c1':>4} {'c2':>4} {'final':>6} {'quotes':>7}")
    for t, v in per.items():
        print(f"{t:<34} {v['kappa']:>6.2f} {v['coder1']:>4} {v['coder2']:>4} {v['final']:>6} "
              f"{v['final_quotes']:>7}")


if __name__ == "__main__":
    main()
