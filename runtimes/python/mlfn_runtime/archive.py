"""Unpack a model archive (.tar, .tar.gz, .tgz, .zip) without trusting anything in it.

Every member is written by this module, one at a time, never by ``extractall``: the safety does not
depend on the interpreter's patch level (``tarfile``'s ``filter="data"`` was bypassable on the
3.8-3.13 releases images commonly ship, CVE-2025-4517).

- A name that is absolute or has a ``..`` component is refused.
- Nothing is written through a symbolic link: every parent directory of a member must be a real
  directory (``lstat``), and files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW``.
- A symbolic link is refused when its target, resolved against what is on disk now (links
  already extracted followed, one component at a time), leaves the folder; every link is checked
  again after each new one, so a chain whose meaning changes later is refused too. Any error while
  resolving (a path too long for ``lstat``, a loop) refuses the link: it fails closed.
- A hard link must name a regular file already extracted inside the folder.
- Devices and fifos are refused.
- Bombs: the bytes actually written (not the headers) and the member count are limited
  (:class:`ExtractLimits`).

On any refusal everything this extraction created is removed again.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
GIB = 1024**3
MIB = 1024**2
_CHUNK = MIB
_MAX_LINK_HOPS = 40


class FetchError(Exception):
    """The model could not be fetched or unpacked."""


class UnsafeArchive(FetchError):
    """An archive member would land, or point, outside the target directory."""


class ArchiveTooLarge(FetchError):
    """An archive expands to more bytes or more members than the limits allow."""


@dataclass(frozen=True)
class ExtractLimits:
    """How much an archive may expand to (settings ``MLFN_MAX_EXTRACT_*``, see ``contract``).

    The bytes written may reach ``ratio`` times the archive's size (at least ``floor_bytes``),
    and never more than ``max_bytes``; ``ratio=0`` leaves only the absolute cap.
    """

    max_bytes: int = 32 * GIB
    ratio: int = 200
    floor_bytes: int = 256 * MIB
    max_members: int = 100_000

    def byte_limit(self, archive_size: int) -> int:
        if self.ratio <= 0:
            return self.max_bytes
        return min(self.max_bytes, max(self.ratio * archive_size, self.floor_bytes))


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def member_parts(name: str) -> tuple[str, ...]:
    """The path components of a member name, refusing absolute names and ``..``."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"archive member {name!r} has an absolute path")
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchive(f"archive member {name!r} escapes the target directory ('..' in its path)")
    if not parts:
        raise UnsafeArchive(f"archive member {name!r} has an empty name")
    return parts


def real_directory(root: Path, parts: tuple[str, ...], name: str, created: list[Path] | None = None) -> Path:
    """``root/parts``, each component a real directory (made when missing), never a link."""
    d = root
    for part in parts:
        d = d / part
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            os.mkdir(d, 0o755)
            if created is not None:
                created.append(d)
            continue
        if not stat.S_ISDIR(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a directory"
            rel = d.relative_to(root).as_posix()
            raise UnsafeArchive(f"archive member {name!r} would be written through {rel!r}, which is {kind}")
    return d


def resolve_inside(root: Path, start: tuple[str, ...], target: str) -> tuple[str, ...] | None:
    """Where ``target`` (a link's text, relative to directory ``start``) leads, following links on
    disk one component at a time; None when it leaves ``root`` or cannot be resolved for sure."""
    if target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":"):
        return None
    pending = list(reversed([*start, *PurePosixPath(target).parts]))
    stack: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
            continue
        here = root.joinpath(*stack, part)
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            stack.append(part)  # not there (yet): read the rest by name; links are re-checked later
            continue
        except OSError:  # ENAMETOOLONG, EACCES, ...: cannot tell where it goes, so refuse
            return None
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            try:
                text = os.readlink(here)
            except OSError:
                return None
            if hops > _MAX_LINK_HOPS or text.startswith("/"):
                return None
            pending.extend(reversed(PurePosixPath(text).parts))
            continue
        stack.append(part)
    return tuple(stack)


