"""Errors: one exception hierarchy; every user-facing message is written here."""
from __future__ import annotations

import errno
from pathlib import Path


class NlpError(Exception):
    """Base of every error the toolkit raises on purpose (CLI exit code 1)."""


class InputError(NlpError):
    """A file the user gave us cannot be read as asked.

    The message names the file, the row or line when there is one, the problem, and
    what the user can do about it.
    """

    def __init__(self, path: str | Path, problem: str, *, row: int | None = None,
                 hint: str = "", unit: str = "row") -> None:
        self.path = str(path)
        self.row = row
        self.problem = problem
        self.hint = hint
        where = f"{self.path}" + (f", {unit} {row}" if row is not None else "")
        msg = f"{where}: {problem}"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class CodebookError(NlpError):
    """A codebook file is missing a field, repeats a theme id, or is not YAML."""


class ProjectError(NlpError):
    """No project where one was expected, or a project that cannot be opened."""


class ModelError(NlpError):
    """A saved model is missing, damaged, or was trained for another codebook/embedder."""


class NotReadyError(NlpError):
    """A stage that needs something (a model, an optional package) that is not there."""


# --- messages -----------------------------------------------------------------
# Kept here so they can be grepped, reviewed and tested in one place.

def missing_file(path: str | Path) -> InputError:
    return InputError(path, "no such file.", hint="Check the path and try again.")


def unknown_format(path: str | Path, suffix: str, known: list[str]) -> InputError:
    return InputError(path, f"unknown file format {suffix or '(no extension)'!r}.",
                      hint=f"Supported formats: {', '.join(known)}.")


def empty_file(path: str | Path) -> InputError:
    return InputError(path, "the file is empty.",
                      hint="Export the data again; nothing was imported.")


def binary_junk(path: str | Path, kind: str) -> InputError:
    return InputError(path, f"this does not look like a {kind} file (binary content).",
                      hint="Check that the file is what its extension says.")


def undecodable(path: str | Path, line: int, tried: list[str]) -> InputError:
    return InputError(path, f"the bytes cannot be decoded as any of {', '.join(tried)}.",
                      row=line, unit="line",
                      hint="Save the file as UTF-8 and import it again.")


def no_text_column(path: str | Path, columns: list[str]) -> InputError:
    found = ", ".join(repr(c) for c in columns) or "(none)"
    return InputError(path, f"no text column found; columns are {found}.",
                      hint="Name it with --text-col.")


def missing_column(path: str | Path, option: str, name: str, columns: list[str]) -> InputError:
    found = ", ".join(repr(c) for c in columns) or "(none)"
    return InputError(path, f"{option} {name!r} is not a column; columns are {found}.")


def cell_too_long(path: str | Path, row: int, length: int, limit: int, *,
                  unit: str = "row", column: str | None = None) -> InputError:
    what = f"the value in column {column!r}" if column is not None else "the answer"
    return InputError(path, f"{what} has {length:,} characters, over the limit of {limit:,}.",
                      row=row, unit=unit, hint="Split the answer or check the file for a broken quote mark.")


def value_too_long(path: str | Path, row: int, what: str, length: int, limit: int, *,
                   unit: str = "row") -> InputError:
    return InputError(path, f"the {what} has {length:,} characters, over the limit of {limit}.",
                      row=row, unit=unit,
                      hint="Shorten it, or import without --id-col to number the rows.")


def duplicate_id(path: str | Path, row: int, response_id: str, first: str, *,
                 unit: str = "row") -> InputError:
    return InputError(path, f"duplicate id {response_id!r} (first seen {first}).", row=row,
                      unit=unit,
                      hint="Ids must be unique; fix the id column or import without --id-col.")


def conflicting_id(path: str | Path, row: int, response_id: str, other: str, *,
                   unit: str = "row") -> InputError:
    return InputError(path, f"id {response_id!r} is already in the project with a different "
                      f"text (from {other}).", row=row, unit=unit,
                      hint="If this file numbers its answers on its own, import it with "
                           "--id-prefix (e.g. --id-prefix wave2-); else correct the ids.")


