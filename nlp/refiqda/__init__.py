"""REFI-QDA stage: QDA-XML projects (.qdpx) and codebooks (.qdc) in and out."""
from .reader import QdpxRead, read_qdpx, store_qdpx
from .writer import (CODEBOOK_NS, MODEL_USER_NAME, PROJECT_NS, codebook_xml, export_qdc,
                     export_qdpx, import_qdpx, project_xml, read_qdc, validate_xml)

__all__ = ["CODEBOOK_NS", "MODEL_USER_NAME", "PROJECT_NS", "QdpxRead", "codebook_xml",
           "export_qdc", "export_qdpx", "import_qdpx", "project_xml", "read_qdc", "read_qdpx",
           "store_qdpx", "validate_xml"]
