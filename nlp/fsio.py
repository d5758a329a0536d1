"""Files: the one atomic write (temporary file beside the target, renamed over it).

Exports, reports, file-mode output, the project's config, its topic model and its embedding
cache all go through `atomic_write`; a model folder goes through `atomic_dir`. A crash never
leaves a half-written file under the final name, and the target is replaced only when it is a
regular file (or absent): never a folder, a device or a pipe.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import errors


def _part_prefix(final: Path) -> str:
    return f".{final.name}."


def _host() -> str:
    return socket.gethostname().replace(".", "-") or "host"


def _remove_stale_parts(final: Path) -> None:
    """Delete temporary files a killed write of `final` left behind on this machine: their
    name carries the host and the process id, and that process is gone."""
    host = _host()
    for part in final.parent.glob(f"{glob.escape(_part_prefix(final))}*.part"):
        bits = part.name[len(_part_prefix(final)):].split(".")
        if len(bits) < 3 or bits[0] != host or not bits[1].isdigit():
            continue
        pid = int(bits[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except OSError:  # alive, another user's: leave it
            pass


def _check_replaceable(final: Path) -> None:
    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise errors.not_a_regular_file(final)


@contextmanager
def atomic_write(path: str | Path, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary file is `.NAME.HOST.PID.XXXX.part`, fsynced before the rename; one left by a
    killed process is removed by the next write to the same name.

    Args:
        path: the final file.
        mode: permissions of the result (a project may be shared: readable by all).

    Raises:
        InputError: `path` exists and is not a regular file (a folder, a device, a pipe).
    """
    final = Path(path)
    _check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(final)
    fd, tmp = tempfile.mkstemp(prefix=f"{_part_prefix(final)}{_host()}.{os.getpid()}.",
                               suffix=".part", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # on disk before it takes the final name
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)  # mkstemp makes it owner-only
        _check_replaceable(final)  # something may have appeared under the name meanwhile
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; swap it in for `path` if the block succeeds.

    Raises:
        InputError: `path` exists and is not a folder.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise errors.not_a_regular_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp and some writers make owner-only files
            p.chmod(0o755 if p.is_dir() else 0o644)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
