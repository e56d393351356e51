"""The pain log's file on disk: made private (folder 0700, file 0600) before SQLite writes a
byte, and, when it cannot be written, one message that names what is in the way and what to
do (also for `companion doctor` and the run lock)."""

from __future__ import annotations

import errno
import os
import pwd
import sqlite3
import stat
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from companion.core.errors import CompanionError

FIX_DIR = "choose another folder with --data-dir DIR or $COMPANION_DATA_DIR"


def problem(err: BaseException, doing: str, where: Path) -> CompanionError:
    """A SQLite or OS failure on the log at `where` as one message that says what to do."""
    code = getattr(err, "errno", None)
    # SQLite's messages never contain the path, so matching words in them is safe.
    said = f"{getattr(err, 'sqlite_errorname', '')} {err}".lower()
    sql = isinstance(err, sqlite3.Error)

    def says(*words: str) -> bool:
        return sql and any(w in said for w in words)

    if code in (errno.ENOSPC, errno.EDQUOT) or says("full"):
        why = "the disk is full. Free some space and try again."
    elif says("notadb", "not a database", "corrupt", "malformed"):
        return CompanionError(f"{where} is not a usable pain log ({err}). Move it aside (a "
                              f"new log is started in its place) or {FIX_DIR}.")
    elif says("busy", "locked"):
        why = "another companion is writing it. Close that one and try again."
    elif code in (errno.EEXIST, errno.ENOTDIR):
        why = f"a file is in the way of the folder {where.parent}. Move it, or {FIX_DIR}."
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or says(
            "readonly", "cantopen", "unable to open", "perm"):
        found = in_the_way(where)
        why = (f"{found[0]}. {found[1]}." if found else
               f"it or its folder is not writable. Fix the permissions (chmod u+rwx "
               f"{where.parent}; chmod u+rw {where}) or {FIX_DIR}.")
    else:
        why = str(err)
    return CompanionError(f"cannot {doing} the pain log {where}: {why}")


def in_the_way(path: Path) -> Optional[tuple[str, str]]:
    """Why this user cannot write `path` (a file in the data folder) as (what is wrong, what
    to do), or None if nothing in the way can be seen. It names the part that blocks: the
    folder; when that does not exist or cannot be looked into, the nearest folder above it
    that can; or the file. chmod is only suggested for what this user owns: nobody else can
    run it."""
    folder = path.parent
    start, need = "", os.W_OK
    parts: list[Path] = []
    for part in (folder, *folder.parents):
        try:
            st = os.stat(part)
        except (FileNotFoundError, NotADirectoryError):
            start = start or f"the folder {folder} does not exist and cannot be created: "
            continue
        except (OSError, ValueError):  # a folder above it cannot be looked into
            start, need = f"the folder {folder} cannot be reached: ", os.X_OK
            continue
        if not stat.S_ISDIR(st.st_mode):
            return (f"{folder} is a file, not a folder" if part == folder else
                    f"a file is in the way of the folder {folder}: {part}",
                    f"Move it, or {FIX_DIR}")
        parts.append(part)
        break
    if not start and os.path.lexists(path):
        parts.append(path)
    for part in parts:
        said = _blocks(part, need)
        if said:
            return start + said[0], said[1]
    return None


def _blocks(part: Path, need: int) -> Optional[tuple[str, str]]:
    """What keeps this user from writing in (need=W_OK) or passing through (X_OK) `part`."""
    try:
        st = os.stat(part)
        read_only = bool(os.statvfs(part).f_flag & os.ST_RDONLY)
    except (OSError, ValueError):
        return None
    kind = "the folder" if part.is_dir() else "the file"
    if read_only and need == os.W_OK:
        return (f"{kind} {part} is not writable (a read-only file system)",
                "Choose another folder with --data-dir DIR or $COMPANION_DATA_DIR, or "
                "remount it read-write")
    if os.access(part, need):
        return None
    me = os.geteuid()
    if me != 0 and st.st_uid != me:
        owner = _user_name(st.st_uid)
        run_as = f"Run the companion as {owner}, or c" if st.st_uid != 0 else "C"
        by = "is not writable by" if need == os.W_OK else "cannot be entered by"
        return (f"{kind} {part} belongs to {owner} and {by} this user ({_user_name(me)})",
                run_as + FIX_DIR[1:])
    mode = "rw" if kind == "the file" else ("rwx" if need == os.W_OK else "x")
    return (f"{kind} {part} {'is not writable' if need == os.W_OK else 'cannot be entered'}",
            f"Fix the permissions (chmod u+{mode} {part}) or {FIX_DIR}")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return f"uid {uid}"


def make_private_dir(folder: Path) -> None:
    """Create the folder 0700. An existing folder is the user's choice and is left alone."""
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        if not folder.is_dir():
            raise
        return  # another process made it first
    os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


def make_private_file(path: Path) -> None:
    """Create the database file 0600 (empty: SQLite treats that as a new database) and tighten
    one that others can read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            try:
                os.chmod(path, 0o600)
            except PermissionError:
                pass  # not ours to change; reading it still works
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def uri_path(path: Path) -> str:
    return quote(str(path.resolve()), safe="/")
