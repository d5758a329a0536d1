"""Export stage: coded quotes out as CSV, Excel or JSON Lines (anonymised unless asked)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..fsio import atomic_path, check_output_file
from ..types import MODEL_CODER

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

    A theme's status on a response is the latest researcher decision (accepted/rejected),
    else the model's suggestion. Returns (rows, theme ids in codebook order).
    """
    codebook = store.active_codebook()
    theme_ids = codebook.theme_ids
    corpus = store.corpus()
    decided: dict[tuple[str, str], tuple[Any, str, str]] = {}
    suggested: dict[tuple[str, str], float | None] = {}
    for c in store.codings():
        key = (c.response_id, c.theme_id)
        if c.coder == MODEL_CODER:
            suggested[key] = c.confidence
        else:
            prev = decided.get(key)
            if prev is None or c.created_at >= prev[0]:
                decided[key] = (c.created_at, c.status, c.coder)
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
        accepted, model = [], []
        for tid in theme_ids:
            key = (r.response_id, tid)
            if key in decided:
                status = decided[key][1]
            elif key in suggested:
                status = "suggested"
            else:
                status = ""
            row[f"theme:{tid}"] = status
            row[f"score:{tid}"] = suggested.get(key)
            if status == "accepted":
                accepted.append(tid)
            elif status == "suggested":
                model.append(tid)
        row["accepted_themes"] = ";".join(accepted)
        row["suggested_themes"] = ";".join(model)
        rows.append(row)
    return rows, theme_ids


def coding_rows(store, *, anonymise: bool = True) -> list[dict[str, Any]]:
    """One dict per coding (response x theme x coder), with the response text."""
    corpus = store.corpus()
    texts = dict(zip(corpus.ids, corpus.texts))
    if anonymise:
        from ..text.anonymise import anonymise_texts
        texts = dict(zip(texts, anonymise_texts(list(texts.values()))))
    return [{"response_id": c.response_id, "theme_id": c.theme_id, "coder": c.coder,
             "origin": c.origin, "status": c.status, "confidence": c.confidence,
             "updated_at": c.created_at.isoformat() if c.created_at else "",
             "text": texts.get(c.response_id, "")} for c in store.codings()]


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
    log.info("exported %d rows to %s", len(rows), out)
    return out
