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
import re
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp.text.anonymise import (ALL_LABELS, KEEP_TERMS, NATIONS, Anonymiser,  # noqa: E402
                                _norm, _phrase_regex)
from nlp.text.process import load_pipeline  # noqa: E402

DATA = ROOT / "evaluation" / "data" / "pii_sentences.jsonl"
ANSWERS = ROOT / "evaluation" / "data" / "pii_answers.txt"
OUT = ROOT / "evaluation" / "results" / "anonymise.json"
NER_MAP = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
PRESIDIO_MAP = {"PERSON": "PERSON", "ORGANIZATION": "ORG", "NRP": None, "LOCATION": "PLACE",
                "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "URL": "URL",
                "DATE_TIME": "DOB", "UK_POSTCODE": "POSTCODE"}


LABELS = tuple(x for x in ALL_LABELS if x != "ADDRESS")  # the gold set's types


def load(split: str) -> list[dict]:
    rows = [json.loads(x) for x in DATA.read_text("utf-8").splitlines() if x.strip()]
    return [r for r in rows if split in ("all", r["split"])]


_MARK = re.compile(r"\[\[(.+?)\|([A-Z]+)\]\]|\{\{(.+?)\}\}")


def parse_answer(marked: str) -> tuple[str, list[dict], list[tuple[int, int]]]:
    """A marked-up answer -> (text, gold spans, kept-term spans)."""
    text, spans, keep, pos = [], [], [], 0
    n = 0
    for m in _MARK.finditer(marked):
        text.append(marked[pos:m.start()])
        n += m.start() - pos
        inner = m.group(1) if m.group(1) is not None else m.group(3)
        if m.group(1) is not None:
            spans.append({"start": n, "end": n + len(inner), "label": m.group(2)})
        else:
            keep.append((n, n + len(inner)))
        text.append(inner)
        n += len(inner)
        pos = m.end()
    text.append(marked[pos:])
    return "".join(text), spans, keep


def load_answers(split: str) -> list[dict]:
    rows = []
    for line in ANSWERS.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rid, sp, domain, marked = line.split("|", 3)
        if split not in ("all", sp):
            continue
        text, spans, keep = parse_answer(marked)
        rows.append({"id": rid, "split": sp, "domain": domain, "text": text,
                     "spans": spans, "keep": keep})
    return rows


def over_replacement(rows: list[dict], preds: list[list[tuple]]) -> dict:
    """Kept terms covered by a placeholder, and possessive "'s" swallowed by one."""
    kept = replaced = poss = lost = 0
    examples = []
    for row, pred in zip(rows, preds):
        for k in row["keep"]:
            kept += 1
            if any(overlaps(k, p) for p in pred):
                replaced += 1
                examples.append(f"{row['id']}: {row['text'][k[0]:k[1]]}")
        for g in row["spans"] + [{"start": a, "end": b} for a, b in row["keep"]]:
            if row["text"][g["end"]:g["end"] + 2] in ("'s", "’s"):
                poss += 1
                lost += any(p[0] < g["end"] + 2 and p[1] > g["end"] for p in pred)
    return {"kept_terms": kept, "kept_replaced": replaced,
            "kept_replaced_rate": round(replaced / kept, 3) if kept else 0.0,
            "possessives": poss, "possessives_lost": lost, "replaced_examples": examples}


