"""Pipeline: the one floor that takes a project. Each job reads what it needs from the project's
store, calls the stages below (which take data and give data: `Corpus`, arrays, `Codebook`,
`Coding`s, `TopicResult`, rows) and writes back through the store. The CLI and the app call
these functions; nothing below this package knows what a project is.

Jobs (a `Project` from nlp.project, or its `Store` where the store alone is what a job uses):

- import: `import_file(store, path, options)`, `import_files(store, paths, options)` (all
  files read and checked, then stored in one transaction), `import_qdpx(store, path)`.
- coding: `code_project(project, ...) -> ProjectCodeRun`, `model_cuts(store)`,
  `project_examples(store, codebook)`,
  `project_embedder(project)`, `store_review_order(...)`, `project_agreement(store)`.
- topics: `fit_project_topics(project)`, `load_project_topics(project)`,
  `topics_command(project)`, `accept_emergent(project, topic_id, ...)`,
  `export_project_figures(project)`, `topics_dir(project)`.
- anonymise: `project_anonymiser(project, strict=, defer=)`, the anonymiser every export and
  report uses (the project's settings, one placeholder numbering), passed in to the stages;
  `anonymise_settings(project)`.
- export: `export(project, out, format=..., **options)` over `EXPORTERS` (csv, xlsx, jsonl,
  qdpx, qdc, report), `exporter_options(format)`; and the writers behind it:
  `export_project`, `coded_rows`, `coding_rows`, `export_qdpx`, `project_xml`, `export_qdc`.
- report: `write_report(project, out_dir, ...)`, `write_project_report(project, out_dir)`,
  `build_report_data(project)`.
- demo: `run_demo(directory)`, the README's main job on a bundled corpus.

Example::

    from nlp.project import init_project
    from nlp.pipeline import code_project, export, import_file

    project = init_project("my-consultation")
    import_file(project.store, "responses.csv")
    code_project(project)
    export(project, "coded.xlsx", format="xlsx")
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# {name: the module of this package that holds it}. The jobs load when first used, so
# `import nlp` (which offers import_file) does not pay for scikit-learn, pandas or the topic
# stage; `from nlp.pipeline import code_project` loads nlp.pipeline.coding alone.
_WHERE = {
    "NUMBERING_KEY": "anonymise", "anonymise_settings": "anonymise",
    "project_anonymiser": "anonymise",
    "CodeRun": "coding", "ProjectCodeRun": "coding", "code_project": "coding",
    "model_cuts": "coding", "project_agreement": "coding",
    "project_embedder": "coding", "project_examples": "coding", "store_review_order": "coding",
    "run_demo": "demo",
    "EXPORTERS": "exports", "coded_rows": "exports", "coding_rows": "exports",
    "export": "exports",
    "export_project": "exports", "export_qdc": "exports", "export_qdpx": "exports",
    "exporter_options": "exports", "project_xml": "exports",
    "PROJECT_WRITERS": "imports", "import_file": "imports", "import_files": "imports",
    "import_qdpx": "imports", "store_qdpx": "imports",
    "build_report_data": "report", "write_project_report": "report", "write_report": "report",
    "accept_emergent": "topics", "export_project_figures": "topics",
    "fit_project_topics": "topics", "load_project_topics": "topics",
    "project_fingerprint": "topics", "project_groups": "topics", "topics_command": "topics",
    "topics_dir": "topics",
}

if TYPE_CHECKING:
    from .anonymise import NUMBERING_KEY, anonymise_settings, project_anonymiser
    from .coding import (CodeRun, ProjectCodeRun, code_project, model_cuts,
                         project_agreement, project_embedder, project_examples,
                         store_review_order)
    from .demo import run_demo
    from .exports import (EXPORTERS, coded_rows, coding_rows, export, export_project,
                         export_qdc, export_qdpx, exporter_options, project_xml)
    from .imports import PROJECT_WRITERS, import_file, import_files, import_qdpx, store_qdpx
    from .report import build_report_data, write_project_report, write_report
    from .topics import (accept_emergent, export_project_figures, fit_project_topics,
                         load_project_topics, project_fingerprint, project_groups,
                         topics_command, topics_dir)

__all__ = [
    "CodeRun", "EXPORTERS", "NUMBERING_KEY", "PROJECT_WRITERS", "ProjectCodeRun",
    "accept_emergent",
    "anonymise_settings", "build_report_data", "code_project", "coded_rows", "coding_rows",
    "export", "export_project", "export_project_figures", "export_qdc", "export_qdpx",
    "exporter_options", "fit_project_topics", "import_file", "import_files", "import_qdpx",
    "load_project_topics", "model_cuts", "project_agreement", "project_anonymiser",
    "project_embedder",
    "project_examples", "project_fingerprint", "project_groups", "project_xml", "run_demo",
    "store_qdpx", "store_review_order", "topics_command", "topics_dir", "write_project_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # found once; a test's monkeypatch then replaces it here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
