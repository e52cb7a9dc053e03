"""Writing a command's output to a file: never over an existing file unless forced, never over a
device or a folder, never half-written (a temporary file beside the target, renamed into place)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from boveda.errors import BovedaError


class OutputError(BovedaError):
    """An output file that cannot, or may not, be written."""


def check_target(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """The path to write, once it is known to be writable as asked; OutputError saying why not."""
    text = os.fspath(path)
    if not text.strip():
        raise OutputError("the output path is empty: name a file")
    target = Path(text).expanduser()
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: the folder {folder} is not writable")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {target}: it is a folder; name a file")
    if not stat.S_ISREG(mode):
        raise OutputError(f"refusing to write {target}: it is not a regular file (a device, pipe or socket)")
    if not force:
        raise OutputError(f"{target} exists: choose another file, or pass --force to replace it")
    return target


@contextmanager
def atomic_text(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[TextIO]:
    """A text stream whose content replaces `path` only when the block ends without an error."""
    target = check_target(path, force=force)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    with atomic_text(path, force=force) as out:
        out.write(text)
    return Path(path)
