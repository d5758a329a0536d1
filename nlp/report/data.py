"""Report stage: the findings' data (theme shares, group crosstabs, the best quotes per theme),
built from a project's data (codebook, answers, codings, the model's scores) and anonymised
by the anonymiser passed in; renderers turn it into documents."""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from .. import errors
from ..classify.audit import estimate as audit_estimate
from ..resolve import resolve_codings
from ..topics.model import Topic as ModelTopic
from ..types import MODEL_CODER, Codebook, Coding, Corpus, Theme
from .estimate import Estimate, estimate
from .select import QuoteCandidate, SelectedQuote, plain_text, select_quotes
import numpy as np

log = logging.getLogger(__name__)

REPORT_FORMATS = ("docx", "md", "html")
GROUP_NAMES = ("group", "respondent_group", "respondent_type", "stakeholder_type", "stakeholder",
               "organisation_type", "organization_type", "org_type", "type_of_organisation",
               "sector", "region", "area", "location_type", "category", "segment", "role")
MAX_GROUPS = 12
#: Values of a unit's `kind` metadata that mark a report's own prose (the bundled corpora mark
#: each unit "quote" or "report_prose"): counted, but never quoted as a respondent's words.
REPORT_PROSE_KINDS = frozenset({"report_prose", "report", "prose", "narrative", "summary"})
LABEL_WORDS = 10  # a question longer than this is shortened to a label for the title


def is_report_prose(metadata: Mapping[str, Any]) -> bool:
    """Whether a unit is a report author's prose rather than a respondent's answer."""
    kind = metadata.get("kind")
    return isinstance(kind, str) and _norm(kind) in REPORT_PROSE_KINDS


def question_label(question: str, *, max_words: int = LABEL_WORDS) -> str:
    """A short label for a question, for a title: its first sentence when that has at most
    `max_words` words, else its first `max_words` words and "…"."""
    q = " ".join(question.split())
    first = re.split(r"(?<=[?.!:;])\s", q, maxsplit=1)[0]
    ws = first.split()
    if len(ws) <= max_words:
        return first
    return " ".join(ws[:max_words]).rstrip(",;:–—-") + " …"


def report_title(codebook: Codebook, name: str | None = None) -> str:
    """The draft's title: the project's name and a short label of the question ("Bidding for
    contracts: What gets in the way of …"); the full question is in the text below it."""
    label = question_label(codebook.question) if codebook.question else ""
    if name and label:
        return f"{name}: {label}"
    if name:
        return f"{name}: findings"
    return f"Findings: {label or codebook.name}"


@dataclass(frozen=True)
class ThemeFinding:
    """One theme's numbers and quotes. `by_group`: {group: (accepted n, group's answers)};
    `estimate` (None when the model has scored no answer): confirmed answers plus the model's
    estimate for the answers not reviewed; `group_estimates`: the same per group."""

    theme: Theme
    accepted: int
    suggested: int
    n_answers: int
    by_group: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    quotes: tuple[SelectedQuote, ...] = ()
    estimate: Estimate | None = None
    group_estimates: Mapping[str, Estimate] = field(default_factory=dict)

    @property
    def estimated(self) -> bool:
        """Whether the theme's figure rests partly on the model's estimate."""
        return self.estimate is not None and self.estimate.estimated

    @property
    def total(self) -> float:
        """Answers raising the theme: confirmed plus the model's estimate for the rest."""
        return self.estimate.total if self.estimate is not None else float(self.accepted)

    @property
    def share(self) -> float:
        return self.accepted / self.n_answers if self.n_answers else 0.0


@dataclass(frozen=True)
class TopicSummary:
    """What the draft prints of an emergent topic (nlp.topics.Topic): label, size, keywords
    and the texts of its example quotes (without markup), anonymised with the rest of the
    report."""

    label: str
    size: int = 0
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()

    @classmethod
    def of(cls, topic: ModelTopic) -> "TopicSummary":
        return cls(label=topic.label, size=topic.size, keywords=tuple(topic.keywords[:8]),
                   examples=tuple(plain_text(text) for _, text in topic.quotes[:3]))


