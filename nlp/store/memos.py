"""Store: memos, a researcher's notes on an answer, a theme or the whole project."""
from __future__ import annotations

import logging
from typing import Any, Literal, Mapping, Sequence

import sqlalchemy as sa

from .. import errors
from ..limits import ANSWER_CHARS
from ..types import MODEL_CODER, Memo
from .changes import now
from .core import Store, inserted_id
from .schema import memos, responses

log = logging.getLogger(__name__)

Target = Literal["answer", "theme", "project"]
TARGETS: tuple[str, ...] = ("answer", "theme", "project")


def _memo(row) -> Memo:
    return Memo(memo_id=int(row["id"]), target=row["target"], target_id=row["target_id"],
                author=row["author"], created_at=row["created_at"], text=row["text"])


def add_memo(store: Store, target: Target, target_id: str | None, text: str, *,
             author: str) -> Memo:
    """Write a memo (one transaction).

    Args:
        target: "answer", "theme" or "project".
        target_id: the response id, the theme id, or None/"" for the project.

    Raises:
        StoreRequestError: an unknown target, an empty author or text, a text over the answer limit,
            or an answer or theme the project does not have.
    """
    if target not in TARGETS:
        raise errors.bad_memo_target(target)
    if not author.strip() or author == MODEL_CODER:
        raise errors.memo_author_needed(MODEL_CODER)
    body = text.strip()
    if not body:
        raise errors.memo_empty()
    if len(body) > ANSWER_CHARS:
        raise errors.memo_too_long(len(body), ANSWER_CHARS)
    tid = (target_id or "").strip() if target != "project" else ""
    with store.write() as conn:  # one transaction: the checks read inside it
        if target == "theme" and tid not in store.active_codebook(conn).theme_ids:
            raise errors.unknown_theme(tid)
        if target == "answer" and conn.execute(sa.select(responses.c.id).where(
                responses.c.response_id == tid)).first() is None:
            raise errors.memo_unknown_answer(tid)
        at = now()
        mid = inserted_id(conn.execute(sa.insert(memos).values(
            target=target, target_id=tid, author=author.strip(), created_at=at,
            text=body)))
    log.info("memo %s on %s %r by %s", mid, target, tid, author)
    return Memo(int(mid), target, tid, author.strip(), at, body)


def add_memos_in(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert memos inside the caller's write transaction (an import that brings notes);
    rows are {"target", "target_id", "author", "created_at", "text"}, already checked.
    Returns how many."""
    if rows:
        conn.execute(sa.insert(memos), [dict(r) for r in rows])
    return len(rows)


def list_memos(store: Store, target: Target | None = None, target_id: str | None = None, *,
               author: str | None = None, limit: int | None = None) -> list[Memo]:
    """Memos, oldest first: all of them, those on one kind of target, or on one target."""
    q = sa.select(memos).order_by(memos.c.id)
    if target is not None:
        q = q.where(memos.c.target == target)
    if target_id is not None:
        q = q.where(memos.c.target_id == target_id)
    if author is not None:
        q = q.where(memos.c.author == author)
    if limit is not None:
        q = q.limit(limit)
    with store.read() as conn:
        return [_memo(r) for r in conn.execute(q).mappings()]


def search_memos(store: Store, text: str, *, limit: int = 100) -> list[Memo]:
    """Memos whose text holds `text` (case-insensitive, literally: % and _ are not
    wildcards), newest first."""
    pat = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if not pat:
        return []
    q = (sa.select(memos).where(memos.c.text.ilike(f"%{pat}%", escape="\\"))
         .order_by(memos.c.id.desc()).limit(limit))
    with store.read() as conn:
        return [_memo(r) for r in conn.execute(q).mappings()]


def delete_memo(store: Store, memo_id: int, *, author: str) -> bool:
    """Delete one's own memo; returns whether one was deleted (another's is kept)."""
    with store.write() as conn:
        n = conn.execute(sa.delete(memos).where(memos.c.id == memo_id,
                                                memos.c.author == author)).rowcount
    return bool(n)


def memo_counts(store: Store, target: Target, target_ids: Sequence[str]) -> dict[str, int]:
    """{target id: memos on it} for a few targets (badges on a list)."""
    out: dict[str, int] = {}
    ids = list(target_ids)
    with store.read() as conn:
        for i in range(0, len(ids), 900):
            out.update({k: int(v) for k, v in conn.execute(
                sa.select(memos.c.target_id, sa.func.count()).where(
                    memos.c.target == target, memos.c.target_id.in_(ids[i:i + 900]))
                .group_by(memos.c.target_id)).all()})
    return out
