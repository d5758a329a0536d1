"""Report stage: render the findings draft as Word, Markdown and HTML, and draw its chart.
Private: use nlp.report.write_report."""
from __future__ import annotations

import base64
import html
import logging
import re
import textwrap
from pathlib import Path
from typing import Iterator

from ..fsio import atomic_path
from .data import ReportData, ThemeFinding
from .estimate import Estimate

log = logging.getLogger(__name__)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FRACTIONS = ((1 / 10, "one in ten", False), (1 / 8, "one in eight", False),
              (1 / 6, "one in six", False), (1 / 5, "one in five", False),
              (1 / 4, "a quarter", True), (1 / 3, "a third", True),
              (2 / 5, "two in five", False), (1 / 2, "half", True),
              (3 / 5, "three in five", False), (2 / 3, "two-thirds", True),
              (3 / 4, "three-quarters", True), (4 / 5, "four in five", False),
              (9 / 10, "nine in ten", False))


def pct(x: float) -> str:
    """A share as a rounded percentage; a share that is not 0 never reads "0%" (nor one short
    of all "100%")."""
    if 0 < x < 0.005:
        return "<1%"
    if 0.995 <= x < 1:
        return ">99%"
    return f"{round(100 * x)}%"


def _num(x: float) -> int:
    return int(round(100 * x))


def est_text(e: Estimate) -> str:
    """An estimated share with its 95% interval: '23% (18–28%)'; the share alone when every
    answer was reviewed."""
    if not e.estimated or e.high <= e.low:
        return pct(e.share)
    lo, hi = _num(e.share_low), _num(e.share_high)
    point = pct(e.share)
    if point == "<1%":
        lo = 0
    return f"{point} ({lo}–{max(hi, 1) if e.share > 0 else hi}%)"


def share_words(p: float) -> str:
    """A share in words, as reports write it: 'just over a third of', 'almost half of'."""
    if p <= 0:
        return "none of the"
    if p >= 1:
        return "all"
    if p < 0.07:
        return "a small minority of"
    if p > 0.95:
        return "almost all"
    f, words, of = min(_FRACTIONS, key=lambda x: abs(x[0] - p))
    q = "" if abs(p - f) < 0.01 else ("just over " if p > f else "almost ")
    return f"{q}{words}{' of' if of else ''}"


def _lc(label: str) -> str:
    """A label inside a sentence: 'Bid candy' -> 'bid candy', 'EU-rules ...' unchanged."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _group_title(name: str | None) -> str:
    return "respondent" if name == "respondent_id" else str(name or "").replace("_", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def count_sentence(k: int, n: int, label: str, *, tail: str = "") -> str:
    """'{Share in words} responses (30%, 3 of 10) raised {label}{tail}.', right for 0, 1 and
    many: 'No response raised …', 'One response (<1%, 1 of 222) raised …', 'Both responses
    (100%, 2 of 2) raised …'."""
    if k <= 0:
        return f"No response raised {_lc(label)}{tail}."
    share = k / n if n else 0.0
    nums = f"({pct(share)}, {k} of {n})"
    if k == 1:
        who = "The only response" if n == 1 else "One response"
    elif k == n:
        who = "Both responses" if n == 2 else f"All {n} responses"
        nums = f"(100%, {k} of {n})"
    else:
        phrase = share_words(share)
        who = f"{_cap(phrase)} responses" if phrase != "a small minority of" else \
            f"A small minority of responses"
    return f"{who} {nums} raised {_lc(label)}{tail}."


