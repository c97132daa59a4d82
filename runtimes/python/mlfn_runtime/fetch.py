"""Download and safely unpack a model: local paths, s3://, gs:// and https://.

Used by ``mlfn-runtime fetch URI DIR`` (init containers) and by ``serve`` for a remote
``MLFN_MODEL_URI``. Archives are unpacked by :mod:`mlfn_runtime.archive`, member by member:
absolute paths, members that escape the target directory, writes through links, links that
point out of it and archive bombs are refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from .archive import (
    ArchiveTooLarge,
    ExtractLimits,
    FetchError,
    UnsafeArchive,
    is_archive,
    member_parts,
    real_directory,
    safe_extract,
)

__all__ = ["ArchiveTooLarge", "ExtractLimits", "FetchError", "UnsafeArchive", "fetch", "is_archive",
           "local_model_dir", "safe_extract"]


def _check_member(name: str, dest: Path) -> Path:
    """Where an object of a bucket prefix goes: inside ``dest``, through real directories only."""
    parts = member_parts(name)
    dest.mkdir(parents=True, exist_ok=True)
    return real_directory(dest, parts[:-1], name) / parts[-1]


def _place(downloaded: Path, dest: Path, limits: ExtractLimits) -> Path:
    if is_archive(downloaded.name):
        return safe_extract(downloaded, dest, limits)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(downloaded, dest / downloaded.name)
    return dest


def _from_s3(uri: str, dest: Path, limits: ExtractLimits) -> Path:
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
                return _place(local, dest, limits)
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


def _from_gcs(uri: str, dest: Path, limits: ExtractLimits) -> Path:
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
                return _place(local, dest, limits)
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


def _from_http(uri: str, dest: Path, limits: ExtractLimits) -> Path:
    name = PurePosixPath(urllib.parse.urlparse(uri).path).name or "model"
    try:
        with urllib.request.urlopen(uri, timeout=60) as resp, tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            with local.open("wb") as f:
                shutil.copyfileobj(resp, f)
            return _place(local, dest, limits)
    except OSError as e:
        raise FetchError(f"{uri}: download failed: {e}") from e


def fetch(uri: str, dest: str | os.PathLike[str], limits: ExtractLimits | None = None) -> Path:
    """Put the model at ``uri`` into directory ``dest`` and return the directory to load from.

    ``limits`` bound what an archive may expand to (default: :class:`ExtractLimits`' defaults)."""
    dest = Path(dest)
    limits = limits or ExtractLimits()
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme == "s3":
        return _from_s3(uri, dest, limits)
    if scheme == "gs":
        return _from_gcs(uri, dest, limits)
    if scheme in ("http", "https"):
        return _from_http(uri, dest, limits)
    if scheme not in ("", "file"):
        raise FetchError(f"{uri}: unsupported scheme {scheme!r} (use a path, s3://, gs:// or https://)")
    local = Path(urllib.parse.urlparse(uri).path if scheme == "file" else uri)
    if not local.exists():
        raise FetchError(f"{local}: no such file or directory")
    if local.is_file() and is_archive(local.name):
        return safe_extract(local, dest, limits)
    if local.is_dir():
        if dest.resolve() != local.resolve():
            shutil.copytree(local, dest, dirs_exist_ok=True)
        return dest
    return _place(local, dest, limits)


def local_model_dir(location: str, cache_dir: Path, limits: ExtractLimits | None = None) -> Path:
    """A directory to load from: local dirs are used in place, the rest fetched into ``cache_dir``."""
    scheme = urllib.parse.urlparse(location).scheme
    if scheme == "":
        p = Path(location)
        if p.is_dir():
            return p
        if p.is_file() and not is_archive(p.name):
            return p
    return fetch(location, cache_dir, limits)