def bad_json_line(path: str | Path, line: int, problem: str) -> InputError:
    return InputError(path, f"not a JSON object: {problem}.", row=line, unit="line",
                      hint="Each line of a JSON Lines file must be one JSON object.")


def unreadable(path: str | Path, kind: str, problem: str) -> InputError:
    return InputError(path, f"cannot read this {kind} file ({problem}).",
                      hint="The file may be damaged or truncated; save it again from the "
                           "program that made it.")


def nothing_found(path: str | Path, what: str) -> InputError:
    return InputError(path, f"no {what} found in the file.")


def codebook_problem(path: str | Path, problem: str) -> CodebookError:
    return CodebookError(f"{path}: {problem}")


def no_project(start: str | Path) -> ProjectError:
    return ProjectError(f"no consultation-nlp project at {start} or any parent folder. "
                        f"Create one with 'nlp init DIR' or pass --project DIR.")


def project_exists(path: str | Path) -> ProjectError:
    return ProjectError(f"{path} already holds a project. Use it with --project {path}.")


def optional_dependency(package: str, extra: str | None = None) -> NotReadyError:
    how = f"pip install 'consultation-nlp[{extra}]'" if extra else f"pip install {package}"
    return NotReadyError(f"this needs the optional package {package!r}: {how}")


# --- embed (appended by the embed stage) ------------------------------------------------------

class EmbedderError(NlpError):
    """An embedder spec names no known backend, or a model that backend cannot run."""


def unknown_embedder(spec: str, backends: list[str]) -> EmbedderError:
    return EmbedderError(f"unknown embedder {spec!r}. Use one of {', '.join(backends)}, "
                         f"'BACKEND:MODEL' (e.g. 'st:sentence-transformers/all-mpnet-base-v2'), "
                         f"or the path of a sentence-transformers model folder.")


def unsupported_model(backend: str, model: str, why: str) -> EmbedderError:
    return EmbedderError(f"the {backend!r} embedder cannot run {model!r}: {why}. "
                         f"Use the 'st' backend for this model.")


def embedder_problem(problem: str) -> EmbedderError:
    return EmbedderError(problem)


class SettingsError(NlpError, ValueError):
    """An option or a stored setting has a value the toolkit cannot use."""


def unknown_pii_label(label: str, known: list[str]) -> SettingsError:
    return SettingsError(f"unknown PII label {label!r}; use one of {', '.join(known)}.")


def unknown_settings(what: str, keys: list[str], known: list[str]) -> SettingsError:
    return SettingsError(f"unknown {what} setting(s) {', '.join(map(repr, keys))}; "
                         f"known settings: {', '.join(known)}.")


def bad_setting(name: str, expected: str) -> SettingsError:
    return SettingsError(f"{name} must be {expected}.")


# --- review app (appended by the app stage) ------------------------------------------------------

def unknown_theme(theme_id: str) -> CodebookError:
    return CodebookError(f"theme {theme_id!r} is not in the project's codebook.")


def theme_id_taken(theme_id: str) -> CodebookError:
    return CodebookError(f"theme id {theme_id!r} is already in the codebook; choose another.")


def merge_needs_two() -> CodebookError:
    return CodebookError("choose at least two themes to merge.")


def split_needs_two() -> CodebookError:
    return CodebookError("a split needs at least two parts with different ids.")


def app_missing(path: str | Path) -> NotReadyError:
    return NotReadyError(f"the review app ({path}) is not part of this install; run it from a "
                         "checkout of consultation-nlp.")


# --- output files (nlp.fsio) --------------------------------------------------------------------

class OutputError(NlpError):
    """The place an output file should go is not one the toolkit may write to."""


def output_is_project_file(path: str | Path) -> OutputError:
    return OutputError(f"{path}: this is one of the project's own files; writing there would "
                       "destroy the project. Choose another file name, e.g. coded.xlsx.")


def output_is_database(path: str | Path) -> OutputError:
    return OutputError(f"{path}: this file is an SQLite database (perhaps a project's); it is "
                       "not overwritten. Choose another file name.")


