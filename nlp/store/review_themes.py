"""Store: the review app's theme queries (counts, crosstabs, agreement data) and codebook edits
that carry codings along (rename, merge, split), each one logged transaction."""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from .. import errors
from ..codebook import dumps_codebook, loads_codebook, next_version, parse_codebook
from ..text.clean import clean_codebook
from ..types import MODEL_CODER, Codebook, Theme
from .changes import Change, coding_state, now, researcher, write_codings
from .core import Store
from .schema import codebooks, codings, memos, predictions, responses, sources

log = logging.getLogger(__name__)

RANK = {"accepted": 3, "suggested": 2, "rejected": 1}
GROUP_COLUMNS = ("source", "question", "respondent_id")


@dataclass(frozen=True)
class ThemeCount:
    """One theme's tallies: responses a researcher accepted or rejected (latest decision),
    model suggestions nobody has decided on yet, and all the model's suggestions."""

    theme_id: str
    accepted: int = 0
    rejected: int = 0
    suggested: int = 0
    model_total: int = 0


def _chunks(ids: Sequence[str], n: int = 900) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def _group_expr(by: str) -> sa.ColumnElement[Any]:
    if by == "source":
        return sources.c.name
    if by in ("question", "respondent_id"):
        return responses.c[by]
    if by.startswith("meta:") and len(by) > 5:
        return responses.c.meta[by[5:]].as_string()
    raise errors.bad_group(by)


def _latest_decisions(conn: sa.Connection, group: sa.ColumnElement[Any] | None = None
                      ) -> dict[tuple[str, str], tuple[str, bool, Any]]:
    """{(response, theme): (latest researcher status, model suggested it?, group value)}:
    nlp.resolve.RESOLUTION_RULE in SQL, for the counts (no Coding objects built)."""
    m = codings.alias("m")
    # A join, not a correlated EXISTS: with EXISTS SQLite scans every coding (the model's
    # too) instead of the researchers' rows by index.
    # The time as stored (one fixed UTC format on every row, so it sorts as text): parsing
    # 10,000 datetimes was most of the cost.
    when_col = (sa.type_coerce(codings.c.updated_at, sa.String)
                if conn.dialect.name == "sqlite" else codings.c.updated_at)
    cols = [codings.c.id, codings.c.response_id, codings.c.theme_id, codings.c.status,
            when_col.label("updated_at"), m.c.id.is_not(None).label("has_model")]
    frm: Any = codings.outerjoin(m, sa.and_(
        m.c.response_id == codings.c.response_id, m.c.theme_id == codings.c.theme_id,
        m.c.coder == MODEL_CODER))
    if group is not None:
        cols.append(group.label("grp"))
        frm = frm.join(responses, responses.c.response_id == codings.c.response_id
                       ).outerjoin(sources, sources.c.id == responses.c.source_id)
    out: dict[tuple[str, str], tuple[str, bool, Any]] = {}
    when: dict[tuple[str, str], Any] = {}
    # Sorted here, not by ORDER BY id: that makes SQLite walk the whole table in id order
    # instead of the researcher rows by index.
    rows = sorted(conn.execute(sa.select(*cols).select_from(frm).where(
        researcher(codings))).tuples(), key=lambda r: r[0])
    for _id, rid, tid, status, at, has_model, *grp in rows:
        key = (rid, tid)
        if key not in when or at >= when[key]:
            when[key] = at
            out[key] = (status, bool(has_model), grp[0] if grp else None)
    return out


def _latest_counts() -> sa.Select:
    """Per theme: answers whose latest researcher decision is accepted, rejected, and those
    of them the model suggested; the rule of _latest_decisions (latest time, then latest
    row), counted in SQL so no row comes back to Python."""
    r, m = codings.alias("r"), codings.alias("m")
    rn = sa.func.row_number().over(partition_by=(r.c.response_id, r.c.theme_id),
                                   order_by=(r.c.updated_at.desc(), r.c.id.desc()))
    latest = sa.select(r.c.response_id, r.c.theme_id, r.c.status, rn.label("rn")).where(
        researcher(r)).subquery("latest")
    won = sa.select(latest).where(latest.c.rn == 1).subquery("won")
    return (sa.select(won.c.theme_id,
                      sa.func.sum(sa.case((won.c.status == "accepted", 1), else_=0)),
                      sa.func.sum(sa.case((won.c.status == "rejected", 1), else_=0)),
                      sa.func.count(m.c.id))
            .select_from(won.outerjoin(m, sa.and_(
                m.c.response_id == won.c.response_id, m.c.theme_id == won.c.theme_id,
                m.c.coder == MODEL_CODER)))
            .group_by(won.c.theme_id))


