"""The bundled corpus corpora/vcs-commissioning: loads, is consistent with its codebook, its
texts are verbatim from the source reports, and every coder disagreement was adjudicated."""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from nlp import corpora
from nlp.codebook import load_codebook

NAME = "vcs-commissioning"
CORPUS = Path(corpora.corpora_dir()) / NAME
BUILD = CORPUS / "_build"
COLUMNS = ["id", "text", "kind", "source", "line", "section", "speaker", "themes", "coder1",
           "coder2"]
# The four source reports live beside the clone (../shared/seeds), as in CI; NLP_SEEDS_DIR
# overrides.
SEEDS = Path(os.environ.get("NLP_SEEDS_DIR")
             or Path(__file__).resolve().parents[3] / "shared" / "seeds")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def df():
    return corpora.load(NAME)


@pytest.fixture(scope="module")
def theme_ids() -> set[str]:
    return set(load_codebook(corpora.codebook_path(NAME)).theme_ids)


def test_loads_as_dataframe_with_the_documented_columns(df):
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    assert list(df.columns[:len(COLUMNS)]) == COLUMNS
    assert NAME in corpora.available()
    assert df[["id", "text", "kind", "source"]].notna().all().all()
    assert (df["text"].str.strip().str.len() > 0).all()
    assert df["line"].map(lambda v: isinstance(v, int) and v > 0).all()


def test_unknown_corpus_is_a_clear_error():
    from nlp import errors

    with pytest.raises(errors.NlpError, match="no bundled corpus"):
        corpora.load("no-such-corpus")


def test_ids_unique_and_kinds_known(df):
    assert df["id"].is_unique
    assert set(df["kind"]) == {"quote", "report_prose"}
    assert (df["kind"] == "quote").sum() > 100


def test_every_theme_is_in_the_shipped_codebook(df, theme_ids):
    for col in ("themes", "coder1", "coder2"):
        used = {t for ts in df[col] for t in ts}
        assert used <= theme_ids, f"{col}: unknown themes {used - theme_ids}"
        assert df[col].map(lambda ts: ts == sorted(set(ts))).all(), f"{col} not sorted/unique"


def test_shipped_codebook_is_the_toolkit_default(theme_ids):
    assert theme_ids == set(load_codebook().theme_ids)


def test_every_theme_has_an_example(df, theme_ids):
    counts = Counter(t for ts in df["themes"] for t in ts)
    assert not theme_ids - set(counts), f"themes with no example: {theme_ids - set(counts)}"


PARA = "\u2029"  # paragraph break (a blank line) in a normalised source
LAYOUT = set(" \u201c\u201d\"*_")  # what a layout may put between two pieces of one unit


def _ws(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _source_text(raw: str) -> str:
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
                  max_gap: int = 2500, min_chunk: int = 12) -> int | None:
    """Where `text` occurs verbatim (whitespace-normalised) in `source` (from _source_text) at
    or after `start`, or None. A unit may run over a page break or a pull-quote box that the
    layout put in the middle of it, or over a paragraph-opening quote mark, so it may be made
    of up to `max_gaps` + 1 verbatim pieces, in order, where each piece after the first
    continues either straight on (past quote marks, emphasis marks and spaces only) or at the
    start of a later paragraph, within `max_gap` characters, when the previous piece ended its
    paragraph. Anything else (a word left out, changed or added) fails."""
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
            return first
        head = pos + len(source[pos:]) - len(source[pos:].lstrip(layout))
        candidates = [head]
        if source.startswith(PARA, head):  # the piece ended its paragraph: a later one may
            end = min(len(source), pos + max_gap)  # carry on after a box or page break
            i = source.find(PARA, head, end)
            while i != -1:
                j = i + 1
                candidates.append(j + len(source[j:j + 8]) - len(source[j:j + 8].lstrip(layout)))
                i = source.find(PARA, j, end)
        best, at = max((_common(rest, source[c:c + len(rest)]), c) for c in candidates)
        if best < min(len(rest), min_chunk):
            return None
        pos = at + best
        rest = rest[best:]
    return first if not rest.strip() else None