def output_not_a_file(path: str | Path, what: str) -> OutputError:
    hint = ("give a file name inside it, e.g. " + str(Path(path) / "coded.xlsx")
            if what == "a folder" else "choose a file name")
    return OutputError(f"{path}: this is {what}, not a file to write to; {hint}.")


def output_unusable(path: str | Path, why: str) -> OutputError:
    return OutputError(f"{path}: cannot write the output here ({why}). Choose a file in a "
                       "folder you can write to.")


# --- limits (nlp.limits) ------------------------------------------------------------------------

def over_limit(path: str | Path, what: str, setting: str, *, row: int | None = None,
               unit: str = "row") -> InputError:
    return InputError(path, f"the file {what}, over the limit.", row=row, unit=unit,
                      hint=f"Split the file, or raise the limit with the environment variable "
                           f"{setting} if the file is genuine.")


def archive_too_big(path: str | Path, kind: str, member: str | None, what: str,
                    setting: str) -> InputError:
    part = f"its part {member!r}" if member else "the archive"
    return InputError(path, f"this {kind} file is refused: {part} {what}.",
                      hint=f"Nothing was imported. If the file is genuine, save it again from "
                           f"the program that made it, or raise the limit with the environment "
                           f"variable {setting}.")


def too_many_columns(path: str | Path, n: int, limit: int, row: int, *,
                     unit: str = "row", what: str = "the header has") -> InputError:
    return InputError(path, f"{what} {n:,} columns, over the limit of {limit:,}.",
                      row=row, unit=unit,
                      hint="Check that this row is the header (a row of stray delimiters?); "
                           "if the file is genuine, raise the limit with the environment "
                           "variable NLP_MAX_COLUMNS.")


def encrypted(path: str | Path, kind: str, *, needs: str | None = None) -> InputError:
    hint = ("Open it, save an unprotected copy (without the password), and import that.")
    if needs:
        hint += (f" If it opens without a password, installing the {needs!r} package "
                 f"(pip install {needs}) lets the toolkit read it.")
    return InputError(path, f"this {kind} file is password-protected (encrypted), so its text "
                      "cannot be read.", hint=hint)


def old_office_format(path: str | Path, kind: str, suffix: str) -> InputError:
    return InputError(path, f"this is an old-format (97-2003) file, not a {kind} file.",
                      hint=f"Open it and save it as {suffix}, then import that.")


def no_text(path: str | Path, why: str, hint: str) -> InputError:
    return InputError(path, f"the file has no text to import: {why}.", hint=hint)


def bad_qdpx_value(path: str | Path, source: str, element: str, kind: str, value: str,
                   expected: str) -> InputError:
    return InputError(path, f"source {source[:80]!r}, {element}: the {kind} {value[:40]!r} is "
                      f"not {expected}.",
                      hint="Correct it in the program that made the file and export again; "
                           "nothing was imported.")


def qdpx_text_too_long(path: str | Path, source: str, length: int, limit: int, *,
                       selection: str | None = None) -> InputError:
    what = f"the selection {selection} of source" if selection else "the text of source"
    return InputError(path, f"{what} {source[:80]!r} has {length:,} characters, over the "
                      f"limit of {limit:,} for one answer.",
                      hint="Code shorter selections of it (each selection becomes an answer), "
                           "or split the source, and export again.")


# --- the project's database, its settings file and the disk (issue 25, classes 2 and 8) ---------
# A project whose database is missing, damaged or from a newer toolkit is refused before anything
# is written; a full disk, a read-only folder or a locked database is named as such. Messages
# never carry SQL, parameters or answers' text: only the file and the problem.

class ProjectDatabaseError(ProjectError):
    """The project's database is missing, empty, damaged, another program's, or newer."""


class StorageError(NlpError):
    """The disk refused a write or a read: full, read-only, no permission, failing, locked."""


_RESTORE = ("Restore the project folder from a backup; or, to start again, move the folder "
            "aside and create a new project with 'nlp init DIR'. Nothing was changed.")