def theme_counts(store: Store) -> tuple[int, dict[str, ThemeCount]]:
    """(answers in the project, {theme_id: ThemeCount}) over every theme with codings."""
    with store.read() as conn:
        n = int(conn.execute(sa.select(sa.func.count()).select_from(responses)
                             .where(responses.c.flag.is_(None))).scalar_one())
        model: dict[str, int] = {
            tid: int(k) for tid, k in conn.execute(
                sa.select(codings.c.theme_id, sa.func.count())
                .where(codings.c.coder == MODEL_CODER).group_by(codings.c.theme_id))}
        acc: Counter[str] = Counter()
        rej: Counter[str] = Counter()
        decided: Counter[str] = Counter()
        for tid, a, r, d in conn.execute(_latest_counts()):
            acc[tid], rej[tid], decided[tid] = int(a or 0), int(r or 0), int(d or 0)
    out = {tid: ThemeCount(tid, acc[tid], rej[tid], model.get(tid, 0) - decided[tid],
                           model.get(tid, 0))
           for tid in set(model) | set(acc) | set(rej)}
    return n, out


def theme_crosstab(store: Store, by: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Answers per group, and per (group, theme) the accepted and open suggested counts.

    Returns:
        ({group: answers}, [{"group", "theme_id", "accepted", "suggested"}]).
    """
    g = _group_expr(by)
    frm = responses.outerjoin(sources, sources.c.id == responses.c.source_id)
    with store.read() as conn:
        sizes = {str(k) if k is not None else "not stated": int(v) for k, v in conn.execute(
            sa.select(g, sa.func.count()).select_from(frm).where(responses.c.flag.is_(None))
            .group_by(g)).all()}
        model = conn.execute(sa.select(g, codings.c.theme_id, sa.func.count()).select_from(
            codings.join(responses, responses.c.response_id == codings.c.response_id)
            .outerjoin(sources, sources.c.id == responses.c.source_id))
            .where(codings.c.coder == MODEL_CODER).group_by(g, codings.c.theme_id)).all()
        latest = _latest_decisions(conn, g)
    sug: Counter = Counter({(str(k) if k is not None else "not stated", t): int(v)
                            for k, t, v in model})
    acc: Counter = Counter()
    for (_, tid), (status, has_model, grp) in latest.items():
        key = (str(grp) if grp is not None else "not stated", tid)
        acc[key] += status == "accepted"
        sug[key] -= has_model
    rows = [{"group": k, "theme_id": t, "accepted": acc[(k, t)], "suggested": sug[(k, t)]}
            for (k, t) in sorted(set(acc) | set(sug))]
    return sizes, rows


def group_options(store: Store, *, sample: int = 500) -> list[str]:
    """What the crosstab can group by: the fixed columns and the metadata keys seen in the
    first `sample` responses (as "meta:KEY")."""
    with store.read() as conn:
        metas = conn.execute(sa.select(responses.c.meta).order_by(responses.c.id)
                             .limit(sample)).scalars().all()
    keys = sorted({k for m in metas if isinstance(m, dict) for k in m})
    return [*GROUP_COLUMNS, *(f"meta:{k}" for k in keys)]


def coder_units(store: Store, *, include_model: bool = True
                ) -> dict[str, dict[str, frozenset[str]]]:
    """Per coder, the responses they coded and the themes they applied there (researchers:
    accepted; the model: suggested), limited to responses a researcher has coded.
    {coder: {response_id: frozenset(theme ids)}}."""
    out: dict[str, dict[str, set[str]]] = defaultdict(dict)
    with store.read() as conn:
        for rid, tid, coder, status in conn.execute(
                sa.select(codings.c.response_id, codings.c.theme_id, codings.c.coder,
                          codings.c.status).where(researcher(codings))):
            s = out[coder].setdefault(rid, set())
            if status == "accepted":
                s.add(tid)
        ids = sorted({rid for units in out.values() for rid in units})
        if include_model:
            for chunk in _chunks(ids):
                for (rid,) in conn.execute(sa.select(predictions.c.response_id).where(
                        predictions.c.response_id.in_(chunk))):
                    out[MODEL_CODER].setdefault(rid, set())
                for rid, tid in conn.execute(sa.select(codings.c.response_id, codings.c.theme_id)
                                             .where(codings.c.coder == MODEL_CODER,
                                                    codings.c.response_id.in_(chunk))):
                    out[MODEL_CODER].setdefault(rid, set()).add(tid)
    return {c: {r: frozenset(t) for r, t in units.items()} for c, units in out.items() if units}


def texts_of(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """{response_id: text} for a few ids."""
    out: dict[str, str] = {}
    with store.read() as conn:
        for chunk in _chunks(list(ids)):
            out.update(dict(conn.execute(sa.select(responses.c.response_id, responses.c.text)
                                         .where(responses.c.response_id.in_(chunk))).all()))
    return out


# -- codebook versions ----------------------------------------------------------------------
def codebook_by_id(store: Store, codebook_id: int) -> Codebook:
    """A stored codebook version by its row id (see Store.codebook_versions)."""
    with store.read() as conn:
        y = conn.execute(sa.select(codebooks.c.yaml).where(codebooks.c.id == codebook_id)).scalar()
    if y is None:
        raise errors.codebook_version_not_in_project(codebook_id)
    return clean_codebook(loads_codebook(y, source=f"project codebook #{codebook_id}"))


def _free_version(conn: sa.Connection, codebook: Codebook) -> Codebook:
    """`codebook` with the next version number not yet stored under its name."""
    taken = set(conn.execute(sa.select(codebooks.c.version)
                             .where(codebooks.c.name == codebook.name)).scalars())
    cb = replace(codebook, version=next_version(codebook))
    while str(cb.version) in taken:
        cb = replace(cb, version=next_version(cb))
    return cb


def save_codebook_version(store: Store, codebook: Codebook) -> Codebook:
    """Store an edited codebook as the next free version and make it active.

    Raises:
        CodebookError: a theme is missing a field or repeats an id.
    """
    parse_codebook(codebook.to_dict(), source="edited codebook")  # validate before writing
    codebook = clean_codebook(codebook)
    with store.write() as conn:
        cb = _free_version(conn, codebook)
        store.add_codebook_in(conn, cb)
    log.info("codebook %s saved as version %s", cb.name, cb.version)
    return cb


def _combine(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> dict[str, Any]:
    """Two codings of one coder landing on one theme: the stronger status wins
    (accepted > suggested > rejected); the model keeps its highest confidence."""
    if a is None:
        return dict(b)
    win = dict(a if RANK[a["status"]] >= RANK[b["status"]] else b)
    confs = [c for c in (a.get("confidence"), b.get("confidence")) if c is not None]
    win["confidence"] = max(confs) if confs else None
    return win


Plan = Callable[[Codebook], tuple[Codebook, Mapping[str, Sequence[str]]]]


def _restructure(store: Store, plan: Plan, *, actor: str, action: str) -> Codebook:
    """One transaction: read the active codebook, `plan` the new one and the mapping {old
    theme: its target themes}, save the codebook as a new version and move every coding of
    each old theme onto its targets, logging each change under `actor`."""
    at = now()
    with store.write() as conn:
        codebook, mapping = plan(store.active_codebook(conn))
        if not actor.strip():
            raise errors.coder_needed(MODEL_CODER)
        parse_codebook(codebook.to_dict(), source="edited codebook")
        touched = sorted(set(mapping) | {t for ts in mapping.values() for t in ts})
        cb = _free_version(conn, codebook)
        store.add_codebook_in(conn, cb)
        rows = conn.execute(sa.select(codings).where(codings.c.theme_id.in_(touched))
                            ).mappings().all()
        state = {(r["response_id"], r["theme_id"], r["coder"]): dict(r) for r in rows}
        want = {k: v for k, v in state.items() if k[1] not in mapping}
        for (rid, tid, coder), row in state.items():
            for target in mapping.get(tid, ()):
                want[(rid, target, coder)] = _combine(want.get((rid, target, coder)), row)
        changes = []
        for key in sorted(set(state) | set(want)):
            new = want.get(key)
            if coding_state(state.get(key)) == coding_state(new):
                continue
            # A moved coding keeps its own columns (its spans, the model's evidence span).
            cols = None if new is None else {
                k: new.get(k) for k in ("origin", "status", "confidence", "spans",
                                        "span_start", "span_end")}
            changes.append(Change(*key, after=coding_state(new), columns=cols))
        n = write_codings(conn, changes, actor=actor, action=action, at=at, current=state)
        # A theme's memos follow it (to its first part on a split that drops its id).
        for tid, targets in mapping.items():
            if targets and tid not in targets:
                conn.execute(sa.update(memos).where(memos.c.target == "theme",
                                                    memos.c.target_id == tid)
                             .values(target_id=targets[0]))
    log.info("%s: codebook %s v%s, %d codings changed", action, cb.name, cb.version, n)
    return cb


def _theme_or_fail(codebook: Codebook, theme_id: str) -> Theme:
    try:
        return codebook.theme(theme_id)
    except KeyError:
        raise errors.unknown_theme(theme_id) from None


def rename_theme(store: Store, theme_id: str, new_id: str, *, actor: str,
                 label: str | None = None) -> Codebook:
    """Give a theme a new id (and label); its codings follow. Returns the new codebook.

    Raises:
        CodebookError: no such theme, or `new_id` is taken or not a valid id.
    """
    def plan(cb: Codebook) -> tuple[Codebook, Mapping[str, Sequence[str]]]:
        old = _theme_or_fail(cb, theme_id)
        if new_id != theme_id and new_id in cb.theme_ids:
            raise errors.theme_id_taken(new_id)
        new = replace(old, theme_id=new_id, label=label or old.label)
        cb2 = replace(cb, themes=tuple(new if t.theme_id == theme_id else t
                                       for t in cb.themes))
        return cb2, ({theme_id: [new_id]} if new_id != theme_id else {})

    return _restructure(store, plan, actor=actor, action="rename")


def merge_themes(store: Store, theme_ids: Sequence[str], into: Theme, *, actor: str
                 ) -> Codebook:
    """Merge themes into one (`into` may reuse one of their ids); every coding moves onto it,
    the stronger status winning where a coder had both.

    Raises:
        CodebookError: fewer than two themes, an unknown theme, or a clashing id.
    """
    def plan(cb: Codebook) -> tuple[Codebook, Mapping[str, Sequence[str]]]:
        if len(set(theme_ids)) < 2:
            raise errors.merge_needs_two()
        for t in theme_ids:
            _theme_or_fail(cb, t)
        if into.theme_id in cb.theme_ids and into.theme_id not in theme_ids:
            raise errors.theme_id_taken(into.theme_id)
        first = min(cb.theme_ids.index(t) for t in theme_ids)
        kept = [t for t in cb.themes if t.theme_id not in theme_ids]
        kept.insert(min(first, len(kept)), into)
        return replace(cb, themes=tuple(kept)), {t: [into.theme_id] for t in theme_ids}

    return _restructure(store, plan, actor=actor, action="merge")


def split_theme(store: Store, theme_id: str, parts: Sequence[Theme], *, actor: str
                ) -> Codebook:
    """Split a theme into `parts` (one may keep its id); each of its codings is copied onto
    every part, for a researcher to review with the theme filter.

    Raises:
        CodebookError: fewer than two parts, an unknown theme, or a clashing id.
    """
    def plan(cb: Codebook) -> tuple[Codebook, Mapping[str, Sequence[str]]]:
        _theme_or_fail(cb, theme_id)
        ids = [p.theme_id for p in parts]
        if len(set(ids)) < 2 or len(set(ids)) != len(ids):
            raise errors.split_needs_two()
        for i in ids:
            if i in cb.theme_ids and i != theme_id:
                raise errors.theme_id_taken(i)
        pos = cb.theme_ids.index(theme_id)
        new = list(cb.themes[:pos]) + list(parts) + list(cb.themes[pos + 1:])
        return replace(cb, themes=tuple(new)), {theme_id: ids}

    return _restructure(store, plan, actor=actor, action="split")