def _estimate_sentence(f: ThemeFinding) -> str:
    """The theme's share when some answers rest on the model's estimate."""
    e = f.estimate
    assert e is not None
    label = _lc(f.theme.label)
    about = f"about {round(e.total)}" if e.total >= 0.5 else "fewer than one"
    if e.reviewed == 0:
        if e.total < 0.5 and e.high < 1:
            return (f"The model estimates that few answers, if any, raised {label}: "
                    f"{est_text(e)} of the {e.n} answers. This is a model estimate: no "
                    "researcher has reviewed these answers yet.")
        words = share_words(e.share)
        return (f"The model estimates that {words} answers raised {label}: {est_text(e)}, "
                f"{about} of the {e.n} answers. This is a model estimate: no researcher has "
                "reviewed these answers yet.")
    confirmed = (f"Researchers confirmed {label} in {e.confirmed} of the "
                 f"{_plural(e.reviewed, 'answer')} they reviewed" if e.confirmed else
                 f"Researchers did not find {label} in any of the "
                 f"{_plural(e.reviewed, 'answer')} they reviewed" if e.reviewed > 1 else
                 f"Researchers did not find {label} in the one answer they reviewed")
    return (f"{confirmed}. With the model's estimate for the {_plural(e.unreviewed, 'answer')} "
            f"not yet reviewed, {est_text(e)} of all {e.n} answers raised it ({about}; a model "
            "estimate, not a count).")


def _prose(f: ThemeFinding, data: ReportData) -> Iterator[str]:
    """The paragraphs of one theme's section (plain text: the renderers escape it)."""
    label = f.theme.label
    if f.estimated:
        yield _estimate_sentence(f)
        if f.suggested:
            yield (f"The model suggests it for {_plural(f.suggested, 'answer')} that no "
                   "researcher has reviewed yet (the review queue lists them); reviewing them "
                   "turns part of the estimate into a count.")
    else:
        if f.accepted == 0 and f.suggested == 0:
            yield f"No response was coded with {_lc(label)}."
            return
        if f.accepted:
            yield count_sentence(f.accepted, f.n_answers, label,
                                 tail=", as confirmed by a researcher")
        else:
            yield f"No researcher has yet confirmed {_lc(label)} in any response."
        if f.suggested:
            more = "a further " if f.accepted else ""
            yield (f"The model suggested it for {more}{_plural(f.suggested, 'response')} "
                   "that no researcher has reviewed yet; these are not counted above.")
    yield from _group_prose(f, data)


def _group_prose(f: ThemeFinding, data: ReportData) -> Iterator[str]:
    by = _group_title(data.group_name)
    if f.estimated and f.group_estimates:
        groups = [(g, e) for g, e in f.group_estimates.items() if e.n]
        if len(groups) < 2 or not any(e.total > 0 for _, e in groups):
            return
        hi = max(groups, key=lambda x: (x[1].share, x[1].n))
        lo = min(groups, key=lambda x: (x[1].share, -x[1].n))
        if hi[1].share > lo[1].share:
            apart = hi[1].share_low > lo[1].share_high
            yield (f"By {by}, the estimated share was highest among {hi[0]} "
                   f"({est_text(hi[1])} of {hi[1].n}) and lowest among {lo[0]} "
                   f"({est_text(lo[1])} of {lo[1].n})"
                   + ("." if apart else "; the intervals overlap, so the difference may be "
                      "chance."))
        return
    groups = [(g, a, n) for g, (a, n) in f.by_group.items() if n]
    if f.accepted and len(groups) >= 2:
        hi = max(groups, key=lambda x: (x[1] / x[2], x[2]))
        lo = min(groups, key=lambda x: (x[1] / x[2], -x[2]))
        if hi[1] / hi[2] > lo[1] / lo[2]:
            yield (f"By {by}, it was raised most often by "
                   f"{hi[0]} ({pct(hi[1] / hi[2])}, {hi[1]} of {hi[2]}) and least often by "
                   f"{lo[0]} ({pct(lo[1] / lo[2])}, {lo[1]} of {lo[2]}).")


