"""Evaluation of the anonymise stage: span precision/recall/F1 on data/pii_sentences.jsonl.

Two ways of counting, per label and overall:
- "hidden": a gold span counts as found when any predicted PII span overlaps it (whatever its
  type): what matters for data protection is that it is hidden. A predicted span counts as
  correct when it overlaps any gold span.
- "typed": the same, but the predicted span must carry the gold span's label.
Systems: spaCy NER alone (PERSON, ORG, GPE/LOC/FAC mapped), the full Anonymiser in strict mode
(every organisation replaced, as the gold spans were written) and in its default mode (public
bodies, programmes and sector bodies kept: scored on the gold spans less those it keeps by
design, which are not personal data), and Presidio's AnalyzerEngine on the same local spaCy
model when presidio-analyzer is installed. The gold set predates the ADDRESS type: a predicted
ADDRESS counts as PLACE.

    python evaluation/eval_anonymise.py [--split dev|heldout|both] [--show] [--no-write]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.text.anonymise import ALL_LABELS, KEEP_TERMS, Anonymiser, _phrase_regex  # noqa: E402
from nlp.text.process import load_pipeline  # noqa: E402

DATA = ROOT / "evaluation" / "data" / "pii_sentences.jsonl"
OUT = ROOT / "evaluation" / "results" / "anonymise.json"
NER_MAP = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
PRESIDIO_MAP = {"PERSON": "PERSON", "ORGANIZATION": "ORG", "NRP": None, "LOCATION": "PLACE",
                "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "URL": "URL",
                "DATE_TIME": "DOB", "UK_POSTCODE": "POSTCODE"}


LABELS = tuple(x for x in ALL_LABELS if x != "ADDRESS")  # the gold set's types


def load(split: str) -> list[dict]:
    rows = [json.loads(x) for x in DATA.read_text("utf-8").splitlines() if x.strip()]
    return [r for r in rows if split in ("all", r["split"])]


def pii_rows(rows: list[dict]) -> list[dict]:
    """The rows with the gold spans that the default mode keeps on purpose (a name on
    nlp.text.anonymise.KEEP_TERMS: a public body, programme or sector body) taken out."""
    keep = _phrase_regex(KEEP_TERMS)
    return [{**r, "spans": [s for s in r["spans"]
                            if not keep.fullmatch(r["text"][s["start"]:s["end"]])]}
            for r in rows]


def ner_only(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    nlp = load_pipeline(components="ner")
    return [[(e.start_char, e.end_char, NER_MAP[e.label_]) for e in doc.ents if e.label_ in NER_MAP]
            for doc in nlp.pipe(texts)]


def full(texts: list[str], *, strict: bool = False) -> list[list[tuple[int, int, str]]]:
    return [[(s.start, s.end, "PLACE" if s.label == "ADDRESS" else s.label) for s in spans]
            for spans in Anonymiser(strict=strict).find_many(texts)]


def full_strict(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    return full(texts, strict=True)


def presidio(texts: list[str]) -> list[list[tuple[int, int, str]]] | None:
    try:
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        return None
    import tldextract.tldextract as tld

    # Presidio's URL recogniser calls tldextract, which fetches the public suffix list over
    # the network; use the snapshot inside the package instead.
    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=())
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    model = load_pipeline(components="all").meta["name"]
    ignore = ["CARDINAL", "ORDINAL", "QUANTITY", "LAW", "LANGUAGE", "EVENT", "PERCENT", "MONEY",
              "TIME", "PRODUCT", "WORK_OF_ART"]
    engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": f"en_{model}"}],
        "ner_model_configuration": {
            "labels_to_ignore": ignore, "low_score_entity_names": [],
            "model_to_presidio_entity_mapping": {
                "PERSON": "PERSON", "ORG": "ORGANIZATION", "GPE": "LOCATION", "LOC": "LOCATION",
                "FAC": "LOCATION", "NORP": "NRP", "DATE": "DATE_TIME"}}}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    # Presidio has no UK postcode recogniser; give it the obvious one so the comparison is fair.
    analyzer.registry.add_recognizer(PatternRecognizer(
        supported_entity="UK_POSTCODE", patterns=[Pattern(
            "uk_postcode", r"\b[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}\b", 0.5)]))
    out = []
    for text in texts:
        res = analyzer.analyze(text=text, language="en", score_threshold=0.35)
        # Presidio returns overlapping results from different recognisers: keep the best-scored
        res = sorted((r for r in res if PRESIDIO_MAP.get(r.entity_type)),
                     key=lambda r: (-r.score, r.start - r.end))
        kept: list[tuple[int, int, str]] = []
        for r in res:
            if all(r.end <= a or r.start >= b for a, b, _ in kept):
                kept.append((r.start, r.end, PRESIDIO_MAP[r.entity_type]))
        out.append(sorted(kept))
    return out


def overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(rows: list[dict], preds: list[list[tuple]]) -> dict:
    """{"hidden"|"typed": {label|"ALL": {"p","r","f1","gold","pred"}}}"""
    result: dict = {}
    for mode in ("hidden", "typed"):
        per: dict = {}
        for label in (*LABELS, "ALL"):
            tp_g = n_g = tp_p = n_p = 0
            for row, pred in zip(rows, preds):
                gold = [(s["start"], s["end"], s["label"]) for s in row["spans"]]
                g_sel = [g for g in gold if label in ("ALL", g[2])]
                p_sel = [p for p in pred if label in ("ALL", p[2])]
                same = (lambda x, y: x[2] == y[2]) if mode == "typed" else (lambda x, y: True)
                n_g += len(g_sel)
                tp_g += sum(any(overlaps(g, p) and same(g, p) for p in pred) for g in g_sel)
                n_p += len(p_sel)
                tp_p += sum(any(overlaps(p, g) and same(p, g) for g in gold) for p in p_sel)
            p = tp_p / n_p if n_p else 0.0
            r = tp_g / n_g if n_g else 0.0
            per[label] = {"p": round(p, 3), "r": round(r, 3),
                          "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
                          "gold": n_g, "pred": n_p}
        result[mode] = per
    return result


def show_errors(rows: list[dict], preds: list[list[tuple]]) -> None:
    for row, pred in zip(rows, preds):
        gold = [(s["start"], s["end"], s["label"]) for s in row["spans"]]
        miss = [row["text"][g[0]:g[1]] + "/" + g[2] for g in gold
                if not any(overlaps(g, p) for p in pred)]
        extra = [row["text"][p[0]:p[1]] + "/" + p[2] for p in pred
                 if not any(overlaps(p, g) for g in gold)]
        if miss or extra:
            print(f"  {row['id']}: missed {miss} extra {extra}\n     {row['text']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="both", choices=["dev", "heldout", "both", "all"])
    ap.add_argument("--show", action="store_true", help="print misses and false alarms")
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    splits = ["dev", "heldout"] if args.split == "both" else [args.split]
    from importlib.metadata import PackageNotFoundError, version

    def _version(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    meta = load_pipeline(components="ner").meta
    results: dict = {"date": date.today().isoformat(), "data": str(DATA.relative_to(ROOT)),
                     "pipeline": f"{meta.get('lang')}_{meta.get('name')} {meta.get('version')}",
                     "versions": {p: _version(p) for p in ("spacy", "presidio-analyzer")},
                     "splits": {}}
    for split in splits:
        rows = load(split)
        texts = [r["text"] for r in rows]
        results["splits"][split] = {"sentences": len(rows),
                                    "gold_spans": sum(len(r["spans"]) for r in rows), "systems": {}}
        kept = pii_rows(rows)
        results["splits"][split]["gold_spans_default_mode"] = sum(len(r["spans"]) for r in kept)
        systems = (("spacy_ner_only", ner_only, rows), ("anonymiser_strict", full_strict, rows),
                   ("anonymiser", full, kept), ("presidio", presidio, rows))
        for name, fn, gold in systems:
            t0 = time.perf_counter()
            preds = fn(texts)
            if preds is None:
                continue
            sc = score(gold, preds)
            sc["seconds"] = round(time.perf_counter() - t0, 2)
            results["splits"][split]["systems"][name] = sc
            print(f"\n== {split} ({len(rows)} sentences) — {name} ({sc['seconds']} s)")
            print(f"{'label':9} {'hidden P':>8} {'R':>6} {'F1':>6} | {'typed P':>8} {'R':>6} "
                  f"{'F1':>6} | gold pred")
            for label in (*LABELS, "ALL"):
                h, t = sc["hidden"][label], sc["typed"][label]
                print(f"{label:9} {h['p']:8.3f} {h['r']:6.3f} {h['f1']:6.3f} | {t['p']:8.3f} "
                      f"{t['r']:6.3f} {t['f1']:6.3f} | {h['gold']:4} {h['pred']:4}")
            if args.show:
                show_errors(gold, preds)
    if not args.no_write:
        # A system that could not run here (Presidio not installed) keeps its figures from the
        # last run that had it, marked with that run's date.
        try:
            old = json.loads(OUT.read_text("utf-8"))
        except (OSError, ValueError):
            old = {}
        for split, res in results["splits"].items():
            for name, sc in old.get("splits", {}).get(split, {}).get("systems", {}).items():
                if name not in res["systems"] and name == "presidio":
                    res["systems"][name] = {**sc, "from_run": sc.get("from_run", old.get("date"))}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
        print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
