"""Estimates for answers no researcher has reviewed: the numbers (checked against a simulation
with known truth), their wording in every report format, and a chart that agrees with its
labels."""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from nlp.pipeline import import_file
from nlp.project import init_project
from nlp.pipeline import build_report_data, write_report
from nlp.report.estimate import estimate
from nlp.report.render import count_sentence, est_text, pct
from nlp.store.decisions import Decision, record_decisions
from nlp.store.review_themes import save_codebook_version
from nlp.types import Theme

INTERVAL = re.compile(r"(?:\d+%|<1%) \((\d+)–(\d+)%\)")


# -- the numbers -------------------------------------------------------------------------------
def _coverage(rng, n: int, a: float, b: float, review: float, draws: int) -> tuple[float, float]:
    """Share of simulated consultations whose realised share the interval covers, and the
    mean error of the estimate. Truth: each answer's label drawn from its calibrated
    probability; a random `review` fraction of answers has its label known (reviewed)."""
    covered, errors_ = 0, []
    for _ in range(draws):
        p = rng.beta(a, b, size=n)
        y = rng.random(n) < p
        truth = y.mean()
        seen = rng.random(n) < review
        e = estimate(int(y[seen].sum()), int(seen.sum()), p[~seen])
        covered += e.share_low <= truth <= e.share_high
        errors_.append(e.share - truth)
    return covered / draws, float(np.mean(errors_))


@pytest.mark.parametrize("n,a,b,review", [
    (222, 0.5, 2.0, 0.0),   # the bundled corpus's size, a common theme, nothing reviewed
    (222, 0.2, 6.0, 0.0),   # a rare theme
    (60, 1.0, 1.0, 0.0),    # a small consultation, probabilities anywhere
    (500, 0.5, 3.0, 0.3),   # some answers reviewed
    (300, 2.0, 2.0, 0.9),   # almost everything reviewed
])
def test_interval_covers_the_true_share_in_simulation(n, a, b, review):
    rng = np.random.default_rng(19)
    coverage, bias = _coverage(rng, n, a, b, review, draws=600)
    assert coverage >= 0.90, coverage
    assert abs(bias) < 0.01, bias  # the sum of calibrated probabilities is unbiased


def test_interval_is_not_wider_than_it_needs_to_be():
    # 222 answers all at p=0.33: the interval is the binomial one, about ±6 points.
    e = estimate(0, 0, [0.33] * 222)
    assert e.share == pytest.approx(0.33)
    assert 0.05 < e.share - e.share_low < 0.08 and 0.05 < e.share_high - e.share < 0.08


def test_everything_reviewed_is_a_count_without_interval():
    e = estimate(7, 20, [])
    assert (e.total, e.low, e.high, e.estimated) == (7, 7, 7, False)
    assert est_text(e) == "35%"


def test_unscored_answers_count_at_the_mean_of_the_others():
    e = estimate(0, 0, [0.2, 0.4, float("nan")])
    assert e.total == pytest.approx(0.9) and e.n == 3


def test_est_text_form():
    assert re.fullmatch(r"\d+% \(\d+–\d+%\)", est_text(estimate(0, 0, [0.23] * 300)))
    assert est_text(estimate(0, 0, [0.001] * 222)).startswith("<1% (0–")
    assert est_text(estimate(0, 0, [0.0] * 10)) == "0%"


def test_wording_for_zero_one_and_many():
    assert pct(1 / 222) == "<1%" and pct(0) == "0%" and pct(221.5 / 222) == ">99%"
    assert count_sentence(0, 222, "Bid candy") == "No response raised Bid candy."
    assert count_sentence(1, 222, "Bid candy") == \
        "One response (<1%, 1 of 222) raised Bid candy."
    assert count_sentence(1, 1, "Bid candy") == \
        "The only response (100%, 1 of 1) raised Bid candy."
    assert count_sentence(2, 2, "Bid candy") == "Both responses (100%, 2 of 2) raised Bid candy."
    assert count_sentence(7, 222, "Bid candy") == \
        "A small minority of responses (3%, 7 of 222) raised Bid candy."
    assert count_sentence(74, 222, "Bid candy") == \
        "A third of responses (33%, 74 of 222) raised Bid candy."