def pii_rows(rows: list[dict]) -> list[dict]:
    """The rows with the gold spans that the default mode keeps on purpose (a name on
    nlp.text.anonymise.KEEP_TERMS: a public body, programme or sector body; a nation, region
    or country, NATIONS) taken out."""
    keep = _phrase_regex(KEEP_TERMS)
    nations = {_norm(x) for x in NATIONS}
    return [{**r, "spans": [s for s in r["spans"]
                            if not keep.fullmatch(r["text"][s["start"]:s["end"]])
                            and _norm(r["text"][s["start"]:s["end"]]) not in nations]}
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


def print_table(title: str, sc: dict) -> None:
    print(f"\n== {title} ({sc['seconds']} s)")
    print(f"{'label':9} {'hidden P':>8} {'R':>6} {'F1':>6} | {'typed P':>8} {'R':>6} "
          f"{'F1':>6} | gold pred")
    for label in (*LABELS, "ALL"):
        h, t = sc["hidden"][label], sc["typed"][label]
        if label != "ALL" and not h["gold"] and not h["pred"]:
            continue
        print(f"{label:9} {h['p']:8.3f} {h['r']:6.3f} {h['f1']:6.3f} | {t['p']:8.3f} "
              f"{t['r']:6.3f} {t['f1']:6.3f} | {h['gold']:4} {h['pred']:4}")


def run_sentences(splits: list[str], show: bool) -> dict:
    out: dict = {}
    for split in splits:
        rows = load(split)
        texts = [r["text"] for r in rows]
        out[split] = {"sentences": len(rows),
                      "gold_spans": sum(len(r["spans"]) for r in rows), "systems": {}}
        kept = pii_rows(rows)
        out[split]["gold_spans_default_mode"] = sum(len(r["spans"]) for r in kept)
        systems = (("spacy_ner_only", ner_only, rows), ("anonymiser_strict", full_strict, rows),
                   ("anonymiser", full, kept), ("presidio", presidio, rows))
        for name, fn, gold in systems:
            t0 = time.perf_counter()
            preds = fn(texts)
            if preds is None:
                continue
            sc = score(gold, preds)
            sc["seconds"] = round(time.perf_counter() - t0, 2)
            out[split]["systems"][name] = sc
            print_table(f"sentences {split} ({len(rows)} sentences) — {name}", sc)
            if show:
                show_errors(gold, preds)
    return out


def run_answers(splits: list[str], show: bool) -> dict:
    """The answers set, default mode (what a project uses), both directions."""
    out: dict = {}
    for split in splits:
        rows = load_answers(split)
        for r in rows:  # the gold set's ADDRESS is scored as PLACE, as predictions are
            r["spans"] = [{**g, "label": "PLACE" if g["label"] == "ADDRESS" else g["label"]}
                          for g in r["spans"]]
        t0 = time.perf_counter()
        preds = full([r["text"] for r in rows])
        sc = score(rows, preds)
        sc["seconds"] = round(time.perf_counter() - t0, 2)
        sc["over_replacement"] = over_replacement(rows, preds)
        out[split] = {"answers": len(rows), "gold_spans": sum(len(r["spans"]) for r in rows),
                      "kept_terms": sum(len(r["keep"]) for r in rows),
                      "systems": {"anonymiser": sc}}
        print_table(f"answers {split} ({len(rows)} answers) — anonymiser (default mode)", sc)
        o = sc["over_replacement"]
        print(f"kept terms replaced: {o['kept_replaced']}/{o['kept_terms']} "
              f"({o['kept_replaced_rate']:.3f}); possessive 's lost: "
              f"{o['possessives_lost']}/{o['possessives']}")
        if show:
            for e in o["replaced_examples"]:
                print(f"  kept term replaced — {e}")
            show_errors(rows, preds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="both", choices=["sentences", "answers", "both"])
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
                     "answers_data": str(ANSWERS.relative_to(ROOT)),
                     "pipeline": f"{meta.get('lang')}_{meta.get('name')} {meta.get('version')}",
                     "versions": {p: _version(p) for p in ("spacy", "presidio-analyzer")},
                     "splits": {}, "answers": {}}
    if args.data in ("sentences", "both"):
        results["splits"] = run_sentences(splits, args.show)
    if args.data in ("answers", "both"):
        results["answers"] = run_answers(splits, args.show)
    if not args.no_write:
        # What this run did not redo (the other data set or split; Presidio where it is not
        # installed) keeps its figures from the last run that had it, marked with that run's date.
        try:
            old = json.loads(OUT.read_text("utf-8"))
        except (OSError, ValueError):
            old = {}
        for part in ("splits", "answers"):
            for split, res in old.get(part, {}).items():
                new = results[part].setdefault(split, res)
                if new is res:
                    res.setdefault("from_run", old.get("date"))
                    continue
                for name, sc in res.get("systems", {}).items():
                    if name not in new["systems"] and name == "presidio":
                        new["systems"][name] = {**sc, "from_run": sc.get("from_run",
                                                                          old.get("date"))}
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
        print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