def db_missing(path: str | Path, project: str | Path) -> ProjectDatabaseError:
    return ProjectDatabaseError(
        f"the project at {project} has no database: {path} does not exist (deleted or moved?). "
        f"Only 'nlp init' creates a database, so none was made. Put the file back (from a "
        f"backup), or create a new project with 'nlp init DIR'. Nothing was changed.")


def db_empty(path: str | Path) -> ProjectDatabaseError:
    return ProjectDatabaseError(
        f"{path}: the project database is empty (0 bytes, or no tables), so the project's "
        f"data is not there. {_RESTORE}")


def db_damaged(path: str | Path, problem: str) -> ProjectDatabaseError:
    return ProjectDatabaseError(f"{path}: the project database is damaged ({problem}). "
                                f"{_RESTORE}")


def db_foreign(path: str | Path) -> ProjectDatabaseError:
    return ProjectDatabaseError(
        f"{path}: this is an SQLite database, but not a consultation-nlp project's (it has no "
        f"schema revision). Check the project's 'db_url' in project.json, or restore the "
        f"project's own database from a backup. Nothing was changed.")


def db_newer(path: str | Path, revision: str, written_by: str | None, ours: str,
             head: str) -> ProjectDatabaseError:
    who = (f"version {written_by} of consultation-nlp" if written_by
           else "a newer or different version of consultation-nlp (it did not record which)")
    return ProjectDatabaseError(
        f"{path}: the project database has schema revision {revision!r}, written by {who}; "
        f"this is version {ours}, which knows revisions up to {head!r}. Open the project with "
        f"that version, or upgrade (pip install -U consultation-nlp). Nothing was changed.")


def bad_db_url(url: str, why: str) -> SettingsError:
    return SettingsError(f"the database URL {url[:200]!r} cannot be used: {why}. Give an "
                         "SQLAlchemy URL such as sqlite:///team.db (a path relative to the "
                         "project folder) or postgresql+psycopg://user@host/db.")


def project_settings_problem(path: str | Path, problem: str) -> ProjectError:
    return ProjectError(
        f"{path}: the project settings file {problem}. Restore project.json from a backup, or "
        f"correct it in a text editor (a new project's file is "
        f'{{"format": 1, "db_url": null, "model": null, "embedder": null, "coder": null}}). '
        f"Nothing was changed.")


def project_settings_newer(path: str | Path, found: int, known: int) -> ProjectError:
    return ProjectError(f"{path}: project settings format {found} was written by a newer "
                        f"version of consultation-nlp (this one reads format {known}). "
                        "Upgrade (pip install -U consultation-nlp). Nothing was changed.")


def disk_full(where: str | Path) -> StorageError:
    return StorageError(f"{where}: no room to write (the disk or your quota is full, or the "
                        "file would be larger than the system allows). Free some space and "
                        "run the command again; what it was writing was not kept, and the "
                        "project is as it was before.")


def disk_read_only(where: str | Path) -> StorageError:
    return StorageError(f"{where}: the disk or folder is read-only, so nothing can be written "
                        "there. Copy the project (or choose an output) somewhere you can "
                        "write, and run the command again. Nothing was changed.")


def no_permission(where: str | Path) -> StorageError:
    return StorageError(f"{where}: permission denied. Ask the folder's owner for write access, "
                        "or work on a copy you own. Nothing was changed.")


def disk_failing(where: str | Path) -> StorageError:
    return StorageError(f"{where}: the disk reported an input/output error (a full or failing "
                        "disk, a removed drive, or a network share that went away). Check the "
                        "disk and run the command again; the project is as it was before.")


def db_locked(where: str | Path) -> StorageError:
    return StorageError(f"{where}: the project database stayed locked by another program or "
                        "command for too long. Wait for it to finish (or close it) and run "
                        "the command again. Nothing was changed.")