# -- a project ---------------------------------------------------------------------------------
CODEBOOK = """name: est
version: 1
themes:
  - id: common
    label: Common theme
    definition: Raised often.
  - id: rare
    label: Rare theme
    definition: Raised now and then.
  - id: never
    label: Never raised
    definition: Nobody.
"""


@pytest.fixture
def coded(tmp_path):
    """60 answers in two groups, scored by a 'model' but not reviewed."""
    cb = tmp_path / "cb.yaml"
    cb.write_text(CODEBOOK, encoding="utf-8")
    p = init_project(tmp_path / "p", codebook=cb)
    f = tmp_path / "a.csv"
    rows = ["id,text,org_type"]
    for i in range(60):
        rows.append(f"a{i},Answer number {i} says something about funding and partners,"
                    f"{'charity' if i % 3 else 'council'}")
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_file(p.store, f)
    rng = np.random.default_rng(0)
    scores = {f"a{i}": {"common": float(round(rng.beta(2, 3), 4)),
                        "rare": float(round(rng.beta(0.3, 8), 4)), "never": 0.0}
              for i in range(60)}
    p.store.write_model_codings(scores, {"common": 0.5, "rare": 0.5, "never": 0.5},
                                model_id="t")
    yield p, scores
    p.close()


def _no_anon(texts):
    return list(texts)


