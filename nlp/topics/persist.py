"""Topics stage (persistence): a topic model saved as JSON + NumPy (no pickle) and read back."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..fsio import atomic_write
from .metrics import Stability
from .model import Topic, TopicResult

log = logging.getLogger("nlp.topics")

FORMAT = 1
RESULT_FILE = "topics.json"
CENTROIDS_FILE = "centroids.npy"


def _atomic_write(path: Path, write) -> None:
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def save_topics(result: TopicResult, directory: str | Path) -> Path:
    """Write `result` to DIR/topics.json and DIR/centroids.npy; returns the JSON path."""
    d = Path(directory)
    data: dict[str, Any] = {
        "format": FORMAT, "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": result.fingerprint, "embedder": result.embedder,
        "codebook": result.codebook, "codebook_version": result.codebook_version,
        "params": dict(result.params), "outlier_share": result.outlier_share,
        "unassigned_share": result.unassigned_share,
        "stability": result.stability.to_dict() if result.stability else None,
        "coherence": result.coherence, "coherence_baseline": result.coherence_baseline,
        "diversity": result.diversity, "excluded": list(result.excluded),
        "topics": [t.to_dict() for t in result.topics],
        "response_ids": list(result.response_ids), "assignments": list(result.assignments)}
    _atomic_write(d / CENTROIDS_FILE,
                  lambda fh: np.save(fh, np.asarray(result.centroids, np.float32),
                                     allow_pickle=False))
    body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
    _atomic_write(d / RESULT_FILE, lambda fh: fh.write(body))
    return d / RESULT_FILE


def load_topics(directory: str | Path) -> TopicResult | None:
    """Read a result written by `save_topics` (None if there is none or it is unreadable)."""
    d = Path(directory)
    if not (d / RESULT_FILE).is_file():
        return None
    try:
        data = json.loads((d / RESULT_FILE).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        cents = np.load(d / CENTROIDS_FILE, allow_pickle=False)
        st = data.get("stability")
        return TopicResult(
            topics=tuple(Topic.from_dict(t) for t in data["topics"]),
            response_ids=tuple(data["response_ids"]),
            assignments=tuple(int(x) for x in data["assignments"]),
            excluded=tuple(data.get("excluded", ())), outlier_share=data["outlier_share"],
            unassigned_share=data["unassigned_share"],
            stability=Stability(**st) if st else None, coherence=data["coherence"],
            diversity=data["diversity"], params=data["params"], embedder=data["embedder"],
            codebook=data.get("codebook"), codebook_version=data.get("codebook_version"),
            fingerprint=data.get("fingerprint", ""),
            coherence_baseline=data.get("coherence_baseline"), centroids=cents)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("Ignoring unreadable topic model in %s (%s); it will be refitted", d, exc)
        return None