def from_os_error(exc: OSError, where: str | Path | None = None) -> NlpError | None:
    """The toolkit's message for an operating-system error it can name, else None."""
    place = where or exc.filename or "the file being written"
    by_errno = {errno.ENOSPC: disk_full, errno.EDQUOT: disk_full, errno.EFBIG: disk_full,
                errno.EROFS: disk_read_only, errno.EACCES: no_permission,
                errno.EPERM: no_permission, errno.EIO: disk_failing}
    make = by_errno.get(exc.errno or -1)
    return make(place) if make else None


def from_database_error(message: str, where: str | Path) -> NlpError | None:
    """The toolkit's message for an SQLite error (its driver's short text, never the SQL),
    else None (a genuine bug, left to the caller)."""
    m = message.lower()
    if "database or disk is full" in m or "no space" in m:
        return disk_full(where)
    if "disk i/o error" in m:
        return disk_failing(where)
    if "database is locked" in m or "database table is locked" in m:
        return db_locked(where)
    if "readonly database" in m or "read-only" in m:
        return disk_read_only(where)
    if "file is not a database" in m or "malformed" in m or "file is encrypted" in m:
        return db_damaged(where, m.strip().rstrip("."))
    if "unable to open database file" in m:
        return ProjectDatabaseError(f"{where}: the project database cannot be opened (its "
                                    "folder is missing or not readable). Check the path and "
                                    "the folder's permissions. Nothing was changed.")
    return None

# --- output paths and special input files (issue 25, classes 1 and 3; nlp.fsio) -----------------

def _size(n: int) -> str:
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"


def output_is_link(path: str | Path, to: str) -> OutputError:
    return OutputError(f"{path}: this is a symbolic link (to {to}); the toolkit names its own "
                       "files in an output folder and never writes through a link there. "
                       "Remove the link, or choose another folder.")


def output_is_project_folder(path: str | Path) -> OutputError:
    return OutputError(f"{path}: this folder holds a project (project.json); writing the output "
                       "here would replace the project. Choose a new folder, e.g. "
                       "models/my-model.")


def output_folder_not_ours(path: str | Path, what: str, found: list[str]) -> OutputError:
    shown = ", ".join(repr(n) for n in found[:3]) + (", ..." if len(found) > 3 else "")
    return OutputError(f"{path}: this folder is not empty and is not a {what} the toolkit "
                       f"wrote (it holds {shown}); it is never replaced. Choose a new or empty "
                       "folder, or remove what is in it yourself.")


def not_regular_file(path: str | Path, what: str) -> InputError:
    hint = ("Name the files inside it (e.g. folder/*.csv)." if what == "a folder" else
            "The toolkit reads only files saved on disk; save the data to a file and give "
            "its path.")
    return InputError(path, f"is {what}, not a {'file' if what == 'a folder' else 'regular file'}.",
                      hint=hint)


def input_too_big(path: str | Path, size: int, limit: int, setting: str | None,
                  what: str = "input file") -> InputError:
    how = (f"raise the limit with the environment variable {setting} if it is genuine"
           if setting else "check that this is the right file")
    return InputError(path, f"the file is {_size(size)}, over the limit of {_size(limit)} for "
                      f"one {what}.", hint=f"Nothing was read; {how}.")


def unreadable_input(path: str | Path, why: str) -> InputError:
    return InputError(path, f"cannot be read ({why}).",
                      hint="Check the path and the file's permissions.")


# --- messages once written where they were raised (issue 26) ------------------------------------
# Command line
CODE_FILE_MODE_OPTIONS = ("--codebook and --examples are for file mode; a project codes with its "
                          "own codebook and its researchers' decisions")
CODE_FILE_MODE_NEEDS_OUT = "file mode needs --out OUT.jsonl"


def unknown_evaluation(which: str, known: list[str]) -> NlpError:
    return NlpError(f"unknown evaluation {which!r}; choose one of {', '.join(known)}.")


def evaluation_missing(script: str | Path) -> NlpError:
    return NlpError(f"{script} is missing: the evaluation harness ships with the source "
                    "checkout, not the installed package.")


def no_response(response_id: str) -> NlpError:
    return NlpError(f"no response {response_id!r} in the project; 'nlp list' shows the ids.")


