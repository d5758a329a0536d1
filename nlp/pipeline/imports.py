"""Pipeline (import): files read by the ingest and REFI-QDA stages, stored in a project in one
transaction."""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import errors
from ..ingest import PROJECT_READERS, ImportOptions, ReadResult, read_file
from ..ingest.idkeys import key_answers
from ..ingest.readers import MAX_ID
from ..refiqda import QdpxRead, plan_qdpx, read_qdpx
from ..store import Store
from ..store.changes import Change, normalise_spans, now, write_codings
from ..store.memos import add_memos_in
from ..types import Codebook, ImportSummary, Response

log = logging.getLogger(__name__)

__all__ = ["PROJECT_WRITERS", "import_file", "import_files", "import_qdpx", "store_qdpx"]


def _store_read(store: Store, conn: Any, p: Path, result: ReadResult,
                opts: ImportOptions) -> ImportSummary:
    """Store one file's responses inside the caller's write transaction."""
    base = ImportSummary(path=str(p), format=result.format, rows_read=result.rows_read,
                         encoding=result.encoding, columns=result.columns,
                         notes=tuple(result.notes))
    # Checked inside the write transaction: two imports of one file at once add it once.
    if store.source_by_hash(result.content_hash, conn) is not None:
        return replace(base, skipped_present=len(result.responses), source_already_present=True)
    unit = "row" if result.format in ("csv", "xlsx") else "line"
    answers, existing, id_notes = key_answers(lambda ids: store.stored_answers(ids, conn), p,
                                              result.responses, result.file_ids,
                                              unit=unit, max_len=MAX_ID)
    new: list[Response] = []
    skipped = 0
    for r in answers:
        if r.response_id in existing:
            s = existing[r.response_id]
            if s.text_hash != r.text_hash:
                raise errors.conflicting_id(p, r.location or 0, r.response_id, s.source,
                                            unit=unit)
            skipped += 1
        else:
            new.append(r)
    sid = store.add_source(conn, name=p.name, path=str(p.resolve()), format=result.format,
                           content_hash=result.content_hash, encoding=result.encoding,
                           options={k: v for k, v in vars(opts).items() if v is not None},
                           rows_read=result.rows_read)
    n = store.add_responses(conn, new, sid)
    log.info("imported %s: %d new, %d already present", p.name, n, skipped)
    return replace(base, notes=(*base.notes, *id_notes), imported=n,
                   flagged=sum(1 for r in new if r.flag), skipped_present=skipped)


def store_qdpx(store: Store, conn: Any, read: QdpxRead, current: Codebook
               ) -> tuple[ImportSummary, Codebook]:
    """Store what `read_qdpx` read inside the caller's write transaction: texts ->
    responses, codes -> themes (missing ones added to a new codebook version), codings ->
    decisions. Returns the summary and the codebook now active.

    Raises:
        InputError: a coding names a theme that is neither a code of the file nor a theme of
            the project (the caller's transaction rolls back).
    """
    path = read.path
    if store.source_by_hash(read.digest, conn) is not None:
        return ImportSummary(path=str(path), format="qdpx", source_already_present=True), current
    plan = plan_qdpx(read, current)
    new_cb = plan.codebook
    notes = list(read.notes)
    if new_cb is not None:
        store.add_codebook_in(conn, new_cb, activate=True)
        notes.append(f"added {len(new_cb.themes) - len(current.themes)} new themes: codebook "
                     f"{new_cb.name} is now version {new_cb.version}")
    existing = store.stored_answers([r.response_id for r in read.responses], conn)
    new = [r for r in read.responses if r.response_id not in existing]
    sid = store.add_source(conn, name=path.name, path=str(path.resolve()), format="qdpx",
                           content_hash=read.digest, encoding="utf-8", options={},
                           rows_read=len(read.responses))
    n = store.add_responses(conn, new, sid)
    at = now()
    lengths = {r.response_id: len(r.text) for r in read.responses}
    changes = []
    for (rid, tid, coder), (status, origin, conf) in read.codings.items():
        try:
            spans = normalise_spans(read.spans.get((rid, tid, coder)), lengths.get(rid))
        except ValueError:
            spans = ()
            notes.append(f"a span of {rid[:60]!r} ({tid[:60]}, {coder[:60]}) lies outside "
                         "the answer: coded on the whole answer")
        changes.append(Change(rid, plan.theme(tid), coder, {
            "origin": origin, "status": status, "confidence": conf, "spans": spans}))
    # Each coding logged under its own coder, as that coder's decision.
    for coder in dict.fromkeys(ch.coder for ch in changes):
        write_codings(conn, [ch for ch in changes if ch.coder == coder], actor=coder,
                      action="set", at=at)
    ids = {r.response_id for r in read.responses}
    memo_rows = []
    for target, tid, author, when, body in read.memos:
        tid = plan.theme(tid) if target == "theme" else tid
        if (target == "theme" and tid not in plan.known) or (target == "answer"
                                                             and tid not in ids):
            target, tid = "project", ""
        memo_rows.append({"target": target, "target_id": tid, "author": author[:200],
                          "created_at": when or at, "text": body})
    if memo_rows:
        add_memos_in(conn, memo_rows)
        notes.append(f"{len(memo_rows)} notes became memos")
    if len(new) < len(read.responses):
        notes.append(f"{len(read.responses) - len(new)} responses were already in the "
                     "project: their text was kept, their codings added")
    log.info("imported %s: %d responses, %d codings", path.name, n, len(read.codings))
    summary = ImportSummary(path=str(path), format="qdpx", rows_read=len(read.responses),
                            imported=n,
                            flagged=sum(1 for r in new if r.flag),
                            skipped_present=len(read.responses) - len(new),
                            columns={"codings": str(len(read.codings))}, notes=tuple(notes))
    return summary, new_cb or current


