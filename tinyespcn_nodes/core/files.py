"""One way to write a file: a temp file in the same folder, renamed over the target only when complete.

A crash, a kill or an exception never leaves a partial file under the final name (the temp file is removed).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARK = ".tmp"  # our temp files: `.NAME.PID-RANDOM.tmp.SUFFIX` beside the target
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp(?:\.[^.]*)?$")
STALE_SECONDS = 600  # a temp file without a pid (older versions) is stale after this long


@contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False, overwrite: bool = True) -> Iterator[Path]:
    """Yields a temp path beside `path` (same suffix, so writers that look at it pick the right format).

    With `overwrite=False` the finished file is published by a hard link, which fails if `path` exists by
    then, whoever made it (FileExistsError; the temp file is removed): no check-then-write race."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}-", suffix=f"{TEMP_MARK}{path.suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a finished file gets ordinary permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _publish_new(tmp: Path, path: Path) -> None:
    """Move `tmp` to `path` only if `path` does not exist, atomically."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "exists (pass --overwrite to replace it)", str(path)) from None
    except OSError as exc:  # a file system without hard links: reserve the name exclusively, then fill it
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        os.replace(tmp, path)
        return
    tmp.unlink()


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of our in-progress temp files (never an input)."""
    return _TEMP_RE.match(name) is not None


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove our temp files in `folder` left by a killed run (its pid is gone, or, for files without a pid,
    older than STALE_SECONDS); a live run's temp files are left alone. Returns what was removed."""
    import time

    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = m.group("pid")
        try:
            stale = not _alive(int(pid)) if pid else time.time() - entry.stat().st_mtime > STALE_SECONDS
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def save_safetensors_atomic(path: str | os.PathLike, tensors: dict, metadata: dict[str, str]) -> Path:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)
