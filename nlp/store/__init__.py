"""Store: the only package that talks to the project database (SQLAlchemy, Alembic). No module
outside nlp/store/ builds or runs SQL (`tests/unit/test_layout.py` checks it); every other
package asks the store through this API.

Every public function is one transaction and one user action (reads it needs happen inside the
write transaction); a refused request raises an `nlp.errors.NlpError` (`StoreRequestError` for
a bad coder name, status, span, memo or filter; the database's own faults as
`StorageError`/`ProjectDatabaseError`) and leaves the project unchanged. Functions ending in
`_in` take the caller's write transaction (`with store.write() as conn:`), for an import that
must land whole.

- `core.Store`: open, migrate, read/write transactions; settings and the anonymiser's
  `placeholder_numbering`; sources and responses (`add_source`, `add_responses`,
  `source_by_hash`, `stored_answers`, `corpus`); codebooks (`add_codebook`, `add_codebook_in`:
  the one codebook insert, `active_codebook`); the model's `write_model_codings`; `codings`,
  `events`, `replay_events`, `predictions`, `dump` (the model's writes: model_codings).
- `changes`: `write_codings`, the ONE writer of codings (model suggestions, researchers'
  decisions, undo, .qdpx imports and codebook restructuring all go through it, and it logs
  each change in the event log); `now`, the store's one clock; span helpers.
- `decisions`: a researcher's click, relabel, span coding, bulk decision, and `undo_last`.
- `review`, `review_order`, `context`: the review app's queue, filters, card and context.
- `review_themes`: theme counts and crosstabs; codebook edits that carry codings along
  (save a version, rename, merge, split).
- `memos`: researchers' notes (`add_memo`, `add_memos_in`, `list_memos`, ...).
- `anonymised`: each answer's anonymisation (and other texts'), stored once per anonymisation
  fingerprint (`stored_anonymised`, `save_anonymised`, `anonymised_answers`, `count_anonymised`).
The one rule from every coder's codings to one status per answer and theme is not SQL and
lives beside the types, in `nlp.resolve` (the exports, the report and training use it too).
"""
from .core import Store, StoredAnswer
from .schema import metadata

__all__ = ["Store", "StoredAnswer", "metadata"]
