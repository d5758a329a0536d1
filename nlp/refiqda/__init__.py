"""REFI-QDA stage: QDA-XML projects (.qdpx) and codebooks (.qdc) in and out, as data
(nlp.pipeline reads and writes a project's: import_qdpx, export_qdpx, export_qdc)."""
from .reader import QdpxPlan, QdpxRead, plan_qdpx, read_qdpx
from .writer import (CODEBOOK_NS, MODEL_USER_NAME, PROJECT_NS, codebook_xml, qdpx_xml, read_qdc,
                     validate_xml, write_qdc, write_qdpx)

__all__ = ["CODEBOOK_NS", "MODEL_USER_NAME", "PROJECT_NS", "QdpxPlan", "QdpxRead", "codebook_xml",
           "plan_qdpx", "qdpx_xml", "read_qdc", "read_qdpx", "validate_xml", "write_qdc",
           "write_qdpx"]