def test_every_unit_is_verbatim_in_its_source_report(df):
    assert SEEDS.is_dir(), (
        f"source reports not found at {SEEDS}: the corpus's verbatim check needs the four "
        f"reports (../shared/seeds beside the clone, or set NLP_SEEDS_DIR)")
    problems = []
    for src, group in df.groupby("source"):
        path = SEEDS / src
        assert path.is_file(), f"source report {src} missing from {SEEDS}"
        raw = path.read_text(encoding="utf-8")
        lines = raw.splitlines()
        text = _source_text(raw)
        for u in group.itertuples():
            # start the search a few lines before the unit's recorded line, so the line is
            # checked too (a repeated pull-quote must be found at its own place).
            before = _source_text("\n".join(lines[:max(0, u.line - 4)]))
            at = verbatim_span(u.text, text, max(0, len(before) - 1))
            if at is None:
                problems.append(f"{u.id}: not verbatim in {src}")
            elif at > len(_source_text("\n".join(lines[:u.line + 3]))):
                problems.append(f"{u.id}: found after line {u.line} + 3")
    assert not problems, "\n".join(problems)


def test_verbatim_check_allows_layout_breaks_but_rejects_altered_text():
    src = _source_text("They said we needed a legal team to read it.\n\n> A boxed pull-quote. <"
                       "\n\n\u201cWe wanted to pull out, so we did not sign.")
    assert verbatim_span("we needed a legal team to read it. We wanted to pull out, so we did "
                         "not sign.", src) == 10
    assert verbatim_span("We wanted to pull out, so we did not sign.", src) is not None
    assert verbatim_span("we needed a lawyer to read it.", src) is None
    assert verbatim_span("We wanted to pull out, so we did sign.", src) is None  # word left out
    assert verbatim_span("We wanted to pull out, so we never did not sign.", src) is None
    assert verbatim_span("We wanted to pull out. They said we needed", src) is None


def test_every_disagreement_was_adjudicated(df):
    c1 = {r["id"]: sorted(set(r["themes"])) for r in read_jsonl(BUILD / "coder1.jsonl")}
    c2 = {r["id"]: sorted(set(r["themes"])) for r in read_jsonl(BUILD / "coder2.jsonl")}
    adj = {r["id"]: r for r in read_jsonl(BUILD / "adjudication.jsonl")}
    disagree = {i for i in c1 if c1[i] != c2.get(i)}
    assert set(adj) == disagree, "adjudication.jsonl must cover exactly the disagreements"
    assert all(r.get("note", "").strip() for r in adj.values()), "every decision needs a note"
    for u in df.itertuples():
        assert u.coder1 == c1[u.id] and u.coder2 == c2[u.id], u.id
        if u.id in disagree:
            assert u.themes == sorted(set(adj[u.id]["themes"])), u.id
        else:
            assert u.themes == u.coder1, u.id
    agreement = json.loads((CORPUS / "agreement.json").read_text(encoding="utf-8"))
    a = agreement["adjudication"]
    assert agreement["disagreements"] == agreement["adjudicated"] == len(disagree)
    assert a["to_coder1"] + a["to_coder2"] + len(a["other"]) == len(disagree)


def test_agreement_counts_match_the_units(df, theme_ids):
    agreement = json.loads((CORPUS / "agreement.json").read_text(encoding="utf-8"))
    assert set(agreement["per_theme"]) == theme_ids
    assert agreement["units"] == len(df) + agreement["duplicates_dropped"]
    for t, v in agreement["per_theme"].items():
        assert v["final"] == sum(t in ts for ts in df["themes"]), t
        assert v["final_quotes"] == sum(t in ts for ts, k in zip(df["themes"], df["kind"])
                                        if k == "quote"), t
        assert -1 <= v["kappa"] <= 1
    assert 0 < agreement["alpha_nominal_unit_x_theme"] <= 1


def test_quotes_gold_is_the_quote_units(df):
    gold = read_jsonl(CORPUS / "quotes_gold.jsonl")
    quotes = df[df["kind"] == "quote"]
    assert [g["id"] for g in gold] == list(quotes["id"])
    assert [g["text"] for g in gold] == list(quotes["text"])