def no_corpus(name: str, available: list[str]) -> NlpError:
    return NlpError(f"no bundled corpus {name!r}; available: {', '.join(available) or '(none)'}.")


# Coding and models
def unknown_classifier(backend: str, known: list[str]) -> ModelError:
    return ModelError(f"unknown classifier backend {backend!r}; use one of {', '.join(known)}.")


def unknown_device(device: str) -> NlpError:
    return NlpError(f"unknown device {device!r}; use auto, cpu or cuda.")


def no_cuda(device: str) -> NlpError:
    return NlpError(f"--device {device}: torch sees no CUDA GPU here (a CPU build of torch, or "
                    "no driver); use --device cpu or auto.")


def bad_themes_cell(path: str | Path, row: int | None) -> InputError:
    return InputError(path, "'themes' is neither a list nor ids separated by ';'.", row=row)


def example_theme_not_in_codebook(path: str | Path, row: int | None, theme: str, codebook: str,
                                  known: list[str]) -> InputError:
    return InputError(path, f"theme {theme!r} is not in the codebook {codebook!r} (its ids: "
                            f"{', '.join(sorted(known))}).", row=row)


def no_model(path: str | Path) -> ModelError:
    return ModelError(f"{path}: no theme model here (config.json missing). Train one with "
                      "'nlp train' or pass --model DIR.")


def model_format_unsupported(path: str | Path, found: object, ours: int) -> ModelError:
    return ModelError(f"{path}: model format {found} is not supported by this toolkit (format "
                      f"{ours}). Train it again with this version ('nlp train --corpus NAME "
                      "--out DIR'), or code from definitions alone with --model none.")


def model_codebook_mismatch(path: str | Path, trained: str, trained_version: object,
                            using: str, using_version: object) -> ModelError:
    return ModelError(
        f"{path}: this model was trained on codebook {trained!r} version {trained_version}, "
        f"but you are coding with {using!r} version {using_version} (different themes or "
        "definitions). Retrain it on your codebook ('nlp train') or code from definitions "
        "alone with --model none.")


def model_embedder_mismatch(path: str | Path, trained: str, using: str) -> ModelError:
    return ModelError(f"{path}: this model was trained on embeddings from {trained!r}, not "
                      f"{using!r}; vectors from another model mean nothing to it. Use the same "
                      "embedder or retrain.")


def model_part_damaged(path: str | Path, how: str, detail: object) -> ModelError:
    """`how`: "damaged", "missing or damaged", "damaged or incomplete"."""
    return ModelError(f"{path}: {how} ({detail}).")


def model_part_mismatch(path: str | Path, what: str) -> ModelError:
    return ModelError(f"{path}: does not match {what}.")


def model_damaged(path: str | Path, problem: str) -> ModelError:
    return ModelError(f"{path}: {problem.rstrip('.')}; the model is damaged or incomplete. "
                      "Train it again ('nlp train') or pass another --model DIR.")


def model_damaged_detail(path: str | Path, problem: str, hint: str) -> ModelError:
    return ModelError(f"{path}: damaged or incomplete: {problem} {hint}")


def model_text_too_big(path: str | Path, size: int, cap: int, setting: str) -> ModelError:
    return ModelError(f"{path}: {size:,} bytes, over the {cap:,}-character limit on text from "
                      f"one file ({setting}).")


# Embedding
def cannot_embed_in_context(model_id: str) -> EmbedderError:
    return EmbedderError(f"{model_id} cannot embed segments in context")


def no_dask_scheduler(address: str, problem: object) -> NlpError:
    return NlpError(f"cannot reach the Dask scheduler at {address} ({problem}). Start one with "
                    "`dask scheduler` and workers with `dask worker tcp://HOST:8786`.")


def embedder_wrong_count() -> NlpError:
    return NlpError("an embedder returned the wrong number of vectors")


# Reading files
def wrong_kind(path: str | Path, what: str) -> InputError:
    return InputError(path, f"this file {what}; use --kind transcript or report.")


