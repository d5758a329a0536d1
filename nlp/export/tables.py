"""Export stage: coded quotes out as CSV, Excel or JSON Lines (anonymised unless asked)."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..fsio import atomic_path, check_output_file
from ..text.anon_project import project_anonymiser
from ..types import MODEL_CODER

log = logging.getLogger(__name__)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_FORMATS = ("csv", "xlsx", "jsonl")
__all__ = ["EXPORT_FORMATS", "atomic_path", "coded_rows", "coding_rows", "export_project",
           "metadata_columns", "neutralise"]


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
    else the model's suggestion. Every metadata column the import kept follows the theme
    columns (see `metadata_columns`). `store` may be the Project (its anonymisation settings
    then apply). Returns (rows, theme ids in codebook order).
    """
    owner, store = store, getattr(store, "store", store)
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
            anonymiser = project_anonymiser(owner)
        texts = anonymiser(texts)
    meta = metadata_columns(corpus, anonymiser if anonymise else None)
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
        row.update(meta.get(r.response_id, {}))
        rows.append(row)
    return rows, theme_ids


def coding_rows(store, *, anonymise: bool = True,
                anonymiser: Callable[[Sequence[str]], list[str]] | None = None
                ) -> list[dict[str, Any]]:
    """One dict per coding (response x theme x coder), with the response text and its
    metadata columns (see `metadata_columns`)."""
    owner, store = store, getattr(store, "store", store)
    corpus = store.corpus()
    texts = dict(zip(corpus.ids, corpus.texts))
    if anonymise:
        anonymiser = anonymiser or project_anonymiser(owner)
        texts = dict(zip(texts, anonymiser(list(texts.values()))))
    meta = metadata_columns(corpus, anonymiser if anonymise else None)
    return [{"response_id": c.response_id, "theme_id": c.theme_id, "coder": c.coder,
             "origin": c.origin, "status": c.status, "confidence": c.confidence,
             "updated_at": c.created_at.isoformat() if c.created_at else "",
             "text": texts.get(c.response_id, ""), **meta.get(c.response_id, {})}
            for c in store.codings()]


# -- metadata columns --------------------------------------------------------------------------
# The export's own columns: a metadata column of one of these names is written as "meta:NAME".
_OWN_COLUMNS = {"response_id", "text", "source", "location", "respondent_id", "question", "flag",
                "accepted_themes", "suggested_themes", "theme_id", "coder", "origin", "status",
                "confidence", "updated_at"}
# Columns named for personal data: names and addresses are replaced whole; contact details and
# dates of birth go through the anonymiser whatever their number of values (its patterns find
# them; a "mobile: yes/no" column is left as it is).
_PII_COLUMNS = (("email", "EMAIL"), ("e_mail", "EMAIL"), ("phone", "PHONE"),
                ("telephone", "PHONE"), ("mobile", "PHONE"), ("tel", "PHONE"),
                ("postcode", "POSTCODE"), ("post_code", "POSTCODE"), ("address", "ADDRESS"),
                ("street", "ADDRESS"), ("date_of_birth", "DOB"), ("dob", "DOB"),
                ("birth_date", "DOB"), ("birthdate", "DOB"), ("birthday", "DOB"),
                ("surname", "PERSON"), ("forename", "PERSON"), ("first_name", "PERSON"),
                ("last_name", "PERSON"), ("full_name", "PERSON"), ("name", "PERSON"))
_NOT_A_PERSON = {"org", "organisation", "organization", "company", "charity", "group", "project",
                 "service", "business", "provider", "team", "file", "sheet", "theme", "scheme",
                 "programme", "program", "site", "area", "place", "school", "question", "source",
                 "event", "product", "brand", "venue", "body", "agency", "department"}
MAX_CATEGORIES = 12


def _pii_column(key: str) -> str | None:
    """The kind of personal data a column is named for ("Respondent name" -> PERSON)."""
    parts = re.findall(r"[a-z0-9]+", key.lower())
    norm = "_".join(parts)
    for word, label in _PII_COLUMNS:
        hit = norm == word or ("_" in word and word in norm) or word in parts
        if hit and label == "PERSON" and _NOT_A_PERSON & set(parts):
            continue  # "organisation name" is not a person's
        if hit:
            return label
    return None


def metadata_columns(corpus, anonymiser: Callable[[Sequence[str]], list[str]] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """{response_id: {column: value}} for every metadata column the import kept (extra
    columns of a CSV, Excel or JSONL file, such as age_group), in first-seen order.

    With `anonymiser`, the columns that hold free text (more than MAX_CATEGORIES different
    values, or values of more than five words) are anonymised like the answers, and so are
    columns named for contact details or dates of birth; a column named for a person's name
    or address has each value replaced by its placeholder ([PERSON], [ADDRESS]); categories
    (age group, region, organisation type) and numbers stay as they are. A column named like
    one of the export's own is written as "meta:NAME".
    """
    keys: dict[str, None] = {}
    for r in corpus:
        for k in r.metadata:
            keys.setdefault(str(k), None)
    if not keys:
        return {}
    column = {k: (f"meta:{k}" if k in _OWN_COLUMNS or k.startswith(("theme:", "score:", "meta:"))
                  else k) for k in keys}
    out: dict[str, dict[str, Any]] = {r.response_id: {column[k]: r.metadata.get(k)
                                                      for k in keys} for r in corpus}
    if anonymiser is None:
        return out
    for k in keys:
        values = {r.metadata.get(k) for r in corpus}
        text = {v for v in values if isinstance(v, str) and v.strip()}
        if not text:
            continue
        label = _pii_column(k)
        if label in ("PERSON", "ADDRESS"):
            clean = {v: f"[{label}]" for v in text}
        elif label or len(text) > MAX_CATEGORIES or any(len(v.split()) > 5 for v in text):
            order = sorted(text)
            clean = dict(zip(order, anonymiser(order)))
        else:
            continue
        for row in out.values():
            v = row.get(column[k])
            if v in clean:
                row[column[k]] = clean[v]
    return out


def export_project(store, out: str | Path, *, format: str, anonymise: bool = True,
                   layout: str = "wide",
                   anonymiser: Callable[[Sequence[str]], list[str]] | None = None) -> Path:
    """Write the project's coded quotes to `out` (atomically).

    Args:
        format: csv, xlsx or jsonl.
        anonymise: replace names, places, contacts with placeholders (default).
        anonymiser: texts -> texts instead of the project's (nlp.text.anon_project).
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
    rows = (coded_rows(store, anonymise=anonymise, anonymiser=anonymiser)[0]
            if layout == "wide" else coding_rows(store, anonymise=anonymise,
                                                 anonymiser=anonymiser))
    store = getattr(store, "store", store)
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
