"""Classify stage: a saved model's files checked before they are used (a damaged or hostile
config.json, a weights.npz bomb). Private: used by nlp.classify.persist."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npformat

from .. import errors
from ..limits import ENV, Archive, Limits

PARAMS = ("C", "prior_strength", "cv", "random_state")


def _damaged(path: Path, why: str) -> errors.ModelError:
    return errors.ModelError(f"{path}: damaged ({why}). Train the model again ('nlp train') "
                             "or pass another --model DIR.")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_config(config: Any, path: Path) -> dict[str, Any]:
    """`config` (a parsed config.json) if it has every field a model needs, with the right
    types; else a ModelError naming the field.

    Raises:
        ModelError: a missing or mistyped field.
    """
    if not isinstance(config, dict):
        raise _damaged(path, f"the top level is a {type(config).__name__}, not an object")
    want: dict[str, tuple[type, ...]] = {"embedder_spec": (str,), "embedder_id": (str,),
                                         "theme_ids": (list,), "codebook": (dict,)}
    for key, types in want.items():
        if not isinstance(config.get(key), types):
            raise _damaged(path, f"field {key!r} is missing or not a {types[0].__name__}")
    if not all(isinstance(t, str) for t in config["theme_ids"]):
        raise _damaged(path, "field 'theme_ids' must be a list of texts")
    cb = config["codebook"]
    if not (isinstance(cb.get("name"), str) and isinstance(cb.get("hash"), str)
            and isinstance(cb.get("version"), (str, int, float))):
        raise _damaged(path, "field 'codebook' needs a name, a version and a hash")
    for key in ("prior_intercept", "prior_threshold"):
        if not _number(config.get(key)):
            raise _damaged(path, f"field {key!r} is missing or not a finite number")
    # Format 3 models (a consultation-relative prior) also carry a decision margin.
    numbers = ("margin",) if isinstance(config.get("format"), int) and config["format"] >= 3 \
        else ()
    for key in numbers:
        if not _number(config.get(key)):
            raise _damaged(path, f"field {key!r} is missing or not a finite number")
    for key in ("n_examples", "reference_answers"):
        if key in config and not (isinstance(config[key], int)
                                  and not isinstance(config[key], bool)):
            raise _damaged(path, f"field {key!r} must be a whole number")
    params = config.get("params", {})
    if not isinstance(params, dict) or not set(params) <= set(PARAMS) or not all(
            v is None or _number(v) for v in params.values()):
        raise _damaged(path, f"field 'params' may only hold numbers for {', '.join(PARAMS)}")
    return config


def check_npz(path: str | Path, kind: str = "model weights (.npz)",
              limits: Limits | None = None, data: bytes | None = None) -> None:
    """Check a NumPy .npz before `np.load` reads it: each array's declared size, and every
    member inflated under the limits (a 2 MB file must not become a 2 GB array).

    Raises:
        InputError: not a ZIP archive, an object (pickle) array, or over a limit.
    """
    with Archive(path, data, kind, limits) as archive:
        declared = 0
        for name in archive.names():
            with archive.open(name, xml=False) as fh:
                try:
                    version = npformat.read_magic(fh)
                    if version == (1, 0):
                        shape, _fortran, dtype = npformat.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _fortran, dtype = npformat.read_array_header_2_0(fh)
                    else:
                        raise ValueError(f"format version {version} is not read")
                except (ValueError, SyntaxError, TypeError, OverflowError, EOFError) as exc:
                    raise errors.unreadable(path, kind, f"{name}: not an array ({exc})") \
                        from None
            if dtype.hasobject:
                raise errors.unreadable(path, kind, f"{name} holds Python objects (a pickle), "
                                        "which are never loaded")
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            declared += size
            if size > archive.limits.member or declared > archive.limits.unpacked:
                raise errors.archive_too_big(Path(path), kind, name,
                                             f"declares an array of {size:,} bytes",
                                             ENV["member"][0])
        archive.scan()


def check_weights(path: Path, data: bytes | None = None) -> None:
    """weights.npz (its bytes `data`, read through `nlp.fsio.read_input`) inflated under the
    limits before NumPy reads it.

    Raises:
        ModelError: damaged, a pickle inside, or over a limit.
    """
    try:
        check_npz(path, data=data)
    except errors.InputError as exc:
        raise errors.model_damaged_detail(path, exc.problem, exc.hint) from None