@dataclass(frozen=True)
class ReportData:
    """Everything the renderers need, computed once."""

    title: str
    codebook: Codebook
    generated: date
    n_responses: int
    n_answers: int
    coders: tuple[str, ...]
    decisions: int
    open_suggestions: int
    group_name: str | None
    group_sizes: Mapping[str, int]
    findings: tuple[ThemeFinding, ...]
    topics: tuple[TopicSummary, ...]
    anonymised: bool
    reviewed: int = 0  # answers with a researcher's decision
    estimated: bool = False  # some figures are the model's estimates (answers not reviewed)
    unscored: int = 0  # answers neither reviewed nor scored by the model
    audit: str = ""  # how far to trust unreviewed suggestions, from the random checks
    prose_units: int = 0  # units of report prose (`is_report_prose`): counted, never quoted


def _norm(k: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(k).lower()).strip("_")


PROVENANCE_GROUPS = ("question", "source")


def find_group(corpus: Corpus, group_by: str | None = None) -> tuple[str | None, dict[str, str]]:
    """The respondent grouping to crosstab by: `group_by` (a metadata key, "respondent_id",
    or "question" / "source" for the question asked and the imported file when no metadata
    column has that name), else the first metadata column named like group/region/
    organisation type with 2-12 values, else the question when answers to 2-12 questions are
    mixed, else respondent_id when respondents gave several answers and are 2-12, else the
    imported file when there are 2-12.

    Returns:
        (group name or None, {response_id: group value}).
    """
    def values(key: str) -> dict[str, str]:
        if key == "respondent_id":
            return {r.response_id: r.respondent_id for r in corpus if r.respondent_id}
        if key in PROVENANCE_GROUPS and key not in keys.values():
            return {r.response_id: str(getattr(r, key)).strip() for r in corpus
                    if getattr(r, key) and str(getattr(r, key)).strip()}
        return {r.response_id: str(r.metadata[k]).strip() for r in corpus
                for k in r.metadata if k == key and str(r.metadata[k]).strip()}

    keys = {_norm(k): k for r in corpus for k in r.metadata}
    if group_by:
        key = group_by if group_by == "respondent_id" else keys.get(_norm(group_by))
        if key is None and _norm(group_by) in PROVENANCE_GROUPS:
            key = _norm(group_by)
        if key is None:
            raise errors.no_group_column(group_by, sorted(keys.values()))
        return key, values(key)
    for name in GROUP_NAMES:
        if name in keys:
            v = values(keys[name])
            if 2 <= len(set(v.values())) <= MAX_GROUPS and len(v) >= len(corpus) / 2:
                return keys[name], v
    for key in ("question", "respondent_id", "source"):
        if key != "respondent_id" and key in keys.values():
            continue  # a metadata column of that name is not the provenance field
        v = values(key)
        n = len(set(v.values()))
        if 2 <= n <= MAX_GROUPS and n < len(v) and (
                key == "respondent_id" or len(v) >= len(corpus) / 2):
            return key, v
    return None, {}


def _statuses(codings: Sequence[Coding]
              ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], float]]:
    """{(response, theme): accepted|rejected|suggested} (nlp.resolve.RESOLUTION_RULE: a
    researcher's latest decision wins over the model) and the model's confidence per pair."""
    res = resolve_codings(codings)
    return ({k: r.status for k, r in res.items()},
            {k: r.confidence for k, r in res.items() if r.confidence is not None})


def _reference(r) -> str:
    where = f"{r.source}, row {r.location}" if r.source and r.location else (r.source or "")
    who = f"{r.respondent_id}" if r.respondent_id else ""
    return ", ".join(x for x in (r.response_id, who, where) if x)