def not_a_word_file(path: str | Path, main: str, found: object) -> InputError:
    return InputError(path, f"this is not a Word file: its main part {main!r} holds a {found} "
                            "(another kind of Office file?).",
                      hint="Check that the file is what its extension says.")


def unclosed_quote(path: str | Path, row: int) -> InputError:
    return InputError(path, "a quoted field starting here is never closed, so it swallows the "
                            "rest of the file.", row=row,
                      hint="Check for an unclosed quote mark (\") in this row.")


def csv_unparsable(path: str | Path, row: int, problem: object) -> InputError:
    return InputError(path, f"the CSV cannot be parsed here ({problem}).", row=row,
                      hint="Check for an unclosed quote mark.")


def ragged_row(path: str | Path, row: int, fields: int, width: int) -> InputError:
    return InputError(path, f"the row has {fields} fields but the header has {width}.", row=row,
                      hint="A comma inside an answer needs the answer in double quotes.")


def no_sheet(path: str | Path, sheet: str, names: list[str]) -> InputError:
    return InputError(path, f"no sheet {sheet!r}; sheets are {', '.join(map(repr, names))}.")


def keep_file_unreadable(path: str | Path, problem: str, hint: str) -> SettingsError:
    return SettingsError(f"anonymise.keep_file: cannot read {path}: {problem} {hint}")


def keep_file_not_utf8(path: str | Path, byte: int) -> SettingsError:
    return SettingsError(f"anonymise.keep_file: {path} is not UTF-8 text (byte {byte}); save "
                         "it as UTF-8.")


# Exports, reports, topics
def unknown_export_format(format: str, known: list[str]) -> NlpError:
    return NlpError(f"unknown export format {format!r}; use one of {', '.join(known)}.")


def unknown_export_option(format: str, option: str, known: list[str]) -> NlpError:
    takes = f"it takes {', '.join(known)}" if known else "it takes no options"
    return NlpError(f"export format {format!r} has no option {option!r}; {takes}.")


def unknown_layout(layout: str) -> NlpError:
    return NlpError(f"unknown layout {layout!r}; use wide or long.")


def unknown_suggestions(value: str, known: list[str]) -> NlpError:
    return NlpError(f"unknown suggestions option {value!r}; use one of {', '.join(known)}.")


def unknown_line_breaks(value: str) -> NlpError:
    return NlpError(f"unknown line_breaks option {value!r}; use keep or space.")


def unknown_report_format(bad: list[str], known: list[str]) -> NlpError:
    return NlpError(f"unknown report format {', '.join(bad) or '(none)'}; use "
                    f"{', '.join(known)}.")


def no_group_column(column: str, columns: list[str]) -> NlpError:
    return NlpError(f"no column {column!r} to group by; the responses have "
                    f"{', '.join(columns) or 'no extra columns'} (and respondent_id, question, "
                    "source).")


def no_topics() -> ProjectError:
    return ProjectError("no topics yet: run 'nlp topics' first.")


def no_topic(topic_id: object, known: list[str]) -> NlpError:
    return NlpError(f"no topic {topic_id}; topics are {', '.join(known)}.")


def too_few_for_topics(needed: int, found: int) -> NlpError:
    return NlpError(f"topic modelling needs at least {needed} answers; this corpus has {found} "
                    "(non-answers and empty answers do not count).")


def png_failed(name: str, problem: object) -> NotReadyError:
    return NotReadyError(f"could not write {name} ({problem}). PNG export needs kaleido and a "
                         "Chrome or Chromium it can start (set BROWSER_PATH); the HTML figures "
                         "were written.")

# --- the project store (nlp.store): requests it refuses (issue 26) --------------------------------

class StoreRequestError(NlpError, ValueError):
    """A request the project's store refuses (a coder name, a status, a span, a memo, a filter):
    nothing is written. Also a ValueError, as the store raised before it had its own class."""


def coder_needed(model: str) -> StoreRequestError:
    return StoreRequestError(f"a coder name is needed (not empty, not {model!r}): type your "
                             "name in the coder box first.")


