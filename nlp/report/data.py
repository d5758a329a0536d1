"""Report stage: the findings' data (theme shares, group crosstabs, the best quotes per theme),
built from the project and anonymised unless asked; renderers turn it into documents."""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from .. import errors
from ..store.resolve import resolve_codings
from ..types import MODEL_CODER, Codebook, Corpus, Theme
from .select import QuoteCandidate, SelectedQuote, select_quotes
import numpy as np

log = logging.getLogger(__name__)

REPORT_FORMATS = ("docx", "md", "html")
GROUP_NAMES = ("group", "respondent_group", "respondent_type", "stakeholder_type", "stakeholder",
               "organisation_type", "organization_type", "org_type", "type_of_organisation",
               "sector", "region", "area", "location_type", "category", "segment", "role")
MAX_GROUPS = 12


@dataclass(frozen=True)
class ThemeFinding:
    """One theme's numbers and quotes. `by_group`: {group: (accepted n, group's answers)}."""

    theme: Theme
    accepted: int
    suggested: int
    n_answers: int
    by_group: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    quotes: tuple[SelectedQuote, ...] = ()

    @property
    def share(self) -> float:
        return self.accepted / self.n_answers if self.n_answers else 0.0


@dataclass(frozen=True)
class Topic:
    """An emergent topic (from the topic model): label, size, keywords, example quotes."""

    label: str
    size: int = 0
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


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
    topics: tuple[Topic, ...]
    anonymised: bool


def _norm(k: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(k).lower()).strip("_")


def find_group(corpus: Corpus, group_by: str | None = None) -> tuple[str | None, dict[str, str]]:
    """The respondent grouping to crosstab by: `group_by` (a metadata key or "respondent_id"),
    else the first metadata column named like group/region/organisation type with 2-12
    values, else respondent_id when respondents gave several answers and are 2-12.

    Returns:
        (group name or None, {response_id: group value}).
    """
    def values(key: str) -> dict[str, str]:
        if key == "respondent_id":
            return {r.response_id: r.respondent_id for r in corpus if r.respondent_id}
        return {r.response_id: str(r.metadata[k]).strip() for r in corpus
                for k in r.metadata if k == key and str(r.metadata[k]).strip()}

    if group_by:
        keys = {_norm(k): k for r in corpus for k in r.metadata}
        key = "respondent_id" if group_by == "respondent_id" else keys.get(_norm(group_by))
        if key is None:
            raise errors.NlpError(f"no column {group_by!r} to group by; the responses have "
                                  f"{', '.join(sorted(keys.values())) or 'no extra columns'}.")
        return key, values(key)
    keys = {_norm(k): k for r in corpus for k in r.metadata}
    for name in GROUP_NAMES:
        if name in keys:
            v = values(keys[name])
            if 2 <= len(set(v.values())) <= MAX_GROUPS and len(v) >= len(corpus) / 2:
                return keys[name], v
    v = values("respondent_id")
    n = len(set(v.values()))
    if 2 <= n <= MAX_GROUPS and n < len(v):
        return "respondent_id", v
    return None, {}


def _topic(t: Any, texts: Mapping[str, str]) -> Topic:
    """Accept a topic as a mapping or an object (label/name, size/count, keywords/words,
    examples or response_ids): the topic stage's type is not fixed yet."""
    def get(*names: str, default: Any = None) -> Any:
        for n in names:
            v = t.get(n) if isinstance(t, Mapping) else getattr(t, n, None)
            if v is not None:
                return v
        return default

    kw = get("keywords", "words", "terms", "top_words", default=()) or ()
    kw = [w[0] if isinstance(w, (tuple, list)) else w for w in kw]
    ex = list(get("examples", "representative_docs", "quotes", default=()) or ())
    # nlp.topics.Topic keeps its quotes as (response_id, text) pairs.
    ex = [e[1] if isinstance(e, (tuple, list)) and len(e) == 2 else e for e in ex]
    if not ex:
        ex = [texts[i] for i in get("response_ids", "representative_ids", "ids", default=())
              or () if i in texts]
    label = get("label", "name", "title", default=None) or ", ".join(map(str, kw[:3])) or "topic"
    return Topic(label=str(label), size=int(get("size", "count", "n", default=0) or 0),
                 keywords=tuple(str(w) for w in kw[:8]), examples=tuple(str(e) for e in ex[:3]))


