"""A wheel of the installed ``mlfn-runtime``, for build contexts.

mlfn-runtime is published on no package index, so the image cannot ``pip install`` it by name: the
build context carries a wheel of the runtime this machine has installed. It is assembled from the
installed distribution (``importlib.metadata``): its metadata, and its package files as its RECORD
lists them, or, for an editable install from a checkout, the package directory it is imported from.
No build backend runs and nothing is fetched. The wheel is reproducible (sorted entries, fixed
timestamps, stored uncompressed), so the same runtime gives the same bytes and the same image tag.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import importlib.util
import json
import re
import zipfile
from pathlib import Path

DISTRIBUTION = "mlfn-runtime"
PACKAGE = "mlfn_runtime"
#: The dist-info files a wheel carries over; RECORD is written afresh, INSTALLER/REQUESTED/direct_url
#: describe one installation, not the distribution.
_METADATA_FILES = ("METADATA", "entry_points.txt", "top_level.txt")
_EPOCH = (1980, 1, 1, 0, 0, 0)


class RuntimeNotInstalled(RuntimeError):
    """mlfn-runtime is not installed where the core runs, or its files cannot be found."""


def _skip(rel: str) -> bool:
    parts = rel.split("/")
    return "__pycache__" in parts or rel.endswith((".pyc", ".pyo"))


def _editable(dist: md.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except ValueError:
        return False


def package_files(dist: md.Distribution | None = None) -> dict[str, bytes]:
    """{archive path: bytes} of the runtime's package, from the installed distribution."""
    dist = dist or _distribution()
    listed = [f for f in (dist.files or ()) if f.as_posix().startswith(PACKAGE + "/")]
    out: dict[str, bytes] = {}
    if listed and not _editable(dist):
        for f in listed:
            rel = f.as_posix()
            if not _skip(rel):
                out[rel] = Path(dist.locate_file(f)).read_bytes()
        return out
    # An editable install lists no package files: read the package where it is imported from.
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec else []
    if not locations:
        raise RuntimeNotInstalled(f"{PACKAGE} cannot be imported: install {DISTRIBUTION}")
    root = Path(locations[0])
    for p in sorted(root.rglob("*")):
        rel = f"{PACKAGE}/{p.relative_to(root).as_posix()}"
        if p.is_file() and not _skip(rel):
            out[rel] = p.read_bytes()
    return out


def _distribution() -> md.Distribution:
    try:
        return md.distribution(DISTRIBUTION)
    except md.PackageNotFoundError as e:
        raise RuntimeNotInstalled(f"{DISTRIBUTION} is not installed: pip install {DISTRIBUTION}") from e


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_name(dist: md.Distribution | None = None) -> str:
    dist = dist or _distribution()
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    return f"{name}-{dist.version}-py3-none-any.whl"


def runtime_wheel(dest_dir: str | Path) -> Path:
    """Write the installed runtime as a wheel into ``dest_dir``; return the wheel's path."""
    dist = _distribution()
    files = package_files(dist)
    if f"{PACKAGE}/__init__.py" not in files:
        raise RuntimeNotInstalled(f"{DISTRIBUTION}'s files are missing: reinstall it")
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
    info = f"{name}-{dist.version}.dist-info"
    for meta in _METADATA_FILES:
        text = dist.read_text(meta)
        if text is not None:
            files[f"{info}/{meta}"] = text.encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: mlfn\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{rel},{_record_hash(data)},{len(data)}\n" for rel, data in sorted(files.items()))
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / wheel_name(dist)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for rel, data in sorted(files.items(), key=lambda kv: (kv[0].startswith(info), kv[0])):
            zi = zipfile.ZipInfo(rel, date_time=_EPOCH)
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)
    return path
