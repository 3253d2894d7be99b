"""Files written whole or not at all: new ones that never overwrite another (a stamped name taken atomically),
and whole replacements of one file.

``write_new`` writes the bytes to a temp file in the folder, fsyncs it, and links it to the first free name of
``STEM-YYYYmmdd-HHMMSS.mid``, ``STEM-YYYYmmdd-HHMMSS-2.mid``, ``-3``...: a link fails when the name exists, so two
writers in the same second (two boxes started together, two captures) never take the same name, and nobody ever
sees a partial file under it. A folder that cannot link (FAT on a USB stick) has the name reserved with
O_CREAT|O_EXCL instead, then replaced by the whole temp file. The temp file of a process that died mid-write
(``.STEM-PID-THREAD.tmp``, never a name a finished file has) is removed by the next write of that stem, once
that process no longer runs. ``replace_whole`` replaces one file (a config, a token) the same way: a synced
temp file renamed over it.
Standard library only.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def stamped_names(folder: Path, stem: str, wall_time: float, suffix: str = ".mid") -> Iterator[Path]:
    """``STEM-YYYYmmdd-HHMMSS.mid`` at ``wall_time`` (seconds since the epoch, local time), then ``-2``, ``-3``..."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall_time))
    yield folder / f"{stem}-{stamp}{suffix}"
    for number in itertools.count(2):
        yield folder / f"{stem}-{stamp}-{number}{suffix}"


def write_new(folder: str | Path, stem: str, data: bytes, wall_time: float, suffix: str = ".mid") -> Path:
    """Write ``data`` to the first free stamped name in ``folder`` (see the module docstring) and return it.
    OSError (a full or read-only disk) leaves no file behind, neither the new one nor its temp file."""
    folder = Path(folder)
    remove_stale_temps(folder, stem)
    temp = folder / f".{stem}-{os.getpid()}-{threading.get_ident()}{TEMP_SUFFIX}"
    try:
        write_synced(temp, data)
        path = next(path for path in stamped_names(folder, stem, wall_time, suffix) if _take(temp, path))
        sync_folder(folder)
        return path
    finally:
        temp.unlink(missing_ok=True)


def write_synced(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (it must not exist) with ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _take(temp: Path, path: Path) -> bool:
    """Give ``temp``'s content the name ``path`` if nobody has it; False if it is taken."""
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links in this folder: reserve the name, then put the whole file in its place
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return False
        os.replace(temp, path)
        return True


def sync_folder(folder: Path) -> None:
    """fsync ``folder``: the names created, renamed or linked in it last through a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_whole(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``: a temp file in its folder, fsync, rename, fsync of the folder. Readers see
    the old file or the new one, never part of it; an OSError leaves the old one. ``mode``: the new file's
    permissions (None: the old file's, else 0644)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
    try:
        temp.unlink(missing_ok=True)  # a temp file this pid left before, in another life
        write_synced(temp, data, mode)
        os.replace(temp, path)
        sync_folder(path.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise

def remove_stale_temps(folder: Path, stem: str) -> None:
    """Delete the temp files of ``stem`` left by a process that died mid-write (never a finished file, never the
    temp file of a process still writing, such as another box in the same folder)."""
    for temp in folder.glob(f".{stem}-*{TEMP_SUFFIX}"):
        pid = temp.name[len(stem) + 2:].partition("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            temp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, the process is only looked up
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
