"""Pipeline: the README's main job on the bundled corpus (import, code, then app or files)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..corpora import DEFAULT_CORPUS


def run_demo(directory: str | Path, *, no_app: bool = False, port: int = 8501,
             corpus: str = DEFAULT_CORPUS) -> Iterator[str]:
    """Create (or reuse) a project, import the bundled corpus, code it, fit its topics; then
    start the review app, or with `no_app` write the coded quotes and a report draft to DIR/out. Yields lines
    to show the user."""
    from ..codebook import load_codebook
    from ..corpora import codebook_path, corpus_path
    from ..ingest import ImportOptions, import_file
    from ..classify.coding import code_project
    from ..project import CONFIG_NAME, init_project, open_project

    d = Path(directory)
    if (d / CONFIG_NAME).exists():
        project = open_project(d)
        yield f"using project {project.root}"
    else:
        project = init_project(d, codebook=codebook_path(corpus))
        yield f"created project {project.root}"
    load_codebook(codebook_path(corpus))
    s = import_file(project.store, corpus_path(corpus),
                    ImportOptions(text_col="text", id_col="id", respondent_col="speaker"))
    yield (f"imported {s.imported} units of corpus {corpus} ({s.skipped_present} already "
           "present)")
    run = code_project(project, progress=True)
    yield f"coded {run.coded} answers: " + ", ".join(
        f"{t} {n}" for t, n in run.per_theme.items())
    from ..topics import topics_command

    view = topics_command(project, progress=True)
    yield (f"topics: {len(view.result.topics)} ({len(view.result.emergent)} emergent, not in "
           f"the codebook); run `nlp topics` in {project.root} for the table")
    if no_app:
        from ..export import export_project

        out = project.root / "out"
        for fmt in ("csv", "xlsx"):
            p = export_project(project.store, out / f"coded_quotes.{fmt}", format=fmt)
            yield f"wrote {p}"
        from ..report import write_report

        for p in write_report(project, out / "report", formats=("md", "docx"),
                              topics=view.result.emergent):
            yield f"wrote {p}"
        return
    from .server import serve

    yield from serve(project.root, port=port)
