"""Files: the one atomic write, and the one guard for where the toolkit may write outputs.

`atomic_write` writes the project's own files (its config, topic model, embedding cache) and
`atomic_dir` a model folder: the content goes to a temporary file (folder) beside the target,
fsynced, and is renamed over it only when the block succeeds, so a crash never leaves a
half-written file under the final name; the target is replaced only when it is a regular file
(or absent), never a folder, a device or a pipe.

Every export, report, figure and file-mode output goes through `atomic_path`, the same write
with the target checked first (`check_output_file`): never one of a project's own files, never
an SQLite database, never a folder, a device or another special file; its folder is made by
`ensure_output_dir`. A file the toolkit names itself inside an output folder (a report's parts,
a figure, a partial file) is never written through a symbolic link (`follow=False`), and a folder
is replaced (`atomic_dir`) only when it is empty or holds the toolkit's own output and nothing
else: never a project, never a user's folder.

Every file a user gives the toolkit to read (an import, a codebook, a model's files, examples,
a keep-list) is opened with `open_input` / `read_input`: a regular file, checked with `os.stat`
before it is opened (a pipe would block for ever, a device never ends), no larger than a limit,
and read in bounded pieces.
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
from typing import BinaryIO, Callable, Collection, Iterator

from . import errors, limits

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
    if stat.S_ISREG(mode):
        return "a file"
    return "a special file"


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


def _no_link(given: Path) -> None:
    if given.is_symlink():
        try:
            to = os.readlink(given)
        except OSError:
            to = "?"
        raise errors.output_is_link(given, to)


def check_output_file(path: str | Path, *, follow: bool = True) -> Path:
    """The file an output will be written to, checked: returns the final path.

    Args:
        follow: a symbolic link the user named is followed (the link keeps pointing at the
            new file, and its target is checked like any file); False for the names the
            toolkit gives its own files, where a link is refused.

    Raises:
        OutputError: the target is a project's own file, an SQLite database, a folder, a
            device or another special file (or a link, with `follow=False`), or its folder
            cannot be made.
    """
    given = Path(path)
    if not follow:
        _no_link(given)
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
def atomic_path(path: str | Path, *, mode: int = 0o644, follow: bool = True) -> Iterator[Path]:
    """`atomic_write` for an output (an export, a report, a figure, file-mode output): the
    target is checked with `check_output_file` first, and again just before the rename, and
    its folder is made with `ensure_output_dir`.

    Args:
        follow: False for a name the toolkit chose in an output folder (see
            `check_output_file`).

    Raises:
        OutputError: the target is not a place an output may go (see `check_output_file`).
    """
    final = check_output_file(path, follow=follow)
    ensure_output_dir(final.parent)

    def make_temp(final: Path) -> Path:
        try:
            return _mkstemp(final)
        except OSError as exc:
            raise errors.output_unusable(Path(path), f"cannot write in {final.parent} "
                                         f"({exc.strerror or exc})") from None

    with _atomic(final, mode, lambda f: check_output_file(f, follow=False), make_temp) as tmp:
        yield tmp


def open_own_file(path: str | Path, *, append: bool = False) -> BinaryIO:
    """Open for writing a file the toolkit names itself beside an output (a partial file):
    checked like an output, never through a symbolic link (O_NOFOLLOW as well, so a link made
    after the check is refused too), created owner-only.

    Raises:
        OutputError: the name is a link, a project's file, a folder or a special file.
    """
    final = check_output_file(path, follow=False)
    ensure_output_dir(final.parent)
    flags = (os.O_RDWR if append else os.O_WRONLY | os.O_TRUNC) | os.O_CREAT
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(final, flags | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        raise errors.output_unusable(Path(path), exc.strerror or str(exc)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise errors.output_not_a_file(Path(path), _describe(st.st_mode))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "r+b" if append else "wb")


def check_output_dir(path: str | Path, *, own_names: Collection[str] = (),
                     is_own: Callable[[Path], bool] | None = None,
                     what: str = "output folder") -> Path:
    """The folder an output folder (a model) will replace, checked: returns its real path.

    It may be absent or empty; an existing one is replaced only when every entry in it is one
    of `own_names` and `is_own(folder)` says the toolkit wrote it. A project folder (or one
    inside a project's cache) is never replaced.

    Raises:
        OutputError: a file, a device, a project, or a folder holding anything else.
    """
    given = Path(path)
    target = Path(os.path.realpath(given))
    if (target / PROJECT_CONFIG).exists() or _project_file(target / "x"):
        raise errors.output_is_project_folder(given)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise errors.output_unusable(given, exc.strerror or str(exc)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise errors.output_unusable(given, f"it is {_describe(st.st_mode)}, not a folder")
    try:
        entries = sorted(os.listdir(target))
    except OSError as exc:
        raise errors.output_unusable(given, exc.strerror or str(exc)) from None
    if not entries:
        return target
    foreign = [n for n in entries if n not in own_names
               or not stat.S_ISREG(os.lstat(target / n).st_mode)]
    if foreign or is_own is None or not is_own(target):
        raise errors.output_folder_not_ours(given, what, foreign or entries)
    return target


@contextmanager
def atomic_dir(path: str | Path, *, own_names: Collection[str] = (),
               is_own: Callable[[Path], bool] | None = None,
               what: str = "output folder") -> Iterator[Path]:
    """Yield a temporary folder beside `path`; swap it in for `path` if the block succeeds.
    What `path` may be is `check_output_dir`'s rule, checked before and again at the swap.

    Raises:
        OutputError: `path` is not a folder this output may replace.
    """
    def check() -> Path:
        return check_output_dir(path, own_names=own_names, is_own=is_own, what=what)

    target = check()
    ensure_output_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp and some writers make owner-only files
            p.chmod(0o755 if p.is_dir() else 0o644)
        target = check()
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                        dir=target.parent))
            os.replace(target, old / "previous")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- inputs -----------------------------------------------------------------------------------
_PIECE = 1 << 20  # files are read a megabyte at a time


def _stat_input(given: Path) -> os.stat_result:
    try:
        st = os.stat(given)
    except FileNotFoundError:
        raise errors.missing_file(given) from None
    except OSError as exc:
        raise errors.unreadable_input(given, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise errors.not_regular_file(given, _describe(st.st_mode))
    return st


def _limit(limit: int | None, setting: str | None) -> tuple[int, str | None]:
    if limit is not None:
        return limit, setting
    return limits.current().file, limits.ENV["file"][0]


@contextmanager
def open_input(path: str | Path, *, limit: int | None = None, setting: str | None = None,
               what: str = "input file") -> Iterator[BinaryIO]:
    """A user's file opened for reading (binary), checked first: a regular file (never
    opened when it is a pipe, a device, a socket or a folder) of at most `limit` bytes.

    Args:
        limit: the most bytes the file may hold (default: `limits.Limits.file`,
            NLP_MAX_FILE_MB); `setting` names the variable that raises it.
        what: how the message names the file ("codebook", "model file").

    Raises:
        InputError: missing, unreadable, not a regular file, or over the limit.
    """
    given = Path(path)
    cap, setting = _limit(limit, setting)
    st = _stat_input(given)
    if st.st_size > cap:
        raise errors.input_too_big(given, st.st_size, cap, setting, what)
    try:  # O_NONBLOCK: should a pipe take the file's place after the check, never wait on it
        fd = os.open(given, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise errors.unreadable_input(given, exc.strerror or str(exc)) from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            raise errors.not_regular_file(given, _describe(now.st_mode))
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_input(path: str | Path, *, limit: int | None = None, setting: str | None = None,
               what: str = "input file") -> bytes:
    """The bytes of a user's file, through `open_input`, read in pieces and never more than
    `limit` of them (a file that grows while it is read is refused too).

    Raises:
        InputError: see `open_input`.
    """
    cap, setting = _limit(limit, setting)
    parts, n = [], 0
    with open_input(path, limit=cap, setting=setting, what=what) as fh:
        while True:
            piece = fh.read(min(_PIECE, cap + 1 - n))
            if not piece:
                break
            parts.append(piece)
            n += len(piece)
            if n > cap:
                raise errors.input_too_big(Path(path), n, cap, setting, what)
    return b"".join(parts)