METHOD_SENTENCE = (
    "Where answers have not been reviewed, each figure is a model estimate: the answers a "
    "researcher confirmed plus the sum of the model's calibrated probabilities for the "
    "others, as a share of all answers, with a 95% interval that allows for the model's "
    "uncertainty about each answer and for which answers happened to be received (a "
    "Poisson-binomial draw within a bootstrap over answers); it assumes the probabilities are "
    "calibrated, which reviewing a random sample of answers checks.")


def _method(data: ReportData) -> list[str]:
    cb = data.codebook
    flagged = data.n_responses - data.n_answers
    out = [f"This draft summarises {_plural(data.n_responses, 'response')}"
           + (f" to the question “{cb.question}”" if cb.question else "") + ". "
           + (f"{flagged} were empty or non-answers (such as “N/A” or “no comment”) and are "
              f"left out, so percentages are of the {data.n_answers} real answers."
              if flagged else f"All {data.n_answers} are real answers."
              if data.n_answers != 1 else "It is a real answer.")]
    decisions = (f"{_plural(data.decisions, 'decision')} so far, by {', '.join(data.coders)}"
                 if data.decisions else "no decisions yet")
    if data.estimated:
        reviewed = (f"{data.reviewed} of the {data.n_answers} answers have been reviewed "
                    "by a researcher" if data.reviewed else
                    "No answer has been reviewed by a researcher yet")
        out.append(f"Each answer was coded against the codebook {cb.name} (version "
                   f"{cb.version}, {len(cb.themes)} themes) by the model, and by researchers "
                   f"where they reviewed it ({decisions}). {reviewed}. " + METHOD_SENTENCE
                   + (f" {_plural(data.unscored, 'answer')} not yet scored by the model "
                      "count at the average of the others (run `nlp code`)."
                      if data.unscored else ""))
    else:
        out.append(f"Each answer was coded against the codebook {cb.name} (version "
                   f"{cb.version}, {len(cb.themes)} themes). A theme counts for an answer when "
                   f"a researcher confirmed it ({decisions}). Themes the model suggested but "
                   f"no researcher has reviewed ({data.open_suggestions} suggestions) are shown "
                   "apart and are not included in the percentages.")
    out.append("Quotes were chosen to be representative of each theme and different from one "
               "another, and shortened to the sentences that carry the theme (… marks a cut). "
               + ("Names of people, places, addresses and contact details in quotes are "
                  "replaced by placeholders (the same one for the same name throughout the "
                  "project); public bodies, national programmes and sector bodies are kept. "
                  "The reference under each quote (answer id, respondent, file and row) is "
                  "left as stored."
                  if data.anonymised else
                  "Quotes are NOT anonymised: do not share this draft outside the team."))
    out.append("All percentages are rounded, and an answer can raise several themes, so "
               "totals exceed 100%.")
    return out


def _overview(data: ReportData) -> str:
    if data.estimated:
        top = [f for f in data.findings if f.total >= 0.5][:3]
        if not top:
            return "The model estimates that no theme was raised by more than a few answers."
        first = top[0]
        s = (f"The theme raised most often was {_lc(first.theme.label)}: "
             f"{est_text(first.estimate)} of answers")
        rest = [f"{_lc(f.theme.label)} at {est_text(f.estimate)}" for f in top[1:]]
        s += (", followed by " + " and ".join(rest) if rest else "") + "."
        if not data.reviewed:
            s += (" These are the model's estimates: no researcher has reviewed any answer "
                  "yet, so check a sample of answers before quoting them.")
        return s
    top = [f for f in data.findings if f.accepted][:3]
    if not top:
        return ("No theme has yet been confirmed by a researcher: review the model's "
                "suggestions before reading anything into this draft.")
    first = top[0]
    s = (f"The theme raised most often was {_lc(first.theme.label)} ({pct(first.share)}, "
         f"{first.accepted} of {first.n_answers} answers)")
    rest = [f"{_lc(f.theme.label)} ({pct(f.share)})" for f in top[1:]]
    return s + (", followed by " + " and ".join(rest) if rest else "") + "."


