"""consultation-nlp: turn free-text consultation responses into coded, quotable evidence."""
from __future__ import annotations

__version__ = "0.1.0"  # first: nlp.store records it in the databases it migrates

from .codebook import load_codebook, loads_codebook, save_codebook
from .errors import CodebookError, InputError, ModelError, NlpError, ProjectError
from .ingest import ImportOptions, read_corpus, read_file
from .pipeline.imports import import_file, import_files
from .project import Project, init_project, open_project
from .ingest.quotes import extract_quotes
from .store import Store
from .types import Codebook, Coding, Corpus, ImportSummary, Response, Theme

__all__ = [
    "Codebook", "CodebookError", "Coding", "Corpus", "ImportOptions", "ImportSummary",
    "InputError", "ModelError", "NlpError", "Project", "ProjectError", "Response", "Store",
    "Theme", "extract_quotes", "import_file", "import_files", "init_project", "load_codebook",
    "loads_codebook", "open_project", "read_corpus", "read_file", "save_codebook",
]