def _estimates(answers: Corpus, theme_ids: Sequence[str],
               status: Mapping[tuple[str, str], str],
               predictions: Mapping[str, Mapping[str, float]],
               groups: Mapping[str, str] | None
               ) -> tuple[dict[str, Estimate], dict[str, dict[str, Estimate]], int, int]:
    """Per theme (and per theme and group): the confirmed count for reviewed answers plus the
    model's estimate for the rest (nlp.report.estimate).

    An answer with a researcher's decision on any theme counts as reviewed: for each theme it
    raises what the researcher accepted and nothing else, except a model suggestion nobody
    has decided on yet, which stays an estimate. A theme no prediction mentions (added to the
    codebook since the model ran) gets no estimate. Returns (per theme, {theme: {group: ..}},
    answers reviewed, unreviewed answers the model has not scored).
    """
    reviewed = {rid for (rid, _), st in status.items() if st in ("accepted", "rejected")}
    ids = [r.response_id for r in answers]
    unscored = sum(1 for rid in ids if rid not in reviewed and rid not in predictions)
    per: dict[str, Estimate] = {}
    per_group: dict[str, dict[str, Estimate]] = {}
    scored = {t for s in predictions.values() for t in s}
    for t in theme_ids:
        if t not in scored:
            continue  # a theme the model has never scored (added since): counts alone
        known: dict[str, int] = {}
        probs: dict[str, float] = {}
        for rid in ids:
            st = status.get((rid, t))
            if st == "accepted":
                known[rid] = 1
            elif st == "rejected" or (rid in reviewed and st != "suggested"):
                known[rid] = 0
            elif rid in predictions:
                probs[rid] = float(predictions[rid].get(t, 0.0) or 0.0)
            else:
                probs[rid] = float("nan")  # not scored: counts at the others' mean

        def one(members: Sequence[str]) -> Estimate:
            k = [known[m] for m in members if m in known]
            return estimate(sum(k), len(k), [probs[m] for m in members if m in probs])

        per[t] = one(ids)
        if groups:
            by: dict[str, list[str]] = {}
            for rid in ids:
                by.setdefault(groups.get(rid, "not stated"), []).append(rid)
            per_group[t] = {g: one(m) for g, m in by.items()}
    return per, per_group, len(reviewed & set(ids)), unscored


Checks = Sequence[tuple[str, Sequence[str], Sequence[str]]]


