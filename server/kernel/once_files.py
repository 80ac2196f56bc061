"""Files that whichever process comes first creates, and every other process reads.

Several processes start at once (``onemap serve --workers N``, parallel test workers) and each
may find a generated secret missing. The file is written in full under a temporary name and
then linked into place, which fails if another process got there first: a reader never sees
a half-written file and every process ends up with the same content.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's content; when there is none, what ``make()`` gives is written there (mode
    0600) first."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    content = make()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes()
        return content
    finally:
        os.unlink(tmp)