def _statuses(store) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], float]]:
    """{(response, theme): accepted|rejected|suggested} (nlp.store.resolve.RESOLUTION_RULE: a
    researcher's latest decision wins over the model) and the model's confidence per pair."""
    res = resolve_codings(store.codings())
    return ({k: r.status for k, r in res.items()},
            {k: r.confidence for k, r in res.items() if r.confidence is not None})


def _reference(r) -> str:
    where = f"{r.source}, row {r.location}" if r.source and r.location else (r.source or "")
    who = f"{r.respondent_id}" if r.respondent_id else ""
    return ", ".join(x for x in (r.response_id, who, where) if x)


def build_report_data(project, *, anonymise: bool = True,
                      anonymiser: Callable[[list[str]], list[str]] | None = None,
                      topics: Sequence[Any] | None = None,
                      embeddings: Mapping[str, Any] | None = None,
                      group_by: str | None = None, quotes_per_theme: int = 5,
                      title: str | None = None) -> ReportData:
    """Count, crosstab and choose quotes for every theme of the project's codebook.

    Args: see write_report.
    """

    store = getattr(project, "store", project)
    codebook = store.active_codebook()
    corpus = store.corpus()
    answers = corpus.answers()
    by_id = {r.response_id: r for r in answers}
    status, conf = _statuses(store)
    group_name, groups = find_group(answers, group_by)
    group_sizes = Counter(groups.get(r.response_id, "not stated") for r in answers) \
        if group_name else Counter()
    findings = []
    for t in codebook.themes:
        acc = [rid for rid in by_id if status.get((rid, t.theme_id)) == "accepted"]
        sug = [rid for rid in by_id if status.get((rid, t.theme_id)) == "suggested"]
        by_group: dict[str, tuple[int, int]] = {}
        if group_name:
            counts = Counter(groups.get(rid, "not stated") for rid in acc)
            by_group = {g: (counts.get(g, 0), n) for g, n in group_sizes.most_common()}
        pool = (acc + sug) if len(acc) < 3 else acc
        cands = [QuoteCandidate(rid, by_id[rid].text, accepted=rid in set(acc),
                                confidence=conf.get((rid, t.theme_id)),
                                reference=_reference(by_id[rid])) for rid in pool]
        emb = None
        if embeddings is not None and cands and all(c.response_id in embeddings for c in cands):
            emb = np.vstack([np.asarray(embeddings[c.response_id], dtype=float) for c in cands])
        theme_text = f"{t.label}. {t.definition} " + " ".join(t.include)
        quotes = select_quotes(cands, k=quotes_per_theme, embeddings=emb, theme_text=theme_text)
        findings.append(ThemeFinding(theme=t, accepted=len(acc), suggested=len(sug),
                                     n_answers=len(answers), by_group=by_group,
                                     quotes=tuple(quotes)))
    texts = {r.response_id: r.text for r in answers}
    topic_list = [_topic(t, texts) for t in (topics or [])]
    if anonymise:
        if anonymiser is None:
            from ..text.anonymise import anonymise_texts
            anonymiser = anonymise_texts
        flat = [x for f in findings for q in f.quotes for x in (q.text, q.reference)]
        # Topic labels and keywords come from the answers' words: they can hold names too.
        flat += [x for tp in topic_list for x in (tp.label, *tp.keywords, *tp.examples)]
        clean = iter(anonymiser(flat) if flat else [])
        findings = [ThemeFinding(f.theme, f.accepted, f.suggested, f.n_answers, f.by_group,
                                 tuple(_anon_quote(q, clean) for q in f.quotes))
                    for f in findings]
        topic_list = [Topic(next(clean), tp.size, tuple(next(clean) for _ in tp.keywords),
                            tuple(next(clean) for _ in tp.examples)) for tp in topic_list]
    findings.sort(key=lambda f: (-f.accepted, -f.suggested, f.theme.label.lower()))
    coders = sorted({c.coder for c in store.codings() if c.coder != MODEL_CODER})
    decisions = sum(1 for c in store.codings() if c.coder != MODEL_CODER)
    question = codebook.question
    return ReportData(
        title=title or (f"Findings: {question}" if question else
                        f"Findings: {codebook.name}"),
        codebook=codebook, generated=date.today(), n_responses=len(corpus),
        n_answers=len(answers), coders=tuple(coders), decisions=decisions,
        open_suggestions=sum(1 for v in status.values() if v == "suggested"),
        group_name=group_name, group_sizes=dict(group_sizes), findings=tuple(findings),
        topics=tuple(topic_list), anonymised=anonymise)


def _anon_quote(q: SelectedQuote, clean) -> SelectedQuote:
    text, ref = next(clean), next(clean)
    return replace(q, text=text, reference=ref)