# How each project reader's result is stored (nlp.ingest.PROJECT_READERS, by format): inside
# the import's one transaction, returning its summary and the codebook now active (the file
# may add themes: a new codebook version, which the next file builds on).
ProjectWriter = Callable[[Store, Any, QdpxRead, Codebook],
                         "tuple[ImportSummary, Codebook]"]
PROJECT_WRITERS: dict[str, ProjectWriter] = {"qdpx": store_qdpx}


def import_file(store: Store, path: str | Path,
                options: ImportOptions | None = None) -> ImportSummary:
    """Import one file into the project in one transaction: all of it or nothing.

    A file whose bytes were imported before adds nothing; a row whose id and text are already
    stored is skipped as already present; ids that another file already uses for other texts
    are stored as FILE-STEM:ID (see nlp.ingest.idkeys); an id stored from the same file with a
    different text is an error.

    Raises:
        InputError: bad file (nothing is stored).
    """
    return import_files(store, [path], options)[0]


def import_files(store: Store, paths: Sequence[str | Path],
                 options: ImportOptions | None = None) -> list[ImportSummary]:
    """Import several files as one unit: every file is read and checked first (REFI-QDA
    projects included), then all are stored in one transaction, so a bad file (or a
    conflicting id in any of them) stores nothing at all.

    Raises:
        InputError: naming the bad file and row; the project is unchanged.
    """
    opts = options or ImportOptions()
    items = [Path(p) for p in paths]
    reads = [PROJECT_READERS[p.suffix.lower()].read(p) if p.suffix.lower() in PROJECT_READERS
             else read_file(p, opts) for p in items]
    out: list[ImportSummary] = []
    with store.write() as conn:
        codebook = None
        for p, result in zip(items, reads):
            if isinstance(result, ReadResult):
                out.append(_store_read(store, conn, p, result, opts))
            else:
                # A .qdpx may add themes (a new codebook version): the next one builds on it.
                codebook = codebook or store.active_codebook(conn)
                writer = PROJECT_WRITERS[PROJECT_READERS[p.suffix.lower()].format]
                summary, codebook = writer(store, conn, result, codebook)
                out.append(summary)
    return out


def import_qdpx(store: Store, path: str | Path) -> ImportSummary:
    """Import a .qdpx (ours or another program's: NVivo, ATLAS.ti, MAXQDA, QualCoder) in one
    transaction: texts -> responses (a selection over part of a text becomes a response of its
    own), codes -> themes (missing ones added to a new codebook version), codings -> decisions
    (the model's user -> suggestions; any other user -> that researcher's).

    Responses already in the project (same id) keep their text; only codings are added.

    Raises:
        InputError: unreadable or empty file; nothing is stored.
    """
    read = read_qdpx(Path(path))
    with store.write() as conn:
        return store_qdpx(store, conn, read, store.active_codebook(conn))[0]
