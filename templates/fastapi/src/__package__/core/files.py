"""Folders and files that hold secrets, created for this account alone.

The SQLite database (password, session and key hashes), the audit log and the certificates
folder (TLS and CA private keys) are created with their final modes: 0700 for a folder, 0600 for
a file. Created with the umask's defaults (typically 0644 in a 0755 folder) and narrowed
afterwards, they would be open to every local account in between, and a handle opened then
stays valid after a chmod.

What already exists is left as it is: an operator may have chosen its owner and mode on
purpose. `selfcheck` reports what is looser than these.
"""

import os
import stat
from pathlib import Path
from typing import Final

PRIVATE_DIR_MODE: Final = 0o700
PRIVATE_FILE_MODE: Final = 0o600
# Any permission for the group or for others.
_SHARED_BITS: Final = stat.S_IRWXG | stat.S_IRWXO


def private_dir(path: Path) -> Path:
    """Create the folder `path` with mode 0700 if it does not exist.

    Missing parents are created too, with the usual mode: they hold no secret themselves.
    """
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        # The umask can only take bits away from 0700, never add any.
        path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create the empty file `path` with mode 0600 if it does not exist; never truncate it.

    Its folder is created with `private_dir` when missing.
    """
    private_dir(path.parent)
    # Without O_TRUNC: an existing database is opened and closed untouched.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    return path


def shared_mode(path: Path) -> int | None:
    """The mode of `path` if it grants anything to the group or others; else (or if absent) None."""
    if os.name != "posix":
        # Windows has no mode bits to speak of; its ACLs are not checked here.
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & _SHARED_BITS else None
