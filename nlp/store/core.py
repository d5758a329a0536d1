"""Store: the only module that talks to the project database (SQLAlchemy, Alembic migrations)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
import sqlalchemy.pool
from sqlalchemy import event

from .. import errors
from . import health, model_codings
from .changes import CHUNK, now, row_spans
from .changes import coding_state as _state
from .schema import (codebooks, codings, events, metadata, predictions, responses, settings,
                     sources, themes)
from ..codebook import dumps_codebook, loads_codebook
from ..text.clean import clean_codebook
from ..types import MODEL_CODER, Codebook, Coding, Corpus, Response

log = logging.getLogger(__name__)

__all__ = ["Store", "StoredAnswer", "metadata"]

# The setting that keeps the anonymiser's shared placeholder numbering (placeholder_numbering).
PLACEHOLDER_NUMBERING_KEY = "anonymise.placeholders"


def inserted_id(res: sa.CursorResult[Any]) -> int:
    """The id of the row a one-row INSERT added (SQLAlchemy types the key Optional: a bulk
    insert has none)."""
    key = res.inserted_primary_key
    if key is None:
        raise TypeError("no primary key: not a one-row INSERT")
    return int(key[0])


@dataclass(frozen=True)
class StoredAnswer:
    """What the project stores under a response id: its text's hash and where it came from."""

    text_hash: str
    source: str  # file name ("" when entered directly)
    path: str | None  # resolved path the file was imported from


def _numbering(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(label): {str(k): int(n) for k, n in table.items()}
            for label, table in raw.items() if isinstance(table, Mapping)}


PG_WRITE_LOCK = 7_262_011  # advisory lock key (any constant; per database)


