"""Export stage: coded quotes, REFI-QDA and the report draft out of a project (`export`)."""
from .registry import EXPORTERS, export, exporter_options
from .tables import (EXPORT_FORMATS, FORMULA_START, coded_rows, coding_rows, export_project,
                     neutralise)

__all__ = ["EXPORTERS", "EXPORT_FORMATS", "FORMULA_START", "coded_rows", "coding_rows", "export",
           "export_project", "exporter_options", "neutralise"]
