"""The bundled corpus corpora/vcs-commissioning: loads, is consistent with its codebook, its
texts are verbatim from the source reports, and every coder disagreement was adjudicated."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from corpus_passages import (PASSAGES, SEEDS, load_passages, passage_lines, source_text,
                             unit_problem, verbatim_span)
from nlp import corpora
from nlp.codebook import load_codebook

NAME = "vcs-commissioning"
CORPUS = Path(corpora.corpora_dir()) / NAME
BUILD = CORPUS / "_build"
COLUMNS = ["id", "text", "kind", "source", "line", "section", "speaker", "themes", "coder1",
           "coder2"]


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


def test_every_unit_is_verbatim_in_its_source_report(df):
    """Checked on the report passages the repository ships (any clone), at each unit's line."""
    passages = load_passages()
    problems = []
    for src, group in df.groupby("source"):
        assert src in passages, f"no passages of {src} in {PASSAGES}"
        lines = passage_lines(passages[src])
        problems += [f"{p} in {src}" for u in group.itertuples() if (p := unit_problem(u, lines))]
    assert not problems, "\n".join(problems)


def test_shipped_passages_are_the_reports_own_lines(df):
    """Where the four reports are present (../shared/seeds beside CI's checkout, or
    NLP_SEEDS_DIR), the passages are their lines, unchanged, and every unit is verbatim in
    the whole report too."""
    if not SEEDS.is_dir():
        pytest.skip(f"the source reports are not here ({SEEDS}); the passages are checked "
                    "where they are (CI)")
    for src, entry in load_passages().items():
        raw = (SEEDS / src).read_text(encoding="utf-8")
        lines = raw.splitlines()
        assert hashlib.sha256(raw.encode("utf-8")).hexdigest() == entry["sha256"], src
        assert len(lines) == entry["n_lines"], src
        for first, run in entry["runs"]:
            assert lines[first - 1:first - 1 + len(run)] == run, f"{src}: line {first}"
        problems = [p for u in df[df["source"] == src].itertuples()
                    if (p := unit_problem(u, lines))]
        assert not problems, problems


def test_verbatim_check_allows_layout_breaks_but_rejects_altered_text():
    src = source_text("They said we needed a legal team to read it.\n\n> A boxed pull-quote. <"
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
