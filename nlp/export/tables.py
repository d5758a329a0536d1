"""Export stage: coded quotes out as CSV, Excel or JSON Lines (anonymised unless asked)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..fsio import atomic_path, check_output_file
from ..store.memos import list_memos
from ..store.resolve import RESOLUTION_RULE, resolve_codings
from ..text.offsets import rewrite_with_spans

log = logging.getLogger(__name__)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_FORMATS = ("csv", "xlsx", "jsonl")
__all__ = ["EXPORT_FORMATS", "atomic_path", "coded_rows", "coding_rows", "export_project",
           "neutralise"]


def neutralise(value: Any) -> Any:
    """Make a spreadsheet cell inert: text starting with = + - @ tab or CR gets a leading '.

    Spreadsheet programs run such cells as formulas (CSV/formula injection).
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def coded_rows(store, *, anonymise: bool = True,
               anonymiser: Callable[[Sequence[str]], list[str]] | None = None
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """One dict per response with its provenance and, per theme, the coded status.

    A theme's status on a response follows nlp.store.resolve.RESOLUTION_RULE (the latest
    researcher decision, else the model's suggestion); `coders:THEME` keeps each researcher's
    own call ("ana=accepted; ben=rejected"), `disagreement` lists the themes researchers
    differ on, and `resolution` states the rule. Returns (rows, theme ids in codebook order).
    """
    codebook = store.active_codebook()
    theme_ids = codebook.theme_ids
    corpus = store.corpus()
    resolved = resolve_codings(store.codings())
    texts = corpus.texts
    if anonymise:
        if anonymiser is None:
            from ..text.anonymise import anonymise_texts
            anonymiser = anonymise_texts
        texts = anonymiser(texts)
    rows: list[dict[str, Any]] = []
    for r, text in zip(corpus, texts):
        row: dict[str, Any] = {
            "response_id": r.response_id, "text": text, "source": r.source,
            "location": r.location, "respondent_id": r.respondent_id or "",
            "question": r.question or "", "flag": r.flag or ""}
        accepted, model, split = [], [], []
        for tid in theme_ids:
            res = resolved.get((r.response_id, tid))
            status = res.status if res else ""
            row[f"theme:{tid}"] = status
            row[f"score:{tid}"] = res.confidence if res else None
            row[f"coders:{tid}"] = "; ".join(f"{c}={st}" for c, st in res.coders.items()) \
                if res else ""
            if status == "accepted":
                accepted.append(tid)
            elif status == "suggested":
                model.append(tid)
            if res and res.disagreement:
                split.append(tid)
        row["accepted_themes"] = ";".join(accepted)
        row["suggested_themes"] = ";".join(model)
        row["disagreement"] = ";".join(split)
        row["resolution"] = RESOLUTION_RULE
        rows.append(row)
    return rows, theme_ids


def coding_rows(store, *, anonymise: bool = True,
                anonymiser: Callable[[Sequence[str]], list[str]] | None = None
                ) -> list[dict[str, Any]]:
    """One dict per coding (response x theme x coder), with the response text, the spans the
    coding rests on (`span`: their text joined by " … "; `span_start`/`span_end`: the first
    span; `spans`: every one as "start-end;..."; all blank for the whole answer; offsets count
    characters of the exported `text`), `disagreement` (researchers differ on this answer and
    theme) and `stands` (this coding is the one RESOLUTION_RULE keeps)."""
    corpus = store.corpus()
    all_codings = store.codings()
    resolved = resolve_codings(all_codings)
    ids = list(corpus.ids)
    texts = list(corpus.texts)
    spans: dict[str, set[tuple[int, int]]] = {}
    for c in all_codings:
        spans.setdefault(c.response_id, set()).update(c.spans or ((c.span,) if c.span else ()))
    moved: dict[tuple[str, tuple[int, int]], tuple[int, int]] = {}
    if anonymise:
        if anonymiser is None:
            from ..text.anonymise import anonymise_texts
            anonymiser = anonymise_texts
        # Each answer is cut at its spans' edges, so a span's new offsets are known.
        old = [tuple(sorted(spans.get(i, ()))) for i in ids]
        texts, new = rewrite_with_spans(texts, old, anonymiser)
        for rid, a, b in zip(ids, old, new):
            moved.update({(rid, x): y for x, y in zip(a, b)})
    by_id = dict(zip(ids, texts))
    rows = []
    for c in all_codings:
        text = by_id.get(c.response_id, "")
        sp = [moved[(c.response_id, x)] if anonymise else x
              for x in (c.spans or ((c.span,) if c.span else ()))]
        sp = [(a, b) for a, b in sp if b > a]
        res = resolved.get((c.response_id, c.theme_id))
        rows.append({
            "response_id": c.response_id, "theme_id": c.theme_id, "coder": c.coder,
            "origin": c.origin, "status": c.status, "confidence": c.confidence,
            "updated_at": c.created_at.isoformat() if c.created_at else "",
            "span": " … ".join(text[a:b] for a, b in sp),
            "span_start": sp[0][0] if sp else None, "span_end": sp[0][1] if sp else None,
            "spans": ";".join(f"{a}-{b}" for a, b in sp),
            "disagreement": bool(res and res.disagreement),
            "stands": bool(res and res.coder == c.coder),
            "resolution": RESOLUTION_RULE, "text": text})
    return rows


README_WIDE = (
    ("theme:THEME", "the status that stands for the theme on the answer (see the rule)"),
    ("score:THEME", "the model's confidence, when it suggested the theme"),
    ("coders:THEME", "each researcher's own decision, e.g. 'ana=accepted; ben=rejected'"),
    ("disagreement", "themes on which researchers decided differently"),
    ("resolution", "the rule that made one status out of every coder's decision"),
)
README_LONG = (
    ("coder", "who decided: a researcher's name, or 'model' for a suggestion"),
    ("span, span_start, span_end, spans", "the characters of `text` the coding rests on "
     "(blank: the whole answer); spans lists every one as start-end, end excluded"),
    ("disagreement", "researchers decided differently on this answer and theme"),
    ("stands", "this coding is the one the rule keeps"),
    ("resolution", "the rule that made one status out of every coder's decision"),
)


def _notes_sheets(store, xw, *, layout: str, anonymise: bool) -> None:
    """The README sheet (the resolution rule, the columns) and the notes sheet (memos,
    anonymised like the answers: a memo may quote one)."""
    import pandas as pd

    memos = list_memos(store)
    bodies = [m.text for m in memos]
    if anonymise and bodies:
        from ..text.anonymise import anonymise_texts
        bodies = anonymise_texts(bodies)

    cols = README_WIDE if layout == "wide" else README_LONG
    pd.DataFrame([{"item": "resolution rule", "meaning": RESOLUTION_RULE},
                  *({"item": k, "meaning": v} for k, v in cols)]
                 ).map(neutralise).to_excel(xw, sheet_name="README", index=False)
    pd.DataFrame([{"on": m.target, "target": m.target_id, "author": m.author,
                   "written": m.created_at.isoformat() if m.created_at else "",
                   "text": body} for m, body in zip(memos, bodies)],
                 columns=["on", "target", "author", "written", "text"]
                 ).map(neutralise).to_excel(xw, sheet_name="notes", index=False)


def export_project(store, out: str | Path, *, format: str, anonymise: bool = True,
                   layout: str = "wide") -> Path:
    """Write the project's coded quotes to `out` (atomically).

    Args:
        format: csv, xlsx or jsonl.
        anonymise: replace names, places, contacts with placeholders (default).
        layout: "wide" (one row per quote, a column per theme) or "long" (one row per coding).

    Raises:
        NlpError: unknown format or layout.
    """
    if format not in EXPORT_FORMATS:
        raise errors.NlpError(f"unknown export format {format!r}; use one of "
                              f"{', '.join(EXPORT_FORMATS)}.")
    if layout not in ("wide", "long"):
        raise errors.NlpError(f"unknown layout {layout!r}; use wide or long.")
    check_output_file(out)  # before the slow part: anonymising every answer
    rows = (coded_rows(store, anonymise=anonymise)[0] if layout == "wide"
            else coding_rows(store, anonymise=anonymise))
    out = Path(out)
    with atomic_path(out) as tmp:
        if format == "jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            import pandas as pd

            df = pd.DataFrame(rows)
            df = df.map(neutralise) if hasattr(df, "map") else df.applymap(neutralise)
            if format == "csv":
                df.to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                    df.to_excel(xw, sheet_name="coded quotes", index=False)
                    cb = store.active_codebook()
                    pd.DataFrame([{"theme_id": t.theme_id, "label": t.label,
                                   "definition": t.definition,
                                   "include": "; ".join(t.include),
                                   "exclude": "; ".join(t.exclude)} for t in cb.themes]
                                 ).map(neutralise).to_excel(xw, sheet_name="codebook",
                                                            index=False)
                    _notes_sheets(store, xw, layout=layout, anonymise=anonymise)
    log.info("exported %d rows to %s", len(rows), out)
    return out