def theme_not_in_codebook(theme_id: str) -> StoreRequestError:
    return StoreRequestError(f"theme {theme_id!r} is not in the project's codebook; pick one "
                             "of its themes, or add it with 'nlp codebook set FILE'.")


def bad_status(status: object) -> StoreRequestError:
    return StoreRequestError(f"status must be accepted, rejected or suggested, not {status!r}.")


def bad_origin(origin: object) -> StoreRequestError:
    return StoreRequestError(f"origin must be model or researcher, not {origin!r}.")


def span_not_two_numbers(where: str, span: object) -> StoreRequestError:
    return StoreRequestError(f"{where}a span is two whole numbers (start, end), not {span!r}.")


def span_out_of_range(where: str, span: tuple[int, int], length: int | None) -> StoreRequestError:
    limit = f" <= {length} (the answer's length)" if length is not None else ""
    return StoreRequestError(f"{where}span {span!r} is not 0 <= start < end{limit}; mark "
                             "characters inside the answer.")


def spans_need_one_answer() -> StoreRequestError:
    return StoreRequestError("spans belong to one answer: decide the spans of each answer on "
                             "its own (record_decisions), not on a selection.")


def relabel_same_theme(theme_id: str) -> StoreRequestError:
    return StoreRequestError(f"relabel needs two different themes, not {theme_id!r} twice; "
                             "pick another theme to move the answer to.")


def bad_memo_target(target: object) -> StoreRequestError:
    return StoreRequestError(f"a memo is on an answer, a theme or the project, not {target!r}.")


def memo_author_needed(model: str) -> StoreRequestError:
    return StoreRequestError(f"a memo needs its author's name (not empty, not {model!r}): type "
                             "your name in the coder box first.")


def memo_empty() -> StoreRequestError:
    return StoreRequestError("a memo needs some text; write the note, then save it.")


def memo_too_long(length: int, limit: int) -> StoreRequestError:
    return StoreRequestError(f"a memo is at most {limit:,} characters, not {length:,}; shorten "
                             "it or split it into several memos.")


def memo_unknown_answer(response_id: str) -> StoreRequestError:
    return StoreRequestError(f"no answer {response_id!r} in the project; check the answer's id.")


def unknown_status_filter(status: object, known: list[str]) -> StoreRequestError:
    return StoreRequestError(f"unknown status filter {status!r}; use one of {', '.join(known)}.")


def blind_needs_coder() -> StoreRequestError:
    return StoreRequestError("blind mode needs the coder's name; type your name in the coder "
                             "box first.")


def bad_group(by: str) -> StoreRequestError:
    return StoreRequestError(f"cannot group by {by!r}; use source, question, respondent_id or "
                             "meta:KEY.")


def codebook_version_taken(name: str, version: object) -> CodebookError:
    return CodebookError(f"codebook {name!r} version {version} is already in the project with "
                         "different themes; give the changed codebook a new version number.")


def project_has_no_codebook() -> ProjectError:
    return ProjectError("the project has no codebook; add one with 'nlp codebook set FILE'.")


def out_of_memory() -> NlpError:
    return NlpError("the command ran out of memory; nothing was stored. Close other programs "
                    "or run it on a machine with more memory; for a large input, import or "
                    "code it in parts, and for a large --examples file lower NLP_MAX_EXAMPLES.")


# -- store lookups (session 31) -----------------------------------------------------------------
class NotInProjectError(StoreRequestError, KeyError):
    """An id the project does not hold (an answer, a codebook version). One of the toolkit's
    errors (callers catch NlpError) and still a KeyError, as store lookups raised before."""

    def __str__(self) -> str:  # the message, not KeyError's quoted repr of it
        return Exception.__str__(self)


def answer_not_in_project(response_id: str) -> NotInProjectError:
    return NotInProjectError(f"no response {response_id!r} in the project; 'nlp list' shows "
                             "the ids.")


def codebook_version_not_in_project(codebook_id: int) -> NotInProjectError:
    return NotInProjectError(f"no codebook version #{codebook_id} in the project; the codebook "
                             "page lists the versions.")