def report_data(codebook: Codebook, corpus: Corpus, codings: Sequence[Coding],
                predictions: Mapping[str, Mapping[str, float]], *, checks: Checks = (),
                anonymiser: Callable[[list[str]], list[str]] | None = None,
                topics: Sequence[ModelTopic] | None = None,
                embeddings: Mapping[str, Any] | None = None,
                group_by: str | None = None, quotes_per_theme: int = 5,
                title: str | None = None, name: str | None = None) -> ReportData:
    """Count, crosstab and choose quotes for every theme of `codebook`.

    Args:
        corpus: every response (non-answers are counted apart).
        codings: every coding, the model's and researchers' (nlp.resolve decides).
        predictions: the model's scores, {response_id: {theme_id: probability}}.
        checks: (response id, the model's themes, the researchers' themes) for each random
            check decided on, for the audit sentence.
        anonymiser: texts -> texts for the quotes and topic words (None: as stored, and the
            report says it is not anonymised).
        topics, embeddings, group_by, quotes_per_theme, title: see nlp.pipeline.write_report.
        name: the project's name, for the title (`report_title`).

    Quotes are respondents' words only: units marked as report prose (`is_report_prose`)
    are counted but never quoted; each answer is quoted at most once in the whole report
    (under the first theme, in codebook order, that picks it); quote texts are printed
    without markup (`plain_text`).
    """
    codings = list(codings)
    answers = corpus.answers()
    by_id = {r.response_id: r for r in answers}
    status, conf = _statuses(codings)
    group_name, groups = find_group(answers, group_by)
    group_sizes = Counter(groups.get(r.response_id, "not stated") for r in answers) \
        if group_name else Counter()
    if predictions:
        est, group_est, n_reviewed, unscored = _estimates(
            answers, codebook.theme_ids, status, predictions, groups if group_name else None)
    else:  # the model has not coded anything: researchers' counts alone
        est, group_est, n_reviewed, unscored = {}, {}, 0, 0
        n_reviewed = len({rid for (rid, _), st in status.items()
                          if st in ("accepted", "rejected")} & set(by_id))
    findings = []
    quoted: set[str] = set()  # one quote per answer across the report
    quotable = {rid for rid, r in by_id.items() if not is_report_prose(r.metadata)}
    for t in codebook.themes:
        acc = [rid for rid in by_id if status.get((rid, t.theme_id)) == "accepted"]
        sug = [rid for rid in by_id if status.get((rid, t.theme_id)) == "suggested"]
        by_group: dict[str, tuple[int, int]] = {}
        if group_name:
            counts = Counter(groups.get(rid, "not stated") for rid in acc)
            by_group = {g: (counts.get(g, 0), n) for g, n in group_sizes.most_common()}
        acc_q, sug_q = ([rid for rid in ids if rid in quotable and rid not in quoted]
                        for ids in (acc, sug))
        pool = (acc_q + sug_q) if len(acc_q) < 3 else acc_q
        cands = [QuoteCandidate(rid, plain_text(by_id[rid].text), accepted=rid in set(acc),
                                confidence=conf.get((rid, t.theme_id)),
                                reference=_reference(by_id[rid])) for rid in pool]
        emb = None
        if embeddings is not None and cands and all(c.response_id in embeddings for c in cands):
            emb = np.vstack([np.asarray(embeddings[c.response_id], dtype=float) for c in cands])
        theme_text = f"{t.label}. {t.definition} " + " ".join(t.include)
        quotes = select_quotes(cands, k=quotes_per_theme, embeddings=emb, theme_text=theme_text)
        quoted.update(q.response_id for q in quotes)
        findings.append(ThemeFinding(theme=t, accepted=len(acc), suggested=len(sug),
                                     n_answers=len(answers), by_group=by_group,
                                     quotes=tuple(quotes), estimate=est.get(t.theme_id),
                                     group_estimates=group_est.get(t.theme_id, {})))
    texts = {r.response_id: r.text for r in answers}
    topic_list = [TopicSummary.of(t) for t in (topics or [])]
    if anonymiser is not None:
        # Quotes only: a quote's reference (id, respondent, file and row) is provenance and
        # stays exactly as stored, so every quote can be traced back.
        flat = [q.text for f in findings for q in f.quotes]
        # Topic labels and keywords come from the answers' words: they can hold names too.
        flat += [x for tp in topic_list for x in (tp.label, *tp.keywords, *tp.examples)]
        clean = iter(anonymiser(flat) if flat else [])
        findings = [replace(f, quotes=tuple(replace(q, text=next(clean)) for q in f.quotes))
                    for f in findings]
        topic_list = [TopicSummary(next(clean), tp.size, tuple(next(clean) for _ in tp.keywords),
                            tuple(next(clean) for _ in tp.examples)) for tp in topic_list]
    findings.sort(key=lambda f: (-round(f.total, 6), -f.accepted, -f.suggested,
                                 f.theme.label.lower()))
    coders = sorted({c.coder for c in codings if c.coder != MODEL_CODER})
    decisions = sum(1 for c in codings if c.coder != MODEL_CODER)
    return ReportData(
        title=title or report_title(codebook, name),
        codebook=codebook, generated=date.today(), n_responses=len(corpus),
        n_answers=len(answers), coders=tuple(coders), decisions=decisions,
        open_suggestions=sum(1 for v in status.values() if v == "suggested"),
        group_name=group_name, group_sizes=dict(group_sizes), findings=tuple(findings),
        topics=tuple(topic_list), anonymised=anonymiser is not None, reviewed=n_reviewed,
        estimated=any(f.estimated for f in findings), unscored=unscored,
        audit=_audit(checks), prose_units=len(by_id) - len(quotable))


def _audit(checks: Checks) -> str:
    """The audit estimate's sentence once a researcher has decided on a random check."""
    if not checks:
        return ""
    return audit_estimate([m for _, m, _ in checks], [r for _, _, r in checks]).sentence()
