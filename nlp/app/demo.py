"""App: `nlp demo`: the pipeline's demo job (nlp.pipeline.run_demo), then the review app or
files."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..corpora import DEFAULT_CORPUS


def run_demo(directory: str | Path, *, no_app: bool = False, port: int = 8501,
             corpus: str = DEFAULT_CORPUS) -> Iterator[str]:
    """Create (or reuse) a project, import the bundled corpus, code it, fit its topics; then
    start the review app, or with `no_app` write the coded quotes and a report draft to DIR/out.
    Yields lines to show the user."""
    from ..pipeline.demo import run_demo as demo_job

    root = yield from demo_job(directory, write_files=no_app, corpus=corpus)
    if no_app:
        return
    from .server import serve

    yield from serve(root, port=port)
