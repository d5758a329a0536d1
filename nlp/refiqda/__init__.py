"""REFI-QDA stage: QDA-XML projects (.qdpx) and codebooks (.qdc) in and out."""
from .writer import (CODEBOOK_NS, MODEL_USER_NAME, PROJECT_NS, codebook_xml, export_qdc,
                     export_qdpx, import_qdpx, project_xml, read_qdc, validate_xml)

__all__ = ["CODEBOOK_NS", "MODEL_USER_NAME", "PROJECT_NS", "codebook_xml", "export_qdc",
           "export_qdpx", "import_qdpx", "project_xml", "read_qdc", "validate_xml"]
