"""Files: the one atomic write, and the one guard for where the toolkit may write outputs.

`atomic_write` writes the project's own files (its config, topic model, embedding cache) and
`atomic_dir` a model folder: the content goes to a temporary file (folder) beside the target,
fsynced, and is renamed over it only when the block succeeds, so a crash never leaves a
half-written file under the final name; the target is replaced only when it is a regular file
(or absent), never a folder, a device or a pipe.

Every export, report, figure and file-mode output goes through `atomic_path`, the same write
with the target checked first (`check_output_file`): never one of a project's own files, never
an SQLite database, never a folder, a device or another special file; its folder is made by
`ensure_output_dir`.
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
from typing import Callable, Iterator

from . import errors

# A project folder holds project.json; these names in it belong to the project.
PROJECT_CONFIG = "project.json"
_PROJECT_NAMES = ("project.json", "project.json.tmp", "project.db", "project.db-wal",
                  "project.db-shm", "project.db-journal")
_PROJECT_DIRS = ("cache",)  # derived data the project manages (embeddings, topic model)
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _project_file(target: Path) -> bool:
    """True when `target` is one of a project's own files: project.json, the SQLite database
    and its journals, anything under the project's cache folder."""
    if target.name in _PROJECT_NAMES and (target.parent / PROJECT_CONFIG).is_file():
        return True
    for d in target.parents:
        if (d / PROJECT_CONFIG).is_file():
            rel = target.relative_to(d).parts
            if rel and rel[0] in _PROJECT_DIRS and len(rel) > 1:
                return True
    return False


def _is_sqlite(target: Path) -> bool:
    try:
        with open(target, "rb") as fh:
            return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def check_output_file(path: str | Path) -> Path:
    """The file an output will be written to, checked: returns the final path (a symbolic
    link is followed, so the link keeps pointing at the new file).

    Raises:
        OutputError: the target is a project's own file, an SQLite database, a folder, a
            device or another special file, or its folder cannot be made.
    """
    given = Path(path)
    target = Path(os.path.realpath(given))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise errors.output_unusable(given, exc.strerror or str(exc)) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise errors.output_not_a_file(given, _describe(st.st_mode))
    if _project_file(target):
        raise errors.output_is_project_file(given)
    if st is not None and _is_sqlite(target):
        raise errors.output_is_database(given)
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise errors.output_unusable(given, f"{parent} is a file, not a folder")
    return target


def ensure_output_dir(path: str | Path) -> Path:
    """Make (if needed) the folder an output goes to; returns it.

    Raises:
        OutputError: it is a file, a device, or cannot be made.
    """
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise errors.output_unusable(d, "it is a file, not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise errors.output_unusable(d, "a file of that name is in the way") from None
    except NotADirectoryError:
        raise errors.output_unusable(d, "part of the path is a file, not a folder") from None
    except OSError as exc:
        raise errors.output_unusable(d, exc.strerror or str(exc)) from None
    return d


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
        raise errors.output_not_a_file(final, _describe(mode))


def _mkstemp(final: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f"{_part_prefix(final)}{_host()}.{os.getpid()}.",
                               suffix=".part", dir=final.parent)
    os.close(fd)
    return Path(tmp)


@contextmanager
def _atomic(final: Path, mode: int, check: Callable[[Path], object],
            make_temp: Callable[[Path], Path]) -> Iterator[Path]:
    _remove_stale_parts(final)
    tmp_path = make_temp(final)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # on disk before it takes the final name
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)  # mkstemp makes it owner-only
        check(final)  # something may have appeared under the name meanwhile
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | Path, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    For the project's own files (config, topic model, embedding cache); outputs the user names
    go through `atomic_path`. The temporary file is `.NAME.HOST.PID.XXXX.part`, fsynced before
    the rename; one left by a killed process is removed by the next write to the same name.

    Args:
        path: the final file.
        mode: permissions of the result (a project may be shared: readable by all).

    Raises:
        OutputError: `path` exists and is not a regular file (a folder, a device, a pipe).
    """
    final = Path(path)
    _check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(final, mode, _check_replaceable, _mkstemp) as tmp:
        yield tmp


@contextmanager
def atomic_path(path: str | Path, *, mode: int = 0o644) -> Iterator[Path]:
    """`atomic_write` for an output the user names (an export, a report, a figure, file-mode
    output): the target is checked with `check_output_file` first, and again just before the
    rename, and its folder is made with `ensure_output_dir`.

    Raises:
        OutputError: the target is not a place an output may go (see `check_output_file`).
    """
    final = check_output_file(path)
    ensure_output_dir(final.parent)

    def make_temp(final: Path) -> Path:
        try:
            return _mkstemp(final)
        except OSError as exc:
            raise errors.output_unusable(Path(path), f"cannot write in {final.parent} "
                                         f"({exc.strerror or exc})") from None

    with _atomic(final, mode, check_output_file, make_temp) as tmp:
        yield tmp


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; swap it in for `path` if the block succeeds.

    Raises:
        OutputError: `path` exists and is not a folder.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise errors.output_unusable(target, "it is a file, not a folder")
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
