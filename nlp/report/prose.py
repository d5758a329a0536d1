"""Report stage: the draft's words and tables (shares in words, estimates with intervals, the
method, the overview, each theme's paragraphs), as plain text the renderers escape."""
from __future__ import annotations

from typing import Iterator

from .data import ReportData, ThemeFinding
from .estimate import Estimate

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


# Theme labels are printed as the codebook writes them, mid-sentence too: a case change would
# misspell 'Industry Regulation Criticism' as 'industry Regulation Criticism'.
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
        return f"No response raised {label}{tail}."
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
    return f"{who} {nums} raised {label}{tail}."


def _estimate_sentence(f: ThemeFinding) -> str:
    """The theme's share when some answers rest on the model's estimate."""
    e = f.estimate
    assert e is not None
    label = f.theme.label
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
            yield f"No response was coded with {label}."
            return
        if f.accepted:
            yield count_sentence(f.accepted, f.n_answers, label,
                                 tail=", as confirmed by a researcher")
        else:
            yield f"No researcher has yet confirmed {label} in any response."
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
    counted = [(g, a, n) for g, (a, n) in f.by_group.items() if n]
    if f.accepted and len(counted) >= 2:
        most = max(counted, key=lambda x: (x[1] / x[2], x[2]))
        least = min(counted, key=lambda x: (x[1] / x[2], -x[2]))
        if most[1] / most[2] > least[1] / least[2]:
            yield (f"By {by}, it was raised most often by "
                   f"{most[0]} ({pct(most[1] / most[2])}, {most[1]} of {most[2]}) and least "
                   f"often by {least[0]} ({pct(least[1] / least[2])}, {least[1]} of "
                   f"{least[2]}).")


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
                      if data.unscored else "")
                   + (" One in five answers of the review queue is drawn at random: on "
                      "those, " + data.audit[0].lower() + data.audit[1:]
                      if data.audit else ""))
    else:
        out.append(f"Each answer was coded against the codebook {cb.name} (version "
                   f"{cb.version}, {len(cb.themes)} themes). A theme counts for an answer when "
                   f"a researcher confirmed it ({decisions}). Themes the model suggested but "
                   f"no researcher has reviewed ({data.open_suggestions} suggestions) are shown "
                   "apart and are not included in the percentages.")
    out.append("Quotes were chosen to be representative of each theme and different from one "
               "another, and shortened to the sentences that carry the theme (… marks a cut); "
               "each answer is quoted once at most. "
               + (f"{_plural(data.prose_units, 'passage')} of report prose (marked as such "
                  "in the data) count in the figures but are never quoted as respondents' "
                  "words. " if data.prose_units else "")
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


def _share_text(f: ThemeFinding) -> str:
    """A theme's share: the estimate with its interval, or the researchers' count alone for a
    theme the model never scored (added to the codebook since it ran)."""
    return est_text(f.estimate) if f.estimate is not None else pct(f.share)


def _overview(data: ReportData) -> str:
    if data.estimated:
        top = [f for f in data.findings if f.total >= 0.5][:3]
        if not top:
            return "The model estimates that no theme was raised by more than a few answers."
        first = top[0]
        s = (f"The theme raised most often was {first.theme.label}: "
             f"{_share_text(first)} of answers")
        rest = [f"{f.theme.label} at {_share_text(f)}" for f in top[1:]]
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
    s = (f"The theme raised most often was {first.theme.label} ({pct(first.share)}, "
         f"{first.accepted} of {first.n_answers} answers)")
    rest = [f"{f.theme.label} ({pct(f.share)})" for f in top[1:]]
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
        return head, [[f.theme.label, _share_text(f),
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


_TOPICS_INTRO = ("Topics the topic model found in the answers that the codebook does not "
                 "cover. They are machine-made groupings: read the answers before deciding "
                 "whether any should become a theme.")
