"""``model.tar.gz`` for SageMaker: the model directory plus its manifest, packed reproducibly."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from mlfn_runtime.contract import MANIFEST_FILE

from mlfn.adapter import CompileContext
from mlfn.manifest import manifest_for, model_files


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tf.addfile(info, io.BytesIO(data))


def pack_model(ctx: CompileContext, dest_dir: Path) -> tuple[Path, str]:
    """Write ``model.tar.gz`` (same bytes for the same model) and return it with its sha256."""
    source = ctx.model_path()
    assert source is not None, "pack_model needs a local model"
    manifest = manifest_for(ctx.spec, source)
    model = model_files(source)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for path in model.files:
            _add(tf, model.relative(path), path.read_bytes())
        _add(tf, MANIFEST_FILE, manifest.to_json().encode())
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / "model.tar.gz"
    with out.open("wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out, hashlib.sha256(out.read_bytes()).hexdigest()
