"""Export stage: coded quotes as CSV, Excel or JSON Lines, from rows built out of data
(`wide_rows`, `long_rows`, `write_rows`). Every way out of a project, by format name, is
nlp.pipeline's `export` (its EXPORTERS registry)."""
from .tables import (EXPORT_FORMATS, FORMULA_START, check_format, long_rows, metadata_columns,
                     neutralise, wide_rows, write_rows)

__all__ = ["EXPORT_FORMATS", "FORMULA_START", "check_format", "long_rows", "metadata_columns",
           "neutralise", "wide_rows", "write_rows"]