def _make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        # An in-memory database lives in one connection: share it (tests, scratch work).
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                                  **({"poolclass": sa.pool.StaticPool} if memory else {}))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial wiring
            # Let us issue BEGIN ourselves (pysqlite's own handling defers it badly).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover - trivial wiring
            # Writers take the write lock up front, so two writers queue instead of
            # deadlocking on a read-to-write upgrade (SQLITE_BUSY mid-transaction).
            immediate = conn.get_execution_options().get("nlp_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "begin")
        def _on_begin_pg(conn):  # pragma: no cover - trivial wiring
            # Writers queue on one transaction-scoped lock, as BEGIN IMMEDIATE makes them on
            # SQLite. Under READ COMMITTED two reviewers' clicks on the same answer would
            # otherwise both read "no coding yet" and the second insert would fail, or both
            # update and log the same `before` (a relabel missing from the replay).
            if conn.get_execution_options().get("nlp_write", False):
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")
    return engine


class Store:
    """A project's database. SQLite file by default, any SQLAlchemy URL (PostgreSQL) for teams.

    Every write method runs in one transaction: it lands whole or not at all.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._write_engine = self.engine.execution_options(nlp_write=True)
        self.where = health.describe(url)

    @classmethod
    def open_existing(cls, url: str, *, project: str | Path = ".") -> "Store":
        """Open a database `nlp init` made, migrating an older schema; never create one.

        Raises:
            ProjectDatabaseError: missing, empty, damaged, another program's, or newer.
            StorageError: it cannot be read or (to migrate) written.
        """
        path = health.sqlite_file(url)
        revision = health.check_sqlite(path, Path(project)) if path else None
        store = cls(url)
        try:
            if path is None:
                with store._named_errors():
                    revision = health.check_server(store.engine, store.where)
            if revision != health.known_revisions()[1]:
                store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    # -- connection and schema --------------------------------------------------------
    @contextmanager
    def _named_errors(self) -> Iterator[None]:
        """A full disk, a locked or damaged database: the toolkit's message, no SQL."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            named = errors.from_database_error(str(exc.orig), self.where)
            if named is None:
                raise
            raise named from None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite); commits on success."""
        with self._named_errors(), self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self._named_errors(), self.engine.connect() as conn:
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (creates it in a new database),
        and record which toolkit version did (named if an older toolkit meets it)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(resources.files("nlp.store") / "migrations"))
        with self._named_errors(), self.engine.begin() as conn:
            before = self._revision_in(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if before != self._revision_in(conn):
                conn.execute(sa.delete(settings).where(settings.c.key == health.VERSION_KEY))
                conn.execute(sa.insert(settings).values(key=health.VERSION_KEY,
                                                        value=health.toolkit_version()))

    @staticmethod
    def _revision_in(conn: sa.Connection) -> str | None:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            try:
                return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            except sa.exc.OperationalError:
                return None

    def close(self) -> None:
        self.engine.dispose()

    # -- settings ------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.read() as conn:
            row = conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).first()
        return default if row is None else row[0]

    def set_setting(self, key: str, value: Any) -> None:
        with self.write() as conn:
            conn.execute(sa.delete(settings).where(settings.c.key == key))
            conn.execute(sa.insert(settings).values(key=key, value=value))

    def placeholder_numbering(self) -> dict[str, dict[str, int]]:
        """The anonymiser's shared numbering, {label: {entity: number}} ({} when none)."""
        return _numbering(self.get_setting(PLACEHOLDER_NUMBERING_KEY))

    def save_placeholder_numbering(self, numbering: Mapping[str, Mapping[str, int]]
                                   ) -> dict[str, dict[str, int]]:
        """Merge `numbering` into the stored one in one write transaction (the first number
        given to a name wins, so two exports at once keep one numbering); returns it."""
        with self.write() as conn:
            saved = _numbering(conn.execute(sa.select(settings.c.value).where(
                settings.c.key == PLACEHOLDER_NUMBERING_KEY)).scalar())
            merged = {label: dict(table) for label, table in saved.items()}
            for label, table in numbering.items():
                for key, n in table.items():
                    merged.setdefault(str(label), {}).setdefault(str(key), int(n))
            if merged != saved:
                conn.execute(sa.delete(settings).where(
                    settings.c.key == PLACEHOLDER_NUMBERING_KEY))
                conn.execute(sa.insert(settings).values(key=PLACEHOLDER_NUMBERING_KEY,
                                                        value=merged))
        return merged

    # -- sources and responses -------------------------------------------------------------
    def source_by_hash(self, content_hash: str,
                       conn: sa.Connection | None = None) -> dict[str, Any] | None:
        """The source imported from a file with these bytes (None: not imported yet). Pass
        the import's write transaction as `conn`, so two imports of one file add it once."""
        q = sa.select(sources).where(sources.c.content_hash == content_hash)
        if conn is not None:
            row = conn.execute(q).mappings().first()
        else:
            with self.read() as c:
                row = c.execute(q).mappings().first()
        return dict(row) if row else None

    def stored_answers(self, response_ids: Sequence[str],
                       conn: sa.Connection | None = None) -> dict[str, StoredAnswer]:
        """{response_id: what is stored under it} for those of the ids already stored (read
        in `conn`, the caller's transaction, when given)."""
        out: dict[str, StoredAnswer] = {}
        ids = list(response_ids)

        def run(c: sa.Connection) -> None:
            for i in range(0, len(ids), CHUNK):
                q = (sa.select(responses.c.response_id, responses.c.text_hash, sources.c.name,
                               sources.c.path)
                     .select_from(responses.outerjoin(sources))
                     .where(responses.c.response_id.in_(ids[i:i + CHUNK])))
                for rid, h, name, path in c.execute(q):
                    out[rid] = StoredAnswer(h, name or "", path)

        if conn is not None:
            run(conn)
        else:
            with self.read() as c:
                run(c)
        return out

    def add_source(self, conn: sa.Connection, *, name: str, path: str, format: str,
                   content_hash: str, encoding: str | None, options: Mapping[str, Any],
                   rows_read: int) -> int:
        return inserted_id(conn.execute(sa.insert(sources).values(
            name=name, path=path, format=format, content_hash=content_hash, encoding=encoding,
            options=dict(options), rows_read=rows_read, imported_at=now())))

    def add_responses(self, conn: sa.Connection, rows: Iterable[Response],
                      source_id: int | None) -> int:
        """Insert responses inside the caller's transaction; returns how many."""
        batch: list[dict[str, Any]] = []
        n = 0
        for r in rows:
            batch.append({"response_id": r.response_id, "source_id": source_id, "text": r.text,
                          "text_hash": r.text_hash, "location": r.location,
                          "respondent_id": r.respondent_id, "question": r.question,
                          "meta": dict(r.metadata), "flag": r.flag})
            if len(batch) >= 5000:
                conn.execute(sa.insert(responses), batch)
                n += len(batch)
                batch = []
        if batch:
            conn.execute(sa.insert(responses), batch)
            n += len(batch)
        return n

    def count_responses(self, *, flagged: bool | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(responses)
        if flagged is True:
            q = q.where(responses.c.flag.is_not(None))
        elif flagged is False:
            q = q.where(responses.c.flag.is_(None))
        with self.read() as conn:
            return int(conn.execute(q).scalar_one())

    def list_sources(self) -> list[dict[str, Any]]:
        q = (sa.select(sources, sa.func.count(responses.c.id).label("responses"))
             .select_from(sources.outerjoin(responses)).group_by(sources.c.id)
             .order_by(sources.c.id))
        with self.read() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def corpus(self, *, answers_only: bool = False, ids: Sequence[str] | None = None,
               limit: int | None = None, offset: int = 0) -> Corpus:
        """Responses as a Corpus, in import order."""
        q = (sa.select(responses, sources.c.name.label("source_name"))
             .select_from(responses.outerjoin(sources)).order_by(responses.c.id))
        if answers_only:
            q = q.where(responses.c.flag.is_(None))
        if ids is not None:
            q = q.where(responses.c.response_id.in_(list(ids)))
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        return Corpus(tuple(Response(
            response_id=r["response_id"], text=r["text"], source=r["source_name"] or "",
            location=r["location"], respondent_id=r["respondent_id"], question=r["question"],
            metadata=r["meta"] or {}, flag=r["flag"]) for r in rows))

    def response(self, response_id: str) -> Response:
        c = self.corpus(ids=[response_id])
        if not len(c):
            raise errors.answer_not_in_project(response_id)
        return c[0]

    # -- codebooks ---------------------------------------------------------------------------
    def add_codebook(self, codebook: Codebook, *, activate: bool = True) -> int:
        """Store a codebook version (idempotent by name+version+content); returns its row id.

        Raises:
            CodebookError: the same name and version is stored with different content.
        """
        with self.write() as conn:
            return self.add_codebook_in(conn, codebook, activate=activate)

    def add_codebook_in(self, conn: sa.Connection, codebook: Codebook, *,
                        activate: bool = True) -> int:
        """`add_codebook` inside the caller's write transaction (an import that adds themes
        and codings lands whole or not at all). Its texts are stored cleaned (`clean_codebook`)."""
        codebook = clean_codebook(codebook)
        row = conn.execute(sa.select(codebooks).where(
            codebooks.c.name == codebook.name,
            codebooks.c.version == str(codebook.version))).mappings().first()
        if row is not None:
            if row["content_hash"] != codebook.content_hash:
                raise errors.codebook_version_taken(codebook.name, codebook.version)
            cb_id = int(row["id"])
        else:
            cb_id = inserted_id(conn.execute(sa.insert(codebooks).values(
                name=codebook.name, version=str(codebook.version),
                content_hash=codebook.content_hash, yaml=dumps_codebook(codebook),
                active=False, created_at=now())))
            conn.execute(sa.insert(themes), [{
                "codebook_id": cb_id, "position": i, "theme_id": t.theme_id,
                "label": t.label, "definition": t.definition, "include": list(t.include),
                "exclude": list(t.exclude)} for i, t in enumerate(codebook.themes)])
        if activate:
            conn.execute(sa.update(codebooks).values(active=False))
            conn.execute(sa.update(codebooks).where(codebooks.c.id == cb_id)
                         .values(active=True))
        return cb_id

    def active_codebook(self, conn: sa.Connection | None = None) -> Codebook:
        """The codebook the project codes with now (read in `conn`, the caller's transaction,
        when given).

        Raises:
            ProjectError: the project has no codebook.
        """
        q = sa.select(codebooks.c.yaml).where(codebooks.c.active.is_(True))
        if conn is not None:
            y = conn.execute(q).scalar()
        else:
            with self.read() as c:
                y = c.execute(q).scalar()
        if y is None:
            raise errors.project_has_no_codebook()
        return clean_codebook(loads_codebook(y, source="project codebook"))

    def codebook_versions(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(codebooks.c.id, codebooks.c.name, codebooks.c.version,
                          codebooks.c.active, codebooks.c.created_at)
                .order_by(codebooks.c.id)).mappings()]

    # -- codings and the event log -------------------------------------------------------------
    def write_model_codings(self, scores: Mapping[str, Mapping[str, float]],
                            thresholds: Mapping[str, float], *, model_id: str,
                            uncertainty: Mapping[str, float] | None = None,
                            suggested: Mapping[str, Collection[str]] | None = None,
                            evidence: Mapping[tuple[str, str], tuple[int, int]] | None = None
                            ) -> int:
        """Store the model's scores and its suggested codings for many responses, in one
        transaction. Researchers' own codings are never touched. Returns codings written.

        Args:
            scores: {response id: {theme id: probability}}.
            thresholds: {theme id: cut}; a theme is suggested when its probability reaches it
                (used when `suggested` is None).
            suggested: {response id: theme ids the model suggests}, the model's own decisions.
            evidence: {(response id, theme id): (start, end)} characters of the sentence that
                carries the theme, stored with the suggestion.

        Every score is also a row of theme_scores (the confidence-band filter's index).
        """
        with self.write() as conn:
            return model_codings.write(conn, scores, thresholds, model_id=model_id,
                                       uncertainty=uncertainty, suggested=suggested,
                                       evidence=evidence)

    def codings(self, *, response_id: str | None = None, coder: str | None = None,
                theme_id: str | None = None, status: str | None = None) -> list[Coding]:
        q = sa.select(codings).order_by(codings.c.id)
        for col, val in (("response_id", response_id), ("coder", coder),
                         ("theme_id", theme_id), ("status", status)):
            if val is not None:
                q = q.where(codings.c[col] == val)
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        return [Coding(response_id=r["response_id"], theme_id=r["theme_id"], coder=r["coder"],
                       origin=r["origin"], status=r["status"], confidence=r["confidence"],
                       created_at=r["updated_at"],
                       span=(r["span_start"], r["span_end"]) if r["span_start"] is not None
                       else None, spans=row_spans(r)) for r in rows]

    def events(self, *, actor: str | None = None, since_id: int = 0) -> list[dict[str, Any]]:
        q = sa.select(events).where(events.c.id > since_id).order_by(events.c.id)
        if actor is not None:
            q = q.where(events.c.actor == actor)
        with self.read() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def replay_events(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The coding state rebuilt from the event log alone (for audits and tests)."""
        state: dict[tuple[str, str, str], dict[str, Any]] = {}
        for ev in self.events():
            key = (ev["response_id"], ev["theme_id"], ev["coder"])
            if ev["after"] is None:
                state.pop(key, None)
            else:
                state[key] = dict(ev["after"])
        return state

    def current_state(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        with self.read() as conn:
            return {(r["response_id"], r["theme_id"], r["coder"]): _state(r)
                    for r in conn.execute(sa.select(codings)).mappings()}

    def predictions(self, ids: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
        q = sa.select(predictions.c.response_id, predictions.c.scores)
        if ids is not None:
            q = q.where(predictions.c.response_id.in_(list(ids)))
        with self.read() as conn:
            return {rid: s for rid, s in conn.execute(q)}

    def dump(self) -> dict[str, list[tuple]]:
        """Every table's rows, sorted: compare two dumps to prove nothing changed."""
        out = {}
        with self.read() as conn:
            for name, table in metadata.tables.items():
                rows = conn.execute(sa.select(table)).all()
                out[name] = sorted((tuple(str(v) for v in r) for r in rows))
        return out
