"""The bundled corpus's source passages, and the check that a unit is verbatim in them.

The four source reports live beside CI's checkout (../shared/seeds), not beside anyone else's
clone. So the repository ships, in corpora/vcs-commissioning/_build/source_passages.jsonl,
the lines of each report that its units come from (from 4 lines before a unit to 3 lines after
its end, each report's SHA-256 and line count): the verbatim check runs on them on any clone,
and where the reports are present it also checks that the passages are the reports' own lines.

Rebuild (needs the reports): python tests/unit/corpus_passages.py [SEEDS_DIR]
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpora" / "vcs-commissioning"
PASSAGES = CORPUS / "_build" / "source_passages.jsonl"
SEEDS = Path(os.environ.get("NLP_SEEDS_DIR") or REPO.parent / "shared" / "seeds")

PARA = "\u2029"  # paragraph break (a blank line) in a normalised source
LAYOUT = set(" \u201c\u201d\"*_")  # what a layout may put between two pieces of one unit


def _ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def source_text(raw: str) -> str:
    """A source report, whitespace-normalised, with its paragraph breaks kept as PARA."""
    return f" {PARA} ".join(_ws(p) for p in re.split(r"\n\s*\n", raw) if p.strip())


def _longest_prefix_in(text: str, hay: str) -> int:
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text[:mid] in hay:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def verbatim_span(text: str, source: str, start: int = 0, *, max_gaps: int = 10,
                  max_gap: int = 2500, min_chunk: int = 12, end: bool = False):
    """Where `text` occurs verbatim (whitespace-normalised) in `source` (from source_text) at
    or after `start`, or None (with `end`: (start, end) offsets). A unit may run over a page
    break or a pull-quote box that the layout put in the middle of it, or over a
    paragraph-opening quote mark, so it may be made of up to `max_gaps` + 1 verbatim pieces,
    in order, where each piece after the first continues either straight on (past quote
    marks, emphasis marks and spaces only) or at the start of a later paragraph, within
    `max_gap` characters, when the previous piece ended its paragraph. Anything else (a word
    left out, changed or added) fails."""
    text = _ws(text)
    k = _longest_prefix_in(text, source[start:])
    if k < min(len(text), min_chunk):
        return None
    first = pos = source.index(text[:k], start)
    pos += k
    rest = text[k:]
    layout = "".join(LAYOUT)
    for _ in range(max_gaps):
        rest = rest.lstrip()
        if not rest:
            break
        head = pos + len(source[pos:]) - len(source[pos:].lstrip(layout))
        candidates = [head]
        if source.startswith(PARA, head):  # the piece ended its paragraph: a later one may
            stop = min(len(source), pos + max_gap)  # carry on after a box or page break
            i = source.find(PARA, head, stop)
            while i != -1:
                j = i + 1
                candidates.append(j + len(source[j:j + 8]) - len(source[j:j + 8].lstrip(layout)))
                i = source.find(PARA, j, stop)
        best, at = max((_common(rest, source[c:c + len(rest)]), c) for c in candidates)
        if best < min(len(rest), min_chunk):
            return None
        pos = at + best
        rest = rest[best:]
    if rest.strip():
        return None
    return (first, pos) if end else first


def unit_problem(unit, lines: list[str]) -> str | None:
    """Why `unit` (id, text, line) is not verbatim at its line of a report's `lines`, or None.
    The search starts a few lines before the unit's recorded line, so the line is checked too
    (a repeated pull-quote must be found at its own place)."""
    text = source_text("\n".join(lines))
    before = source_text("\n".join(lines[:max(0, unit.line - 4)]))
    at = verbatim_span(unit.text, text, max(0, len(before) - 1))
    if at is None:
        return f"{unit.id}: not verbatim"
    if at > len(source_text("\n".join(lines[:unit.line + 3]))):
        return f"{unit.id}: found after line {unit.line} + 3"
    return None


def load_passages() -> dict[str, dict]:
    """{report file: {"sha256", "n_lines", "runs": [[first line (1-based), [lines...]], ...]}}"""
    out = {}
    for line in PASSAGES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            out[entry["source"]] = entry
    return out


def passage_lines(entry: dict) -> list[str]:
    """A report as the passages keep it: its own lines where a unit needs them, blank lines
    elsewhere (so line numbers are the report's)."""
    lines = [""] * entry["n_lines"]
    for first, run in entry["runs"]:
        lines[first - 1:first - 1 + len(run)] = run
    return lines


def _line_of(lines: list[str], offset: int) -> int:
    """The number of lines whose normalised text reaches `offset` (binary search)."""
    lo, hi = 0, len(lines)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(source_text("\n".join(lines[:mid]))) >= offset:
            hi = mid
        else:
            lo = mid + 1
    return lo


def build(seeds: Path = SEEDS) -> list[dict]:
    """The passages of every report, checked to carry every unit, from the reports in
    `seeds`."""
    import pandas as pd

    units = pd.read_json(CORPUS / "units.jsonl", lines=True)
    out = []
    for src, group in units.groupby("source"):
        raw = (seeds / src).read_text(encoding="utf-8")
        lines = raw.splitlines()
        text = source_text(raw)
        spans = {}
        for u in group.itertuples():
            before = source_text("\n".join(lines[:max(0, u.line - 4)]))
            span = verbatim_span(u.text, text, max(0, len(before) - 1), end=True)
            assert span is not None, f"{u.id} is not verbatim in {src}"
            spans[u.id] = (max(0, u.line - 1), _line_of(lines, span[1]))
        wide: set[str] = set()
        while True:  # the unit's own lines; a few around it only where the check needs them
            keep = [False] * len(lines)
            for uid, (a, b) in spans.items():
                a, b = (max(0, a - 4), b + 3) if uid in wide else (a, b)
                for i in range(a, min(len(lines), b)):
                    keep[i] = True
            kept = [ln if k else "" for ln, k in zip(lines, keep)]
            bad = {u.id for u in group.itertuples() if unit_problem(u, kept)}
            assert not bad & wide, f"not verbatim even with context: {sorted(bad & wide)}"
            if not bad:
                break
            wide |= bad
        runs: list[list] = []
        for i, k in enumerate(keep):
            if k:
                if runs and runs[-1][0] + len(runs[-1][1]) == i + 1:
                    runs[-1][1].append(lines[i])
                else:
                    runs.append([i + 1, [lines[i]]])
        entry = {"source": src, "sha256": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                 "n_lines": len(lines), "runs": runs}
        kept = passage_lines(entry)
        bad = [p for u in group.itertuples() if (p := unit_problem(u, kept))]
        assert not bad, bad
        out.append(entry)
    return out


if __name__ == "__main__":
    entries = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SEEDS)
    PASSAGES.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries),
                        encoding="utf-8")
    kept = sum(len(r[1]) for e in entries for r in e["runs"])
    print(f"wrote {PASSAGES}: {kept} of {sum(e['n_lines'] for e in entries)} lines")