class _Writer:
    """Creates the members, counts what it wrote, and can remove it all again."""

    def __init__(self, root: Path, byte_limit: int, limits: ExtractLimits, archive_name: str) -> None:
        self.root = root
        self.byte_limit = byte_limit
        self.limits = limits
        self.archive_name = archive_name
        self.created: list[Path] = []
        self.links: list[tuple[str, tuple[str, ...], str]] = []  # (member name, its dir, target)
        self.written = 0
        self.members = 0

    def count_member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveTooLarge(
                f"{self.archive_name}: more than {self.limits.max_members} members "
                "(MLFN_MAX_EXTRACT_MEMBERS)"
            )

    def _too_large(self) -> ArchiveTooLarge:
        return ArchiveTooLarge(
            f"{self.archive_name}: expands to more than {self.byte_limit} bytes (limits: "
            f"MLFN_MAX_EXTRACT_BYTES={self.limits.max_bytes}, MLFN_MAX_EXTRACT_RATIO={self.limits.ratio} "
            "times the archive's size)"
        )

    def directory(self, name: str) -> None:
        real_directory(self.root, member_parts(name), name, self.created)

    def _replace(self, path: Path, name: str) -> None:
        """Clear the way for a new member at ``path`` (tar semantics: a later member wins)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeArchive(f"archive member {name!r} would replace a directory")
        os.unlink(path)  # a file or a link: removed, never followed

    def file(self, name: str, source: IO[bytes], mode: int) -> None:
        parts = member_parts(name)
        parent = real_directory(self.root, parts[:-1], name, self.created)
        path = parent / parts[-1]
        self._replace(path, name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        self.created.append(path)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                self.written += len(chunk)
                if self.written > self.byte_limit:
                    raise self._too_large()
                out.write(chunk)
        # Like tarfile's "data" filter: no setuid/setgid/sticky, no group/other write.
        os.chmod(path, (mode & 0o755) | 0o600 if mode else 0o644)

    def symlink(self, name: str, target: str) -> None:
        parts = member_parts(name)
        if not target:
            raise UnsafeArchive(f"archive member {name!r} is a link with an empty target")
        if resolve_inside(self.root, parts[:-1], target) is None:
            raise UnsafeArchive(f"archive member {name!r} links outside the target ({target})")
        parent = real_directory(self.root, parts[:-1], name, self.created)
        path = parent / parts[-1]
        self._replace(path, name)
        os.symlink(target, path)
        self.created.append(path)
        self.links.append((name, parts[:-1], target))
        # A new link can change where an earlier one leads (a chain): check them all again.
        for other, start, text in self.links:
            if resolve_inside(self.root, start, text) is None:
                raise UnsafeArchive(f"archive member {other!r} links outside the target ({text}) "
                                    f"once {name!r} is extracted")

    def hardlink(self, name: str, target: str) -> None:
        parts = member_parts(name)
        try:
            source_parts = member_parts(target)
        except UnsafeArchive as e:
            raise UnsafeArchive(f"archive member {name!r} links outside the target ({target})") from e
        resolved = resolve_inside(self.root, source_parts[:-1], source_parts[-1])
        if resolved is None:
            raise UnsafeArchive(f"archive member {name!r} links outside the target ({target})")
        source = self.root.joinpath(*resolved)
        try:
            st = os.lstat(source)
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise UnsafeArchive(f"archive member {name!r} is a hard link to {target!r}, "
                                "which is not a file extracted before it")
        parent = real_directory(self.root, parts[:-1], name, self.created)
        path = parent / parts[-1]
        self._replace(path, name)
        os.link(source, path, follow_symlinks=False)
        self.created.append(path)

    def remove_all(self) -> None:
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)


def _tar_members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := tf.next()) is not None:
        yield member


def _extract_tar(archive: Path, writer: _Writer) -> None:
    try:
        tf = tarfile.open(archive)  # noqa: SIM115 - closed by the with below; open errors need their own message
    except tarfile.TarError as e:
        raise FetchError(f"{archive.name}: not a readable archive: {e}") from e
    with tf:
        try:
            for m in _tar_members(tf):
                writer.count_member(m.name)
                if m.isdir():
                    writer.directory(m.name)
                elif m.issym():
                    writer.symlink(m.name, m.linkname)
                elif m.islnk():
                    writer.hardlink(m.name, m.linkname)
                elif m.isfile():
                    if m.size > writer.byte_limit - writer.written:
                        raise writer._too_large()
                    source = tf.extractfile(m)
                    assert source is not None  # a regular file always has a reader
                    with source:
                        writer.file(m.name, source, m.mode)
                else:
                    raise UnsafeArchive(f"archive member {m.name!r} is a device or fifo")
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise FetchError(f"{archive.name}: not a readable archive: {e}") from e


def _extract_zip(archive: Path, writer: _Writer) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise FetchError(f"{archive.name}: not a readable archive: {e}") from e
    with zf:
        for info in zf.infolist():
            writer.count_member(info.filename)
            kind = (info.external_attr >> 16) & 0o170000
            if kind == 0o120000:
                raise UnsafeArchive(f"archive member {info.filename!r} is a symbolic link")
            if info.is_dir():
                writer.directory(info.filename)
                continue
            member_parts(info.filename)  # refuse bad names before opening anything
            try:
                with zf.open(info) as source:
                    writer.file(info.filename, source, (info.external_attr >> 16) & 0o777)
            except (zipfile.BadZipFile, zlib.error) as e:
                raise FetchError(f"{archive.name}: not a readable archive: {e}") from e


def safe_extract(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> Path:
    """Unpack ``archive`` into ``dest``; refuse members or links that leave ``dest`` and archives
    over the limits, removing whatever was extracted before the refusal."""
    limits = limits or ExtractLimits()
    existed = dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    writer = _Writer(root, limits.byte_limit(archive.stat().st_size), limits, archive.name)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, writer)
        else:
            _extract_tar(archive, writer)
    except BaseException as e:
        writer.remove_all()
        if not existed:
            with contextlib.suppress(OSError):
                os.rmdir(root)
        if isinstance(e, OSError):
            if e.errno in (errno.ELOOP, errno.EEXIST, errno.ENOTDIR):
                raise UnsafeArchive(f"{archive.name}: a member would be written through a link: {e}") from e
            raise FetchError(f"{archive.name}: cannot unpack into {dest}: {e}") from e
        raise
    return root
