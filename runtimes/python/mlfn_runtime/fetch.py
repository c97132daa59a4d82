"""Download and safely unpack a model: local paths, s3://, gs:// and https://.

Used by ``mlfn-runtime fetch URI DIR`` (init containers) and by ``serve`` for a remote
``MLFN_MODEL_URI``. Archives are unpacked member by member: absolute paths, members that
escape the target directory, and links that point out of it are refused.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


class FetchError(Exception):
    """The model could not be fetched or unpacked."""


class UnsafeArchive(FetchError):
    """An archive member would land outside the target directory."""


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_member(name: str, dest: Path) -> Path:
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"archive member {name!r} has an absolute path")
    target = (dest / p).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise UnsafeArchive(f"archive member {name!r} escapes the target directory")
    return target


def safe_extract(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest``; refuse members or links that leave ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(info.filename, root)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise UnsafeArchive(f"archive member {info.filename!r} is a symbolic link")
            zf.extractall(root)
        return root
    try:
        tf = tarfile.open(archive)  # noqa: SIM115 - closed by the with below; open errors need their own message
    except tarfile.TarError as e:
        raise FetchError(f"{archive.name}: not a readable archive: {e}") from e
    with tf:
        members = tf.getmembers()
        for m in members:
            target = _check_member(m.name, root)
            if m.issym() or m.islnk():
                link = PurePosixPath(m.linkname)
                base = target.parent if m.issym() else root
                if link.is_absolute() or not (base / link).resolve().is_relative_to(root):
                    raise UnsafeArchive(f"archive member {m.name!r} links outside the target ({m.linkname})")
            elif not (m.isfile() or m.isdir()):
                raise UnsafeArchive(f"archive member {m.name!r} is a device or fifo")
        tf.extractall(root, members=members, filter="data")
    return root


def _place(downloaded: Path, dest: Path) -> Path:
    if is_archive(downloaded.name):
        return safe_extract(downloaded, dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(downloaded, dest / downloaded.name)
    return dest


def _from_s3(uri: str, dest: Path) -> Path:
    try:
        import boto3
    except ImportError as e:
        raise FetchError("s3:// models need boto3: pip install 'mlfn-runtime[s3]'") from e
    parsed = urllib.parse.urlparse(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    s3 = boto3.client("s3")
    try:
        if key and not key.endswith("/"):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / PurePosixPath(key).name
                s3.download_file(bucket, key, str(local))
                return _place(local, dest)
        paginator = s3.get_paginator("list_objects_v2")
        count = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for obj in page.get("Contents", []):
                rel = obj["Key"][len(key):]
                if not rel or rel.endswith("/"):
                    continue
                target = _check_member(rel, dest.resolve())
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                count += 1
        if count == 0:
            raise FetchError(f"{uri}: no objects under this prefix")
        return dest
    except FetchError:
        raise
    except Exception as e:  # botocore raises many types; all mean the download failed
        raise FetchError(f"{uri}: download failed: {e}") from e


def _from_gcs(uri: str, dest: Path) -> Path:
    try:
        from google.cloud import storage
    except ImportError as e:
        raise FetchError("gs:// models need google-cloud-storage: pip install 'mlfn-runtime[gcs]'") from e
    parsed = urllib.parse.urlparse(uri)
    bucket_name, prefix = parsed.netloc, parsed.path.lstrip("/")
    client = storage.Client()
    try:
        blobs = [b for b in client.list_blobs(bucket_name, prefix=prefix) if not b.name.endswith("/")]
        if not blobs:
            raise FetchError(f"{uri}: no objects under this prefix")
        if len(blobs) == 1 and blobs[0].name == prefix:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / PurePosixPath(prefix).name
                blobs[0].download_to_filename(str(local))
                return _place(local, dest)
        base = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        for blob in blobs:
            target = _check_member(blob.name[len(base):], dest.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            blob.download_to_filename(str(target))
        return dest
    except FetchError:
        raise
    except Exception as e:  # google-cloud raises many types; all mean the download failed
        raise FetchError(f"{uri}: download failed: {e}") from e


def _from_http(uri: str, dest: Path) -> Path:
    name = PurePosixPath(urllib.parse.urlparse(uri).path).name or "model"
    try:
        with urllib.request.urlopen(uri, timeout=60) as resp, tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            with local.open("wb") as f:
                shutil.copyfileobj(resp, f)
            return _place(local, dest)
    except OSError as e:
        raise FetchError(f"{uri}: download failed: {e}") from e


def fetch(uri: str, dest: str | os.PathLike[str]) -> Path:
    """Put the model at ``uri`` into directory ``dest`` and return the directory to load from."""
    dest = Path(dest)
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme == "s3":
        return _from_s3(uri, dest)
    if scheme == "gs":
        return _from_gcs(uri, dest)
    if scheme in ("http", "https"):
        return _from_http(uri, dest)
    if scheme not in ("", "file"):
        raise FetchError(f"{uri}: unsupported scheme {scheme!r} (use a path, s3://, gs:// or https://)")
    local = Path(urllib.parse.urlparse(uri).path if scheme == "file" else uri)
    if not local.exists():
        raise FetchError(f"{local}: no such file or directory")
    if local.is_file() and is_archive(local.name):
        return safe_extract(local, dest)
    if local.is_dir():
        if dest.resolve() != local.resolve():
            shutil.copytree(local, dest, dirs_exist_ok=True)
        return dest
    return _place(local, dest)


def local_model_dir(location: str, cache_dir: Path) -> Path:
    """A directory to load from: local dirs are used in place, the rest fetched into ``cache_dir``."""
    scheme = urllib.parse.urlparse(location).scheme
    if scheme == "":
        p = Path(location)
        if p.is_dir():
            return p
        if p.is_file() and not is_archive(p.name):
            return p
    return fetch(location, cache_dir)