def _crosstab(data: ReportData) -> tuple[list[str], list[list[str]]]:
    groups = list(data.group_sizes)[:8]
    head = ["Theme"] + [f"{g} (n={data.group_sizes[g]})" for g in groups]
    rows = []
    for f in data.findings:
        cells = []
        for g in groups:
            e = f.group_estimates.get(g)
            if f.estimated and e is not None:
                cells.append(est_text(e) if e.n else "–")
                continue
            a, n = f.by_group.get(g, (0, data.group_sizes[g]))
            cells.append(f"{pct(a / n) if n else '–'} ({a})")
        rows.append([f.theme.label] + cells)
    return head, rows


def _crosstab_title(data: ReportData) -> str:
    what = ("estimated % of each group's answers, 95% interval" if data.estimated else
            "% of each group's answers, number")
    return f"Table 2 / Themes by {_group_title(data.group_name)} ({what})"


def _summary(data: ReportData) -> tuple[list[str], list[list[str]]]:
    if data.estimated:
        head = ["Theme", "Share of answers, model estimate (95% interval)",
                "Confirmed by a researcher", "Suggested, not reviewed"]
        return head, [[f.theme.label, est_text(f.estimate) if f.estimate else pct(f.share),
                       str(f.accepted), str(f.suggested)] for f in data.findings]
    head = ["Theme", "Answers", "Share", "Suggested, not reviewed"]
    return head, [[f.theme.label, str(f.accepted), pct(f.share), str(f.suggested)]
                  for f in data.findings]


def _summary_note(data: ReportData) -> str:
    """The sentence under Table 1 saying what its shares are."""
    if not data.estimated:
        return ""
    return (f"Shares are of all {data.n_answers} answers: the answers a researcher confirmed "
            f"plus the model's estimate for the {data.n_answers - data.reviewed} not yet "
            "reviewed (see 1 / About this draft). They are estimates, not counts.")


def _figure_title(data: ReportData) -> str:
    if data.estimated:
        return ("Figure 1 / Share of answers raising each theme: confirmed, plus the model's "
                f"estimate for answers not yet reviewed (95% intervals), n={data.n_answers}")
    return f"Figure 1 / Share of answers raising each theme, n={data.n_answers}"


def _split(data: ReportData) -> tuple[list[ThemeFinding], str]:
    """The themes with a section of their own, and one sentence naming those no answer
    raised (a findings chapter does not give empty themes a section each)."""
    raised = [f for f in data.findings if f.accepted or f.suggested]
    silent = [f for f in data.findings if not (f.accepted or f.suggested)]
    if not silent:
        return raised, ""
    if data.estimated:
        text = ("Neither a researcher nor the model coded any answer with these themes (the "
                "model's estimates, in Table 1, are small): "
                + "; ".join(f"{f.theme.label} ({est_text(f.estimate)})" if f.estimate else
                            f.theme.label for f in silent) + ".")
    else:
        text = ("No answer was coded with these themes, by a researcher or by the model: "
                + "; ".join(f.theme.label for f in silent) + ".")
    return raised, text


def _quote_ref(q) -> str:
    return q.reference + ("" if q.accepted else " (model suggestion, not yet reviewed)")


