"""Export stage: coded quotes out as CSV, Excel or JSON Lines (anonymised unless asked)."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..fsio import atomic_path
from ..resolve import RESOLUTION_NAME, RESOLUTION_RULE, resolve_codings
from ..text.offsets import rewrite_with_spans
from ..types import Codebook, Coding, Corpus, Memo
from .cells import EXCEL_CELL_LIMIT, FORMULA_START, cell, fit_excel, neutralise

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("csv", "xlsx", "jsonl")
__all__ = ["EXPORT_FORMATS", "FORMULA_START", "Anonymiser", "atomic_path", "cell", "long_rows",
           "metadata_columns", "neutralise", "wide_rows", "write_rows"]

Anonymiser = Callable[[Sequence[str]], list[str]]  # texts -> anonymised texts


def wide_rows(codebook: Codebook, corpus: Corpus, codings: Sequence[Coding], *,
              anonymiser: Anonymiser | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """One dict per response with its provenance and, per theme, the coded status.

    A theme's status on a response follows nlp.resolve.RESOLUTION_RULE (the latest
    researcher decision, else the model's suggestion); `coders:THEME` keeps each researcher's
    own call ("ana=accepted; ben=rejected"), `disagreement` lists the themes researchers
    differ on, and `resolution` names the rule (its short name, RESOLUTION_NAME: the
    rule's sentence is written once, in the Excel README sheet). Every metadata column the
    import kept follows (see `metadata_columns`).

    Args:
        anonymiser: texts -> texts for the answers and free-text metadata (None: as stored).

    Returns:
        (rows, theme ids in codebook order).
    """
    theme_ids = codebook.theme_ids
    resolved = resolve_codings(codings)
    texts = corpus.texts
    if anonymiser is not None:
        texts = anonymiser(texts)
    meta = metadata_columns(corpus, anonymiser)
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
        row["resolution"] = RESOLUTION_NAME
        row.update(meta.get(r.response_id, {}))
        rows.append(row)
    return rows, theme_ids


def long_rows(corpus: Corpus, codings: Sequence[Coding], *,
              anonymiser: Anonymiser | None = None) -> list[dict[str, Any]]:
    """One dict per coding (response x theme x coder), with the response text, the spans the
    coding rests on (`span`: their text joined by " … "; `span_start`/`span_end`: the first
    span; `spans`: every one as "start-end;..."; all blank for the whole answer; offsets count
    characters of the exported `text`), `disagreement` (researchers differ on this answer and
    theme), `stands` (this coding is the one RESOLUTION_RULE keeps) and the response's
    metadata columns (see `metadata_columns`). `anonymiser`: texts -> texts (None: as
    stored)."""
    all_codings = list(codings)
    anonymise = anonymiser is not None
    resolved = resolve_codings(all_codings)
    ids = list(corpus.ids)
    texts = list(corpus.texts)
    spans: dict[str, set[tuple[int, int]]] = {}
    for c in all_codings:
        spans.setdefault(c.response_id, set()).update(c.spans or ((c.span,) if c.span else ()))
    moved: dict[tuple[str, tuple[int, int]], tuple[int, int]] = {}
    if anonymiser is not None:
        # Each answer is cut at its spans' edges, so a span's new offsets are known.
        old = [tuple(sorted(spans.get(i, ()))) for i in ids]
        texts, new = rewrite_with_spans(texts, old, anonymiser)
        for rid, a, b in zip(ids, old, new):
            moved.update({(rid, x): y for x, y in zip(a, b)})
    meta = metadata_columns(corpus, anonymiser)
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
            "resolution": RESOLUTION_NAME, "text": text, **meta.get(c.response_id, {})})
    return rows


# -- metadata columns --------------------------------------------------------------------------
# The export's own columns: a metadata column of one of these names is written as "meta:NAME".
_OWN_COLUMNS = {"response_id", "text", "source", "location", "respondent_id", "question", "flag",
                "accepted_themes", "suggested_themes", "theme_id", "coder", "origin", "status",
                "confidence", "updated_at", "disagreement", "resolution", "span", "span_start",
                "span_end", "spans", "stands"}
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


def metadata_columns(corpus: Corpus, anonymiser: Anonymiser | None = None
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
    column = {k: (f"meta:{k}" if k in _OWN_COLUMNS or k.startswith(
        ("theme:", "score:", "coders:", "meta:")) else k) for k in keys}
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


README_WIDE = (
    ("theme:THEME", "the status that stands for the theme on the answer (see the rule)"),
    ("score:THEME", "the model's confidence, when it suggested the theme"),
    ("coders:THEME", "each researcher's own decision, e.g. 'ana=accepted; ben=rejected'"),
    ("disagreement", "themes on which researchers decided differently"),
    ("resolution", f"'{RESOLUTION_NAME}': the short name of the resolution rule (above) "
     "that made one status out of every coder's decision"),
)
README_LONG = (
    ("coder", "who decided: a researcher's name, or 'model' for a suggestion"),
    ("span, span_start, span_end, spans", "the characters of `text` the coding rests on "
     "(blank: the whole answer); spans lists every one as start-end, end excluded"),
    ("disagreement", "researchers decided differently on this answer and theme"),
    ("stands", "this coding is the one the rule keeps"),
    ("resolution", f"'{RESOLUTION_NAME}': the short name of the resolution rule (above) "
     "that made one status out of every coder's decision"),
)


def _frame(df):
    """Every cell and header of a sheet through `cell` (clean and inert)."""
    df = df.map(cell) if hasattr(df, "map") else df.applymap(cell)
    for col in ("span_start", "span_end"):  # offsets stay whole numbers beside blanks
        if col in df:
            df[col] = df[col].astype("Int64")
    df.columns = [cell(c) for c in df.columns]
    return df


def _write_xlsx(tmp: Path, df, *, layout: str, codebook: Codebook | None,
                memos: Sequence[Memo], anonymiser: Anonymiser | None) -> None:
    """The Excel file: the coded quotes, the codebook, the README sheet (the resolution rule,
    the columns, any value continued past Excel's cell limit) and the notes sheet (memos,
    anonymised like the answers: a memo may quote one)."""
    import pandas as pd

    bodies = [m.text for m in memos]
    if anonymiser is not None and bodies:
        bodies = list(anonymiser(bodies))
    themes = codebook.themes if codebook is not None else ()
    sheets = {
        "coded quotes": df,
        "codebook": pd.DataFrame([{"theme_id": t.theme_id, "label": t.label,
                                   "definition": t.definition, "include": "; ".join(t.include),
                                   "exclude": "; ".join(t.exclude)} for t in themes]),
        "README": None,
        "notes": pd.DataFrame([{"on": m.target, "target": m.target_id, "author": m.author,
                                "written": m.created_at.isoformat() if m.created_at else "",
                                "text": body} for m, body in zip(memos, bodies)],
                              columns=["on", "target", "author", "written", "text"])}
    split: list[str] = []
    for name, frame in sheets.items():
        if frame is not None:
            frame, notes = fit_excel(_frame(frame), name)
            sheets[name] = frame
            split += notes
    if split:
        log.warning("%d column(s) hold values longer than an Excel cell; they continue in "
                    "the next columns (see the README sheet)", len(split))
    cols = README_WIDE if layout == "wide" else README_LONG
    sheets["README"] = _frame(pd.DataFrame(
        [{"item": "resolution rule", "meaning": RESOLUTION_RULE},
         *({"item": k, "meaning": v} for k, v in cols),
         {"item": "leading '", "meaning": (
             "a value or column name that starts with = + - @, a tab or a line end (or with = "
             "+ - @ after spaces) has a ' put in front, so no spreadsheet runs it as a "
             "formula; the ' is not part of the value")},
         {"item": "long values", "meaning": (
             f"an Excel cell holds at most {EXCEL_CELL_LIMIT:,} characters; a longer value is "
             "never cut: it continues in the columns named 'COLUMN (cont. 2)', 'COLUMN (cont. "
             "3)'... right after its own. " + ("; ".join(split) + "." if split else
                                                 "No value in this file needed it."))}]))
    with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            frame.to_excel(xw, sheet_name=name, index=False)


def write_rows(rows: Sequence[dict[str, Any]], out: str | Path, *, format: str,
               layout: str = "wide", codebook: Codebook | None = None,
               memos: Sequence[Memo] = (), anonymiser: Anonymiser | None = None) -> Path:
    """Write export rows (`wide_rows` or `long_rows`) to `out` (atomically).

    Args:
        format: csv, xlsx or jsonl.
        layout: the rows' layout, "wide" or "long" (the Excel README sheet explains it).
        codebook: the Excel file's codebook sheet.
        memos: the Excel file's notes sheet, anonymised by `anonymiser` when one is given.

    Raises:
        NlpError: unknown format or layout.
    """
    check_format(format, layout)
    out = Path(out)
    with atomic_path(out) as tmp:
        if format == "jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            import pandas as pd

            df = pd.DataFrame(list(rows))
            if format == "csv":  # every cell and header clean and inert (`cell`)
                _frame(df).to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                _write_xlsx(tmp, df, layout=layout, codebook=codebook, memos=memos,
                            anonymiser=anonymiser)
    log.info("exported %d rows to %s", len(rows), out)
    return out


def check_format(format: str, layout: str = "wide") -> None:
    """Refuse an export format or layout there is no writer for.

    Raises:
        NlpError: unknown format or layout.
    """
    if format not in EXPORT_FORMATS:
        raise errors.unknown_export_format(format, list(EXPORT_FORMATS))
    if layout not in ("wide", "long"):
        raise errors.unknown_layout(layout)
