"""Pipeline (demo): the README's main job on a bundled corpus: import, code, fit topics, and
optionally write the coded quotes and a report draft."""
from __future__ import annotations

from pathlib import Path
from typing import Generator

from ..codebook import load_codebook
from ..corpora import DEFAULT_CORPUS, GOLD_COLUMNS, codebook_path, corpus_path
from ..ingest import ImportOptions
from ..project import CONFIG_NAME, init_project, open_project
from ..store import Store
from ..types import ImportSummary
from .coding import code_project
from .exports import export_project
from .imports import import_file
from .report import write_report
from .topics import topics_command

__all__ = ["import_demo_corpus", "run_demo"]

#: How the demo reads a bundled corpus: its hand codes (GOLD_COLUMNS) stay out of the project,
#: so the exports and the report show the model's and the researcher's codes only; the other
#: fields (kind, section, source, line) are kept as metadata.
DEMO_IMPORT = ImportOptions(text_col="text", id_col="id", respondent_col="speaker",
                            skip_cols=GOLD_COLUMNS)


def import_demo_corpus(store: Store, corpus: str = DEFAULT_CORPUS) -> ImportSummary:
    """Import the bundled `corpus` into `store` as the demo does: without its hand codes."""
    return import_file(store, corpus_path(corpus), DEMO_IMPORT)


def run_demo(directory: str | Path, *, write_files: bool = False,
             corpus: str = DEFAULT_CORPUS) -> Generator[str, None, Path]:
    """Create (or reuse) a project in `directory`, import the bundled `corpus`, code it and fit
    its topics; with `write_files`, write the coded quotes (CSV, Excel) and a report draft to
    DIR/out. Yields lines to show the user; returns the project's folder."""
    d = Path(directory)
    if (d / CONFIG_NAME).exists():
        project = open_project(d)
        yield f"using project {project.root}"
    else:
        project = init_project(d, codebook=codebook_path(corpus))
        yield f"created project {project.root}"
    load_codebook(codebook_path(corpus))
    s = import_demo_corpus(project.store, corpus)
    yield (f"imported {s.imported} units of corpus {corpus} ({s.skipped_present} already "
           "present)")
    run = code_project(project, progress=True)
    yield f"coded {run.coded} answers: " + ", ".join(
        f"{t} {n}" for t, n in run.per_theme.items())
    view = topics_command(project, progress=True)
    yield (f"topics: {len(view.result.topics)} ({len(view.result.emergent)} emergent, not in "
           f"the codebook); run `nlp topics` in {project.root} for the table")
    if write_files:
        out = project.root / "out"
        for fmt in ("csv", "xlsx"):
            p = export_project(project.store, out / f"coded_quotes.{fmt}", format=fmt)
            yield f"wrote {p}"
        for p in write_report(project, out / "report", formats=("md", "docx"),
                              topics=view.result.emergent):
            yield f"wrote {p}"
    return project.root