def draw_chart(data: ReportData, path: Path) -> Path | None:
    """A horizontal bar chart of theme shares as PNG: confirmed answers, plus the model's
    estimate for the answers not reviewed with its 95% interval; each bar's label is the
    figure the bar shows. Returns None (and logs why) when there is nothing to draw or matplotlib is missing."""
    if not data.n_answers or not data.findings:
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("no chart: install matplotlib to draw it")
        return None
    fs = list(reversed(data.findings))
    labels = ["\n".join(textwrap.wrap(f.theme.label, 32)) for f in fs]
    n = data.n_answers
    acc = [100 * f.accepted / n for f in fs]
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(fs) + 0.9), dpi=150)
    ax.barh(labels, acc, color="#1f4e79",
            label="confirmed by a researcher" if any(acc) else None)
    ends = acc
    if data.estimated:
        # The bar is the whole estimate (confirmed + the model's estimate for the rest) and
        # its label is that same figure; the whisker is the 95% interval.
        est = [100 * f.total / n - a for f, a in zip(fs, acc)]
        ax.barh(labels, est, left=acc, color="#c9d9ea", hatch="//", edgecolor="#8fb0d3",
                label="model estimate for answers not yet reviewed")
        lo = [100 * (f.estimate.share_low if f.estimate else f.share) for f in fs]
        hi = [100 * (f.estimate.share_high if f.estimate else f.share) for f in fs]
        mid = [a + e for a, e in zip(acc, est)]
        ax.errorbar(mid, range(len(fs)), xerr=[[max(m - x, 0) for m, x in zip(mid, lo)],
                                               [max(x - m, 0) for m, x in zip(mid, hi)]],
                    fmt="none", ecolor="#333333", elinewidth=0.8, capsize=2,
                    label="95% interval")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        texts = [est_text(f.estimate) if f.estimate else pct(f.share) for f in fs]
        ends = [max(m, h) for m, h in zip(mid, hi)]
    else:
        texts = [pct(f.share) for f in fs]
    for y, (x, t) in enumerate(zip(ends, texts)):
        ax.text(x + 0.8, y, t, va="center", fontsize=7 if data.estimated else 8)
    ax.set_xlabel(f"% of answers (n={data.n_answers})", fontsize=9)
    ax.set_xlim(0, max(10, max(ends)) * (1.35 if data.estimated else 1.15))
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


# -- Markdown ---------------------------------------------------------------------------------
def md_escape(s: str) -> str:
    """User text made inert in Markdown (no markup, links, HTML or table breaks)."""
    s = html.escape(_XML_BAD.sub("", s), quote=False)
    return re.sub(r"([\\`*_{}\[\]#|~])", r"\\\1", " ".join(s.split()))


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in head) + " |",
           "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    out += ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in rows]
    return out + [""]


def render_md(data: ReportData, path: Path, chart: Path | None) -> Path:
    e = md_escape
    L = [f"# {e(data.title)}", "",
         f"*Draft generated by consultation-nlp on {data.generated:%d %B %Y}. Check every "
         "figure and quote before it is published.*", "", "## 1 / About this draft", ""]
    for p in _method(data):
        L += [e(p), ""]
    L += ["## 2 / Findings", "", e(_overview(data)), ""]
    if chart:
        L += [f"**{e(_figure_title(data))}**", "",
              f"![Bar chart of the share of answers raising each theme]({chart.name})", ""]
    L += ["**Table 1 / Themes**", ""] + _md_table(*_summary(data))
    if _summary_note(data):
        L += [f"*{e(_summary_note(data))}*", ""]
    if data.group_name:
        L += [f"**{e(_crosstab_title(data))}**", ""] + _md_table(*_crosstab(data))
    raised, silent = _split(data)
    for i, f in enumerate(raised, start=1):
        L += [f"### 2.{i} / {e(f.theme.label)}", "", f"*{e(f.theme.definition)}*", ""]
        for p in _prose(f, data):
            L += [e(p), ""]
        if f.quotes:
            L += ["**What respondents said**", ""]
            for q in f.quotes:
                L += [f"> ***“{e(q.text)}”***", ">", f"> — {e(_quote_ref(q))}", ""]
    if silent:
        L += [f"### 2.{len(raised) + 1} / Themes not raised", "", e(silent), ""]
    if data.topics:
        L += ["## 3 / Emergent topics", "", e(_TOPICS_INTRO), ""]
        for t in data.topics:
            L += [f"- **{e(t.label)}**" + (f" ({t.size} answers)" if t.size else "")
                  + (f": {e(', '.join(t.keywords))}" if t.keywords else "")]
            L += [f"  > *“{e(x)}”*" for x in t.examples]
        L += [""]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(L), encoding="utf-8")
    return path