def test_unreviewed_project_gets_estimates_for_every_theme(coded, tmp_path):
    p, scores = coded
    data = build_report_data(p, anonymiser=_no_anon)
    assert data.estimated and data.reviewed == 0
    f = {x.theme.theme_id: x for x in data.findings}
    for tid in ("common", "rare", "never"):
        want = sum(s[tid] for s in scores.values()) / 60
        assert f[tid].estimate.share == pytest.approx(want)
        assert f[tid].estimate.share_low <= f[tid].estimate.share <= f[tid].estimate.share_high
    assert [x.theme.theme_id for x in data.findings] == ["common", "rare", "never"]
    md = write_report(p, tmp_path / "r", formats=("md",), anonymiser=_no_anon)[0] \
        .read_text(encoding="utf-8")
    table = md[md.index("**Table 1"):md.index("### 2.1")]
    for label in ("Common theme", "Rare theme"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {label}"))
        assert INTERVAL.search(row), row
    assert "model estimate" in table.lower()
    assert "0 / 0%" not in md and "(0%, " not in md
    assert "The model estimates that" in md and "no researcher has reviewed" in md
    assert "Poisson-binomial" in md  # the method, in one sentence
    # the crosstab by org type is estimated the same way
    cross = md[md.index("**Table 2"):]
    assert "95% interval" in cross.splitlines()[0]
    assert INTERVAL.search(cross.split("| Common theme")[1].splitlines()[0])


def test_partly_reviewed_project_counts_the_reviewed_and_estimates_the_rest(coded, tmp_path):
    p, scores = coded
    for i in range(10):  # a researcher reviews ten answers: 'common' in the even ones
        record_decisions(p.store, f"a{i}", [Decision("common", "accepted" if i % 2 == 0
                                                     else "rejected")], coder="ann")
    data = build_report_data(p, anonymiser=_no_anon)
    f = {x.theme.theme_id: x for x in data.findings}
    e = f["common"].estimate
    assert (e.confirmed, e.reviewed, e.unreviewed) == (5, 10, 50)
    assert e.total == pytest.approx(5 + sum(scores[f"a{i}"]["common"] for i in range(10, 60)))
    # a reviewed answer raises nothing the researcher did not accept (no open suggestion)
    rare_open = sum(1 for i in range(10) if scores[f"a{i}"]["rare"] >= 0.5)
    assert f["rare"].estimate.reviewed == 10 - rare_open
    md = write_report(p, tmp_path / "r", formats=("md",), anonymiser=_no_anon)[0] \
        .read_text(encoding="utf-8")
    assert "Researchers confirmed Common theme in 5 of the 10 answers they reviewed" in md
    assert "With the model's estimate for the 50 answers not yet reviewed" in md
    assert "10 of the 60 answers have been reviewed" in md


def test_a_theme_added_after_the_model_ran_is_counted_in_the_overview(coded, tmp_path):
    """The model scored no answer on a theme added since: its figure is the researchers' count
    (no estimate), also where the overview names it among the top themes."""
    p, _ = coded
    cb = p.store.active_codebook()
    save_codebook_version(p.store, replace(cb, themes=(*cb.themes, Theme(
        "added", "Added theme", "Added after the model ran."))))
    record_decisions(p.store, "a0", [Decision("added", "accepted")], coder="ann")
    data = build_report_data(p, anonymiser=_no_anon)
    added = next(f for f in data.findings if f.theme.theme_id == "added")
    assert data.estimated and added.estimate is None and added.accepted == 1
    md = write_report(p, tmp_path / "r", formats=("md",), anonymiser=_no_anon)[0] \
        .read_text(encoding="utf-8")
    overview = md[md.index("## 2 / Findings"):md.index("**Table 1")]
    assert "Added theme at 2%" in overview


def test_every_format_labels_estimates(coded, tmp_path):
    p, _ = coded
    paths = write_report(p, tmp_path / "r", anonymiser=_no_anon)
    from docx import Document

    doc = Document(str(paths[0]))
    text = "\n".join(par.text for par in doc.paragraphs)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    html = paths[2].read_text(encoding="utf-8")
    for body in (text + "\n".join(cells), html):
        assert INTERVAL.search(body)
        assert "model estimate" in body.lower()
        assert "Figure 1 / Share of answers raising each theme: confirmed, plus the model" in body


def test_chart_bars_agree_with_their_labels(coded, tmp_path, monkeypatch):
    """Every bar's label states the figure the bar is drawn to (no '0%' on a 36% bar)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    bars, labels = [], []
    real_barh, real_text = Axes.barh, Axes.text

    def barh(self, y, width, *a, **k):
        bars.append((list(y), list(width), list(k.get("left") or [0] * len(width))))
        return real_barh(self, y, width, *a, **k)

    def text(self, x, y, s, *a, **k):
        labels.append((y, s))
        return real_text(self, x, y, s, *a, **k)

    monkeypatch.setattr(Axes, "barh", barh)
    monkeypatch.setattr(Axes, "text", text)
    p, _ = coded
    write_report(p, tmp_path / "r", formats=("md",), anonymiser=_no_anon)
    ends = [0.0] * len(bars[0][0])
    for _, width, left in bars:
        for i, (w, l0) in enumerate(zip(width, left)):
            ends[i] = max(ends[i], w + l0)
    assert len(labels) == len(ends)
    for (y, s), end in zip(labels, ends):
        shown = s.split(" ")[0]
        assert shown == pct(end / 100), (s, end)


def test_groups_by_question_and_source():
    from nlp.report import find_group
    from nlp.types import Corpus, Response

    corpus = Corpus(tuple(Response(response_id=f"x{i}", text="t", source=f"wave{i % 2}.csv",
                                   question="Q1" if i < 4 else "Q2") for i in range(8)))
    assert find_group(corpus) == ("question", {f"x{i}": "Q1" if i < 4 else "Q2"
                                               for i in range(8)})
    assert find_group(corpus, "source")[1]["x3"] == "wave1.csv"
    # a metadata column of that name wins over the provenance field
    meta = Corpus(tuple(Response(response_id=f"x{i}", text="t", source="a.csv",
                                 metadata={"source": f"report {i % 3}"}) for i in range(9)))
    assert find_group(meta, "source")[1]["x4"] == "report 1"
