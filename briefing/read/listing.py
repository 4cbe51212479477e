"""List the files a build reads: paths as given, folders expanded, without reading any file.

Listing looks at directory entries only (``os.scandir``; a stat only to follow a symlink), so a
folder of 10,000 files is listed in a moment and reading can go one source at a time. A folder
that cannot be listed, a symlink loop, a dangling symlink and a symlink back up the tree each
give one failure line; everything else is still listed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from ..models import SourceFailure

Kind = Literal["text", "markdown", "html"]
KINDS: dict[str, Kind] = {
    ".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
}  # fmt: skip

GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # errors that mean "not there"
NO_FILES = "folder has no .txt, .md, .markdown, .html or .htm files"
LOOP = "symlink loop: following its links never reaches a file"
LINK_UP = "symlink to a folder that contains it: not followed (it would be listed forever)"
NOT_REGULAR = "not a regular file (a pipe, socket or device)"


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[SourceFailure]]:
    """Files as given, folders expanded to their text/Markdown/HTML files; missing paths fail.

    Reads no file's contents. Each folder that cannot be listed and each broken or looping
    symlink in a folder is one failure; the rest of the folder is listed."""
    files: list[Path] = []
    failures: list[SourceFailure] = []
    seen: set[Path] = set()
    for path in paths:
        problems: list[SourceFailure] = []
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
            reason = ""
        except OSError as err:
            # Path.is_dir() and .exists() raise on EACCES (a folder above it cannot be entered).
            is_dir = False
            reason = (
                missing_reason(path) if err.errno in GONE else f"cannot read it: {err.strerror}"
            )
        if is_dir:
            found, problems = list_folder(path)
            reason = "" if found or problems else NO_FILES
        else:
            found = [path]
        failures.extend(problems)
        if reason:
            failures.append(_failure(path, reason))
            continue
        for p in found:
            key = p.resolve()  # "a.txt" and "./a.txt" are one file
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files, failures


def missing_reason(path: Path) -> str:
    """Why a path that is neither a file nor a folder cannot be read: a symlink says how."""
    if not path.is_symlink():
        return "no such file or folder"
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return LOOP
        if err.errno == errno.ENOENT:
            return f"dangling symlink: it points at {os.readlink(path)}, which does not exist"
        return f"cannot follow the symlink: {err.strerror or err}"
    return "no such file or folder"


def list_folder(root: Path) -> tuple[list[Path], list[SourceFailure]]:
    """The wanted files below ``root``, in ``sorted(root.rglob("*"))`` order, and one failure
    per folder that cannot be listed and per broken symlink.

    Hidden files and folders (``.git``, ``.DS_Store``) are skipped. A symlinked folder is
    followed once, after the real folders (so a file keeps its own path when a link reaches it
    too); a link to a folder that contains the link is not followed at all, and one to a folder
    already listed is not listed again: the listing cannot recurse forever."""
    found: list[Path] = []
    failures: list[SourceFailure] = []
    listed: set[str] = set()
    folders: list[Path] = [root]
    linked: list[Path] = []
    while folders or linked:
        is_link = not folders
        folder = folders.pop() if folders else linked.pop()
        real = os.path.realpath(folder)
        if is_link and _contains(real, os.path.realpath(folder.parent)):
            failures.append(_failure(folder, LINK_UP))
            continue
        if real in listed:
            continue  # reached again through a link: its files are listed already
        listed.add(real)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as err:
            failures.append(_failure(folder, f"cannot list the folder: {err.strerror or err}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                problem = _take(entry, path, folders, linked, found)
            except FileNotFoundError:
                continue  # removed between listing and looking: nothing to read
            except OSError as err:
                problem = f"cannot look at it: {err.strerror or err}"
            # A broken link with no suffix may have been a folder; one named "x.jpg" was not
            # a source either way.
            if problem and (path.suffix.lower() in KINDS or not path.suffix):
                failures.append(_failure(path, problem))
    found.sort()
    failures.sort(key=lambda f: Path(f.path))
    return found, failures


def _take(
    entry: os.DirEntry[str],
    path: Path,
    folders: list[Path],
    linked: list[Path],
    found: list[Path],
) -> str | None:
    """Queue a folder, keep a wanted file; the reason when the entry cannot be either."""
    if entry.is_symlink():
        try:
            mode = os.stat(path).st_mode  # follows the link: the one stat listing needs
        except OSError:
            return missing_reason(path)
        if stat.S_ISDIR(mode):
            linked.append(path)
            return None
        regular = stat.S_ISREG(mode)
    elif entry.is_dir(follow_symlinks=False):
        folders.append(path)
        return None
    else:
        regular = entry.is_file(follow_symlinks=False)  # the entry's type: no stat
    if path.suffix.lower() not in KINDS:
        return None
    if not regular:
        return NOT_REGULAR
    found.append(path)
    return None


def _contains(folder: str, inner: str) -> bool:
    """Whether the resolved ``inner`` is ``folder`` or lies below it."""
    return inner == folder or inner.startswith(folder.rstrip(os.sep) + os.sep)


def _failure(path: Path, reason: str) -> SourceFailure:
    return SourceFailure(path=str(path), stage="read", reason=reason)