_TOPICS_INTRO = ("Topics the topic model found in the answers that the codebook does not "
                 "cover. They are machine-made groupings: read the answers before deciding "
                 "whether any should become a theme.")


# -- HTML -------------------------------------------------------------------------------------
_CSS = """body{font-family:Arial,Helvetica,sans-serif;max-width:46em;margin:2em auto;
line-height:1.45;color:#222;padding:0 1em}h1{color:#1f4e79}h2{color:#1f4e79;
border-bottom:1px solid #ccd;padding-bottom:.2em}h3{color:#1f4e79}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccd;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#e8eef5}
blockquote{margin:1em 0;padding:.2em 1em;border-left:4px solid #1f4e79}
blockquote p{margin:.2em 0}.q{font-weight:bold;font-style:italic}.ref{color:#555;font-size:.9em}
.caption{font-weight:bold}.note{color:#555;font-size:.9em;font-style:italic}.draft{color:#666;font-style:italic}img{max-width:100%}"""


def _h(s: object) -> str:
    return html.escape(_XML_BAD.sub("", str(s)), quote=True)


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{_h(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def render_html(data: ReportData, path: Path, chart: Path | None) -> Path:
    """A self-contained HTML page (chart inlined); every piece of user text is escaped."""
    P = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
         f"{_h(data.title)}</title><style>{_CSS}</style></head><body>",
         f"<h1>{_h(data.title)}</h1>",
         f"<p class=\"draft\">Draft generated by consultation-nlp on "
         f"{data.generated:%d %B %Y}. Check every figure and quote before it is "
         "published.</p>", "<h2>1 / About this draft</h2>"]
    P += [f"<p>{_h(p)}</p>" for p in _method(data)]
    P += ["<h2>2 / Findings</h2>", f"<p>{_h(_overview(data))}</p>"]
    if chart:
        b64 = base64.b64encode(chart.read_bytes()).decode("ascii")
        P += [f"<p class=\"caption\">{_h(_figure_title(data))}</p>",
              f"<img src=\"data:image/png;base64,{b64}\" alt=\"Bar chart of the share of "
              "answers raising each theme\">"]
    P += ["<p class=\"caption\">Table 1 / Themes</p>", _html_table(*_summary(data))]
    if _summary_note(data):
        P.append(f"<p class=\"note\">{_h(_summary_note(data))}</p>")
    if data.group_name:
        P += [f"<p class=\"caption\">{_h(_crosstab_title(data))}</p>",
              _html_table(*_crosstab(data))]
    raised, silent = _split(data)
    for i, f in enumerate(raised, start=1):
        P += [f"<h3>2.{i} / {_h(f.theme.label)}</h3>",
              f"<p><em>{_h(f.theme.definition)}</em></p>"]
        P += [f"<p>{_h(p)}</p>" for p in _prose(f, data)]
        if f.quotes:
            P.append("<p><strong>What respondents said</strong></p>")
            P += [f"<blockquote><p class=\"q\">“{_h(q.text)}”</p><p class=\"ref\">— "
                  f"{_h(_quote_ref(q))}</p></blockquote>" for q in f.quotes]
    if silent:
        P += [f"<h3>2.{len(raised) + 1} / Themes not raised</h3>", f"<p>{_h(silent)}</p>"]
    if data.topics:
        P += ["<h2>3 / Emergent topics</h2>", f"<p>{_h(_TOPICS_INTRO)}</p>", "<ul>"]
        for t in data.topics:
            P.append(f"<li><strong>{_h(t.label)}</strong>"
                     + (f" ({t.size} answers)" if t.size else "")
                     + (f": {_h(', '.join(t.keywords))}" if t.keywords else "")
                     + "".join(f"<blockquote><p class=\"q\">“{_h(x)}”</p></blockquote>"
                               for x in t.examples) + "</li>")
        P.append("</ul>")
    P.append("</body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(P), encoding="utf-8")
    return path


# -- Word -------------------------------------------------------------------------------------
def _x(s: object) -> str:
    return _XML_BAD.sub("", str(s))


def render_docx(data: ReportData, path: Path, chart: Path | None) -> Path:
    """A Word document (A4, page numbers, real headings, tables and styles)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(2.3))
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = "Arial", Pt(10.5)
    doc.core_properties.title = _x(data.title)
    doc.core_properties.author = "consultation-nlp (draft)"
    fp = sec.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    fp._p.append(fld)

    def para(text: str, *, italic: bool = False, bold: bool = False, style: str | None = None,
             grey: bool = False, size: float | None = None):
        p = doc.add_paragraph(style=style)
        r = p.add_run(_x(text))
        r.italic, r.bold = italic or None, bold or None
        if grey:
            r.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
        if size:
            r.font.size = Pt(size)
        return p

    def table(head: list[str], rows: list[list[str]]) -> None:
        t = doc.add_table(rows=1, cols=len(head))
        t.style = "Light List Accent 1"
        for c, h in zip(t.rows[0].cells, head):
            c.text = _x(h)
        for r in rows:
            for c, v in zip(t.add_row().cells, r):
                c.text = _x(v)
        for row in t.rows:
            for j, c in enumerate(row.cells):
                for p in c.paragraphs:
                    p.alignment = WD_ALIGN_PARAGRAPH.LEFT if j == 0 else WD_ALIGN_PARAGRAPH.RIGHT
                    for r in p.runs:
                        r.font.size = Pt(9)
        doc.add_paragraph()

    doc.add_heading(_x(data.title), level=0)
    para(f"Draft generated by consultation-nlp on {data.generated:%d %B %Y}. Check every "
         "figure and quote before it is published.", italic=True, grey=True)
    doc.add_heading("1 / About this draft", level=1)
    for p in _method(data):
        para(p)
    doc.add_heading("2 / Findings", level=1)
    para(_overview(data))
    if chart:
        cap = para(_figure_title(data), bold=True)
        cap.paragraph_format.keep_with_next = True
        doc.add_picture(str(chart), width=Cm(15))
    para("Table 1 / Themes", bold=True).paragraph_format.keep_with_next = True
    table(*_summary(data))
    if _summary_note(data):
        para(_summary_note(data), italic=True, grey=True, size=9)
    if data.group_name:
        para(_crosstab_title(data), bold=True)
        table(*_crosstab(data))
    raised, silent = _split(data)
    for i, f in enumerate(raised, start=1):
        doc.add_heading(_x(f"2.{i} / {f.theme.label}"), level=2)
        para(f.theme.definition, italic=True, grey=True)
        for p in _prose(f, data):
            para(p)
        if f.quotes:
            para("What respondents said", bold=True)
            for q in f.quotes:
                para(f"“{q.text}”", bold=True, italic=True, style="Quote")
                para(f"— {_quote_ref(q)}", grey=True, size=9).alignment = \
                    WD_ALIGN_PARAGRAPH.RIGHT
    if silent:
        doc.add_heading(f"2.{len(raised) + 1} / Themes not raised", level=2)
        para(silent)
    if data.topics:
        doc.add_heading("3 / Emergent topics", level=1)
        para(_TOPICS_INTRO)
        for t in data.topics:
            p = doc.add_paragraph(style="List Bullet")
            p.add_run(_x(t.label)).bold = True
            p.add_run(_x((f" ({t.size} answers)" if t.size else "")
                         + (f": {', '.join(t.keywords)}" if t.keywords else "")))
            for x in t.examples:
                para(f"“{x}”", italic=True, style="Quote")
    with atomic_path(path) as tmp:
        doc.save(str(tmp))
    return path
