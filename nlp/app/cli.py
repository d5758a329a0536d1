"""CLI: the `nlp` command; each command parses, calls one library function, prints."""
from __future__ import annotations

import functools
import logging
import os
import runpy
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from .. import errors
from ..corpora import DEFAULT_CORPUS
from ..text.clean import clean_text

# Nothing at run time may reach a model hub: the default models ship inside packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

app = typer.Typer(help="consultation-nlp: turn free-text consultation responses into coded, "
                       "quotable evidence.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
# Markup off: ids, file names, sheet and codebook names are user text, and "[/x]" or "[bold]"
# in them must print as written (and never crash a command that has already committed).
class _CleanConsole(Console):
    """A console that never prints a control character it was given: stored names, answers,
    file names and messages are cleaned as import cleans text (an ESC sequence that would set
    the window title, a BEL, a lone CR that overwrites the line), whatever wrote them (an
    older version, a file name). Rich's own colours and cursor moves are left as they are."""

    def _render_buffer(self, buffer):
        return super()._render_buffer(
            seg if seg.control else Segment(clean_text(seg.text), seg.style, seg.control)
            for seg in buffer)


class _CleanFormatter(logging.Formatter):
    """Log lines cleaned like console output (a logged file name may hold an ESC sequence)."""

    def format(self, record: logging.LogRecord) -> str:
        return clean_text(super().format(record))


out = _CleanConsole(highlight=False, markup=False, emoji=False)
err = _CleanConsole(stderr=True, highlight=False, markup=False, emoji=False)
_state: dict[str, Any] = {"project": None, "debug": False}


def _print_error(message: str) -> None:
    """'error: MESSAGE' on stderr; the message is plain text, whatever brackets it holds."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def handles_errors(fn: Callable) -> Callable:
    """Turn the toolkit's errors into one clear paragraph on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except errors.NlpError as exc:
            if _state["debug"]:
                raise
            _print_error(str(exc))
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
            if _state["debug"]:
                raise
            named = _named(exc)
            _print_error(str(named) if named else _unexpected(exc))
            raise typer.Exit(1) from None

    return wrapper


def _named(exc: BaseException) -> errors.NlpError | None:
    """A full disk, a read-only folder, a damaged or locked database met outside the store's
    own checks: the toolkit's message for it."""
    if isinstance(exc, MemoryError):
        return errors.out_of_memory()
    if isinstance(exc, OSError):
        return errors.from_os_error(exc)
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError: the driver's own error
    if orig is not None and type(exc).__module__.startswith("sqlalchemy"):
        return errors.from_database_error(str(orig), "the project database")
    return None


def _unexpected(exc: BaseException) -> str:
    """A bug's one line: its type and, for a database error, the driver's short text only
    (SQLAlchemy's own text carries the SQL and its parameters: answers' text)."""
    orig = getattr(exc, "orig", None)
    text = (f"{type(orig).__name__}: {str(orig)[:200]}" if orig is not None
            else f"{type(exc).__name__}: {str(exc)[:500]}")
    return f"unexpected {text}. Run again with --debug for the traceback."


@app.callback()
def main_options(
    project: Optional[Path] = typer.Option(None, "--project", "-p",
                                           help="Project folder (default: the current folder "
                                                "or its nearest parent holding a project)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    """Global options."""
    _state["project"] = project
    _state["debug"] = debug
    handler = logging.StreamHandler()
    handler.setFormatter(_CleanFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def _project():
    from ..project import open_project

    return open_project(_state["project"])


# Options that export and report share.
NO_ANONYMISE = typer.Option(False, "--no-anonymise",
                            help="Keep names, places and contacts (ask first).")
STRICT_ANONYMISE = typer.Option(False, "--strict-anonymise",
                                help="Replace public bodies, programmes and sector bodies too.")


@app.command()
@handles_errors
def init(
    directory: Path = typer.Argument(..., help="Folder for the new project."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML (default: bundled)."),
    db: Optional[str] = typer.Option(None, help="SQLAlchemy URL of a team database, e.g. "
                                                "postgresql+psycopg://user@host/db."),
) -> None:
    """Create a new project (SQLite project.db unless --db is given)."""
    from ..project import init_project

    p = init_project(directory, codebook=codebook, db_url=db)
    cb = p.store.active_codebook()
    out.print(f"created project in {p.root} (codebook {cb.name} v{cb.version}, "
              f"{len(cb.themes)} themes)")


@app.command("import")
@handles_errors
def import_(
    files: List[Path] = typer.Argument(..., help="CSV, XLSX, JSONL, TXT, MD, DOCX or PDF files."),
    text_col: Optional[str] = typer.Option(None, help="Column holding the answer text."),
    id_col: Optional[str] = typer.Option(None, help="Column holding a unique response id."),
    respondent_col: Optional[str] = typer.Option(None, help="Column holding the respondent id."),
    question_col: Optional[str] = typer.Option(None, help="Column holding the question."),
    sheet: Optional[str] = typer.Option(None, help="Excel sheet to read (default: first)."),
    kind: Optional[str] = typer.Option(None, help="For text/Word/PDF: 'transcript' or 'report' "
                                                  "(detected when not given)."),
    id_prefix: Optional[str] = typer.Option(None, help="Prefix for the ids of these files "
                                            "(e.g. wave2-): ids need only be unique within a "
                                            "file; this keeps them apart from another file's."),
) -> None:
    """Import files into the project: all of them, or (on any error) none."""
    from ..ingest import ImportOptions
    from ..pipeline import import_files

    opts = ImportOptions(text_col=text_col, id_col=id_col, respondent_col=respondent_col,
                         question_col=question_col, sheet=sheet, kind=kind, id_prefix=id_prefix)
    project = _project()
    table = Table("file", "rows read", "imported", "flagged", "skipped (already present)")
    notes = []
    for s in import_files(project.store, files, opts):
        table.add_row(Path(s.path).name, str(s.rows_read), str(s.imported), str(s.flagged),
                      str(s.skipped_present))
        notes += [f"{Path(s.path).name}: {n}" for n in s.notes]
    out.print(table)
    for n in notes:  # file names are user text: printed whole, never folded mid-word
        out.print(f"  {n}", soft_wrap=True)


@app.command("list")
@handles_errors
def list_(
    limit: int = typer.Option(20, help="How many responses to show."),
    offset: int = typer.Option(0, help="Skip this many first."),
    sources: bool = typer.Option(False, "--sources", help="List imported files instead."),
) -> None:
    """List responses (or imported sources) in the project."""
    store = _project().store
    if sources:
        t = Table("id", "file", "format", "rows read", "responses", "imported at")
        for s in store.list_sources():
            t.add_row(str(s["id"]), s["name"], s["format"], str(s["rows_read"]),
                      str(s["responses"]), str(s["imported_at"])[:19])
        out.print(t)
        return
    corpus = store.corpus(limit=limit, offset=offset)
    t = Table("response_id", "source", "loc", "flag", "text")
    for r in corpus:
        t.add_row(r.response_id, r.source, str(r.location or ""), r.flag or "",
                  (r.text[:80] + "…") if len(r.text) > 80 else r.text)
    out.print(t)
    out.print(f"{store.count_responses()} responses in the project")


@app.command()
@handles_errors
def show(response_id: str = typer.Argument(..., help="The response id.")) -> None:
    """Show one response with its provenance and codings."""
    store = _project().store
    try:
        r = store.response(response_id)
    except KeyError:
        raise errors.no_response(response_id) from None
    out.print(Text.assemble((r.response_id, "bold"), f" {r.source} {r.location or ''}"),
              soft_wrap=True)
    for k in ("respondent_id", "question", "flag"):
        if getattr(r, k):
            out.print(f"{k}: {getattr(r, k)}")
    for k, v in r.metadata.items():
        out.print(f"{k}: {v}")
    out.print(r.text, soft_wrap=True)  # the answer as written, never folded mid-word
    for c in store.codings(response_id=response_id):
        conf = f" p={c.confidence:.2f}" if c.confidence is not None else ""
        out.print(f"  {c.theme_id}: {c.status} by {c.coder} ({c.origin}){conf}")


@app.command()
@handles_errors
def export(
    format: str = typer.Option(..., "--format", "-f", help="csv, xlsx, jsonl, qdpx (REFI-QDA "
                                                          "project) or qdc (codebook)."),
    out_file: Path = typer.Option(..., "--out", "-o", help="File to write."),
    no_anonymise: bool = NO_ANONYMISE,
    layout: str = typer.Option("wide", help="csv/xlsx/jsonl: wide (a row per quote) or long "
                                            "(a row per coding)."),
    suggestions: str = typer.Option("open", help="qdpx: model suggestions to include: open "
                                                 "(not yet decided), all or none."),
    line_breaks: str = typer.Option("keep", help="qdpx: keep, or space (for readers that "
                                                 "count line ends differently)."),
    strict: bool = STRICT_ANONYMISE,
) -> None:
    """Export coded quotes, anonymised unless --no-anonymise."""
    from ..pipeline import export as export_to

    # Only the options given: each format takes its own, and one it does not take is an error.
    given = {"anonymise": False if no_anonymise else None, "layout": layout,
             "suggestions": suggestions, "line_breaks": line_breaks,
             "strict": True if strict else None}
    defaults = {"anonymise": None, "layout": "wide", "suggestions": "open", "line_breaks": "keep",
                "strict": None}
    options = {k: v for k, v in given.items() if v != defaults[k]}
    for path in export_to(_project(), out_file, format=format, **options):
        out.print(str(path))


@app.command()
@handles_errors
def report(
    directory: Optional[Path] = typer.Argument(None, help="Project folder (default: --project "
                                                         "or the current one)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write the report to."),
    format: List[str] = typer.Option(["docx"], "--format", "-f",
                                     help="docx, md or html (repeat or comma-separate)."),
    no_anonymise: bool = NO_ANONYMISE,
    group_by: Optional[str] = typer.Option(None, help="Respondent attribute for the crosstab "
                                                      "(a column, respondent_id, question or "
                                                      "source)."),
    strict: bool = STRICT_ANONYMISE,
) -> None:
    """Write the findings draft: theme shares, crosstab, chart and the best quotes."""
    from ..project import open_project
    from ..pipeline import write_project_report

    project = open_project(directory or _state["project"])
    formats = tuple(f.strip() for spec in format for f in spec.split(",") if f.strip())
    for p in write_project_report(project, out_dir, formats=formats, anonymise=not no_anonymise,
                                  group_by=group_by, strict=True if strict else None):
        out.print(str(p))


@app.command()
@handles_errors
def code(
    input_file: Optional[Path] = typer.Argument(None, help="File mode: JSONL/CSV with id and "
                                                          "text (no project needed)."),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o", help="File mode: output JSONL."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML (file mode; default: "
                                                       "bundled)."),
    model: Optional[str] = typer.Option(None, help="Model folder, or 'none' for definitions "
                                                   "alone (default: the shipped model)."),
    examples: Optional[Path] = typer.Option(None, help="Hand-coded sample (JSONL/CSV with "
                                                       "text and themes) to learn from first."),
    all_: bool = typer.Option(False, "--all", help="Project mode: recode every answer."),
    device: str = typer.Option("auto", help="Where embedding runs: auto (a CUDA GPU when torch "
                                            "sees one, else the CPU), cpu or cuda."),
    cluster: Optional[str] = typer.Option(None, help="Embed on a Dask cluster: the scheduler's "
                                                     "address, e.g. tcp://HOST:8786 (needs "
                                                     "the [cluster] extras)."),
    chunk: int = typer.Option(2000, min=1, help="Answers scored and committed together (and "
                                                "texts embedded between checkpoints); a "
                                                "killed run resumes after the last chunk."),
) -> None:
    """Code answers into the codebook's themes (project mode, or file mode with INPUT --out).

    Long runs show progress (rate, ETA) and resume: run the same command again after an
    interruption and it goes on from the last chunk it committed."""
    from ..classify.coding import code_file
    from ..pipeline import code_project

    if input_file is not None:
        if out_file is None:
            raise typer.BadParameter(errors.CODE_FILE_MODE_NEEDS_OUT)
        n = code_file(input_file, out_file, codebook_path=codebook, model_dir=model,
                      examples=examples, progress=True, chunk=chunk, device=device,
                      cluster=cluster)
        out.print(f"coded {n} answers -> {out_file}", soft_wrap=True)
        return
    if codebook is not None or examples is not None:
        raise typer.BadParameter(errors.CODE_FILE_MODE_OPTIONS)
    run = code_project(_project(), recode_all=all_, model_dir=model, progress=True,
                       chunk=chunk, device=device, cluster=cluster)
    t = Table("theme", "suggested (answers coded now)")
    for theme, n in run.per_theme.items():
        t.add_row(theme, str(n))
    out.print(t)
    out.print(f"coded {run.coded} answers ({run.skipped_flagged} flagged non-answers skipped; "
              f"learned from {run.examples} researcher-coded answers)", soft_wrap=True)
    out.print(_code_run_says(run, all_), soft_wrap=True)


def _code_run_says(run, all_: bool) -> str:
    """What a project coding run did to the answers coded before, and what --all would do."""
    if all_:
        return (f"--all: every answer scored again ({run.rescored} had earlier scores); "
                "researchers' decisions are kept.")
    if run.new_decisions:
        return (f"New decisions since the last run: the {run.rescored} answers no researcher "
                f"has reviewed were scored again with what was learned; the {run.kept} "
                "reviewed answers keep their decisions and earlier scores (--all scores "
                "them again too).")
    if run.kept:
        return (f"No new decisions since the last run: the {run.kept} answers coded before "
                "keep their suggestions (--all scores every answer again).")
    return "Every answer was coded for the first time."


topics_app = typer.Typer(help="Fit (or refresh) the project's topic model and print the topic "
                         "table; `nlp topics accept` adds an emergent topic to the codebook.",
                           no_args_is_help=False)
app.add_typer(topics_app, name="topics")


@topics_app.callback(invoke_without_command=True)
@handles_errors
def topics(
    ctx: typer.Context,
    refit: bool = typer.Option(False, "--refit", help="Fit again even if the saved model is "
                                                      "current."),
    seed: int = typer.Option(0, help="Random seed (fixed seeds give identical topics)."),
    figures: Optional[Path] = typer.Option(None, "--figures", help="Also write the figures "
                                           "(intertopic map, sizes, hierarchy, per group) here."),
    group_by: str = typer.Option("source", help="Respondent grouping for the per-group figure: "
                                 "source, question, respondent_id or meta.FIELD."),
    no_png: bool = typer.Option(False, "--no-png", help="Figures as HTML only."),
) -> None:
    """Fit (or reuse) the topic model of the project and print the topic table."""
    if ctx.invoked_subcommand is not None:
        return
    from ..pipeline import topics_command

    project = _project()
    view = topics_command(project, refit=refit, seed=seed, progress=True)
    out.print(_topics_table(view))
    for note in view.notes:
        out.print(note)
    if view.result.emergent:
        out.print("Add one to the codebook with: nlp topics accept TOPIC --theme-id ID "
                  "--label TEXT --definition TEXT")
    if figures is not None:
        from ..pipeline import export_project_figures

        for p in export_project_figures(project, figures, group_by=group_by or None,
                                        png=not no_png):
            out.print(str(p))


def _topics_table(view) -> Table:
    """The topic rows as a rich Table (numbers right-aligned)."""
    table = Table(title=view.title, show_lines=False)
    for c in view.columns:
        table.add_column(c, justify="right" if c in ("#", "Answers", "Share") else "left",
                         overflow="fold")
    for r in view.rows:
        table.add_row(*r)
    return table


@topics_app.command("accept")
@handles_errors
def topics_accept(
    topic_id: int = typer.Argument(..., help="The topic's number in the table."),
    theme_id: str = typer.Option(..., "--theme-id", help="Id of the new theme."),
    label: str = typer.Option(..., help="The theme's label."),
    definition: str = typer.Option(..., help="What belongs under the theme."),
) -> None:
    """Add an emergent topic to the codebook as a new theme (a new codebook version)."""
    from ..pipeline import accept_emergent

    cb = accept_emergent(_project(), topic_id, theme_id=theme_id, label=label,
                         definition=definition)
    out.print(f"added theme {theme_id} from topic {topic_id}: codebook {cb.name} v{cb.version}")


@app.command()
@handles_errors
def train(
    corpus: str = typer.Option(DEFAULT_CORPUS, help="Bundled corpus to train on."),
    out_dir: Path = typer.Option(Path("models") / DEFAULT_CORPUS, "--out",
                                 help="Folder to write the model to."),
    embedder: Optional[str] = typer.Option(None, help="Embedder spec (default: $NLP_EMBEDDER, "
                                                      "else onnx-int8)."),
) -> None:
    """Train a theme model on a bundled corpus and save it (JSON + NumPy, no pickle)."""
    from ..classify.training import train_bundled

    path = train_bundled(corpus, out_dir, embedder_spec=embedder)
    out.print(str(path))


@app.command()
@handles_errors
def demo(
    directory: Path = typer.Argument(Path("demo-project"), help="Project folder to use."),
    no_app: bool = typer.Option(False, "--no-app", help="Batch: write coded quotes and a "
                                                       "report instead of opening the app."),
    port: int = typer.Option(8501, help="App port."),
) -> None:
    """The main job: the bundled corpus imported into a project, coded, and opened for review."""
    from .demo import run_demo

    for line in run_demo(directory, no_app=no_app, port=port):
        out.print(line)


@app.command("app")
@handles_errors
def app_(
    directory: Optional[Path] = typer.Argument(None, help="Project folder (default: --project "
                                                         "or the current one)."),
    port: int = typer.Option(8501, help="Port to listen on."),
    host: Optional[str] = typer.Option(None, help="Address to listen on (default 127.0.0.1, "
                                                  "or $NLP_APP_HOST)."),
) -> None:
    """Open the review app on http://127.0.0.1:8501 (localhost only unless --host)."""
    from .server import serve
    from ..project import find_project_root

    root = find_project_root(directory or _state["project"])
    for line in serve(root, port=port, host=host):
        out.print(line)


EVALS = {"classify": "eval_classify.py", "topics": "eval_topics.py", "quotes": "eval_quotes.py",
         "anonymise": "eval_anonymise.py", "embed": "bench_embed.py", "app": "bench_app.py"}


@app.command("eval", context_settings={"allow_extra_args": True,
                                       "ignore_unknown_options": True})
@handles_errors
def eval_(
    ctx: typer.Context,
    which: str = typer.Argument(..., help=f"One of: {', '.join(EVALS)}. Extra arguments go to "
                                          "the script (e.g. nlp eval classify --quick)."),
) -> None:
    """Run an evaluation or benchmark of the evaluation/ harness; prints its tables."""
    if which not in EVALS:
        raise errors.unknown_evaluation(which, list(EVALS))
    script = Path(__file__).resolve().parents[2] / "evaluation" / EVALS[which]
    if not script.exists():
        raise errors.evaluation_missing(script)
    argv = sys.argv
    sys.argv = [str(script), *ctx.args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the `nlp` console script."""
    if "--debug" in (argv or sys.argv[1:]):
        _state["debug"] = True
    app(args=argv, prog_name="nlp")


if __name__ == "__main__":  # pragma: no cover
    main()
