"""The library versions a model was saved with, read from its files, and the image's pins for them.

A model pickled with one scikit-learn and loaded by another may load with ``InconsistentVersionWarning``
or not at all, so packaging records the versions in the manifest (``libraries``) and every image pins
them. They are read from the model's own files, never by loading them:

- scikit-learn pickles (``.joblib``, ``.pkl``, ``.pickle``, compressed or not): every estimator's
  state carries ``_sklearn_version``; the pickle opcodes after that key are decoded with
  ``pickletools`` (joblib embeds raw array bytes in the stream, so decoding starts at the key);
- skops files: ``_skops_version`` and the estimators' ``_sklearn_version`` in ``schema.json``;
- XGBoost JSON models: their top-level ``version``; UBJSON models (``.ubj``, the same document in
  Universal Binary JSON) the same field, decoded by ``xgboost_version_in_ubj`` without xgboost.

PyTorch files do not say which torch wrote them: its version is taken from the environment that
packages the model (the one that can load it), when torch is installed there. ONNX files need no
pin (onnxruntime reads older opsets), and a format the files say nothing about records nothing.

The image installs the runtime's extras beside the pins, so a recorded version outside an extra's
range (``runtime_ranges``, from the installed runtime's metadata) cannot be built: ``range_conflicts``
says so before the build, and ``validate`` reports it for stacks that build an image.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import mmap
import pickletools
import re
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

_SKLEARN_KEY = b"_sklearn_version"
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?(\.post[0-9]+)?(\.dev[0-9]+)?$")
_PICKLES = (".joblib", ".pkl", ".pickle")


class PinConflict(ValueError):
    """The project's requirements ask for a library version the model was not saved with."""


_MAGIC = {b"\x1f\x8b": gzip.decompress, b"BZh": bz2.decompress, b"\xfd7zXZ\x00": lzma.decompress,
          b"]\x00\x00": lzma.decompress, b"x\x01": zlib.decompress, b"x^": zlib.decompress,
          b"x\x9c": zlib.decompress, b"x\xda": zlib.decompress}


def _decompress(data: bytes | mmap.mmap) -> bytes | mmap.mmap:
    """joblib's compressed files (zlib, gzip, bz2, xz/lzma) as the pickle stream they hold."""
    head = bytes(data[:6])
    for magic, decompress in _MAGIC.items():
        if head.startswith(magic):
            try:
                return decompress(bytes(data))
            except (OSError, ValueError, EOFError, zlib.error, lzma.LZMAError):
                return data
    return data


def sklearn_version_in_pickle(data: bytes | mmap.mmap) -> str | None:
    """``_sklearn_version`` from a pickle's opcodes, without unpickling it."""
    data = _decompress(data)
    start = 0
    while (at := data.find(_SKLEARN_KEY, start)) >= 0:
        start = at + 1
        # The key is a string opcode: SHORT_BINUNICODE (1-byte length), BINUNICODE (4) or UNICODE (text).
        for back in (2, 5, 1):
            op_at = at - back
            if op_at < 0:
                continue
            try:
                ops = pickletools.genops(io.BytesIO(data[op_at:op_at + 256]))
                _, key, _ = next(ops)
                if key != _SKLEARN_KEY.decode():
                    continue
                for op, arg, _ in ops:
                    if op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                        continue
                    if isinstance(arg, str) and _VERSION.match(arg):
                        return arg
                    break
            except (ValueError, StopIteration, UnicodeDecodeError):
                continue
    return None


def _find_in_skops_schema(node: object) -> str | None:
    if isinstance(node, Mapping):
        content = node.get("content")
        if isinstance(content, Mapping) and "_sklearn_version" in content:
            value = content["_sklearn_version"]
            if isinstance(value, Mapping) and isinstance(value.get("content"), str):
                try:
                    version = json.loads(value["content"])
                except ValueError:
                    version = None
                if isinstance(version, str) and _VERSION.match(version):
                    return version
        for child in node.values():
            if (found := _find_in_skops_schema(child)) is not None:
                return found
    elif isinstance(node, list):
        for child in node:
            if (found := _find_in_skops_schema(child)) is not None:
                return found
    return None


def _skops(path: Path) -> dict[str, str]:
    try:
        with zipfile.ZipFile(path) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    out = {}
    if isinstance(schema, Mapping) and isinstance(schema.get("_skops_version"), str):
        out["skops"] = schema["_skops_version"]
    if (sk := _find_in_skops_schema(schema)) is not None:
        out["scikit-learn"] = sk
    return out


def _xgboost_json(path: Path) -> dict[str, str]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    version = doc.get("version") if isinstance(doc, Mapping) else None
    if isinstance(version, list) and version and all(isinstance(v, int) for v in version):
        return {"xgboost": ".".join(map(str, version))}
    return {}


#: UBJSON's integer markers: (size in bytes, signed), big-endian (https://ubjson.org/type-reference/).
_UBJ_INTS = {b"i": (1, True), b"U": (1, False), b"I": (2, True), b"l": (4, True), b"L": (8, True)}
_UBJ_KEY = b"version"


def _ubj_int(data: bytes | mmap.mmap, pos: int, marker: bytes) -> tuple[int, int]:
    """The integer of type ``marker`` at ``pos``, and the position after it."""
    if marker not in _UBJ_INTS:
        raise ValueError(f"not an integer marker: {marker!r}")
    size, signed = _UBJ_INTS[marker]
    raw = bytes(data[pos:pos + size])
    if len(raw) != size:
        raise ValueError("truncated")
    return int.from_bytes(raw, "big", signed=signed), pos + size


def _ubj_int_array(data: bytes | mmap.mmap, pos: int, limit: int = 8) -> list[int]:
    """A short UBJSON array of integers at ``pos``: plain (``[ ... ]``), counted (``[#<n> ...``) or
    typed and counted (``[$<type>#<n> ...``)."""
    if bytes(data[pos:pos + 1]) != b"[":
        raise ValueError("not an array")
    pos += 1
    typ = count = None
    if bytes(data[pos:pos + 1]) == b"$":
        typ, pos = bytes(data[pos + 1:pos + 2]), pos + 2
    if bytes(data[pos:pos + 1]) == b"#":
        count, pos = _ubj_int(data, pos + 2, bytes(data[pos + 1:pos + 2]))
    elif typ is not None:
        raise ValueError("a typed array needs a count")
    if count is not None and not 0 < count <= limit:
        raise ValueError("not a version's length")
    out: list[int] = []
    while count is None or len(out) < count:
        marker = typ or bytes(data[pos:pos + 1])
        if count is None and marker == b"]":
            break
        value, pos = _ubj_int(data, pos if typ else pos + 1, marker)
        out.append(value)
        if len(out) > limit:
            raise ValueError("not a version's length")
    return out


def xgboost_version_in_ubj(data: bytes | mmap.mmap) -> str | None:
    """The top-level ``"version": [major, minor, patch]`` of an XGBoost UBJSON model. Object keys are
    written as a length (an integer marker and value) then the bytes, without a type marker; the
    key is looked up rather than the whole tree parsed (the trees come first and can be large)."""
    start = 0
    while (at := data.find(_UBJ_KEY, start)) >= 0:
        start = at + 1
        keyed = False
        for marker, (size, _) in _UBJ_INTS.items():
            m = at - size - 1
            if m >= 0 and bytes(data[m:m + 1]) == marker and _ubj_int(data, m + 1, marker)[0] == len(_UBJ_KEY):
                keyed = True
                break
        if not keyed:
            continue
        try:
            version = _ubj_int_array(data, at + len(_UBJ_KEY))
        except ValueError:
            continue
        if version and all(v >= 0 for v in version):
            return ".".join(map(str, version))
    return None


def _xgboost_ubj(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            version = xgboost_version_in_ubj(data)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return {}
    return {"xgboost": version} if version else {}


def model_libraries(model_file: Path | None, fmt: str) -> dict[str, str]:
    """{distribution: version} the model's files say they were saved with; {} when they do not say."""
    if model_file is None or not model_file.is_file():
        return {}
    suffix = model_file.suffix.lower()
    if fmt == "sklearn" and suffix in _PICKLES:
        try:
            with model_file.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                version = sklearn_version_in_pickle(data)
        except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
            version = None
        return {"scikit-learn": version} if version else {}
    if fmt == "sklearn" and suffix == ".skops":
        return _skops(model_file)
    if fmt == "xgboost" and suffix == ".json":
        return _xgboost_json(model_file)
    if fmt == "xgboost" and suffix == ".ubj":
        return _xgboost_ubj(model_file)
    if fmt == "pytorch":
        return _installed("torch")
    return {}


def _installed(dist: str) -> dict[str, str]:
    """{dist: version} of this environment's copy (without a local label such as +cpu), or {}."""
    import importlib.metadata as md

    try:
        return {dist: md.version(dist).split("+")[0]}
    except md.PackageNotFoundError:
        return {}


def pins_text(libraries: Mapping[str, str]) -> str:
    """The pip constraints file that pins the model's libraries in the image."""
    lines = ["# The libraries the model was saved with (mlfn-manifest.json: libraries).\n"]
    lines += [f"{name}=={version}\n" for name, version in sorted(libraries.items())]
    return "".join(lines)


def _spec_text(specifier) -> str:
    """A specifier set as people write it: lower bound first (``>=1.3,<2``)."""
    return ",".join(sorted((str(s) for s in specifier), key=lambda s: (not s.startswith(">"), s)))


def runtime_ranges() -> dict[str, tuple[str, str]]:
    """{distribution: (the runtime's extra that installs it, its version range)} from the installed
    ``mlfn-runtime``'s metadata: the image installs a wheel of that very runtime, so these are the
    ranges pip resolves in the image (``""`` for the runtime's own dependencies)."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        requires = md.requires("mlfn-runtime") or []
    except md.PackageNotFoundError:  # pragma: no cover - the core depends on it
        return {}
    out: dict[str, tuple[str, str]] = {}
    for raw in requires:
        req = Requirement(raw)
        extra = ""
        if req.marker is not None:
            found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", str(req.marker))
            if found is None:
                continue
            extra = found.group(1)
        out[canonicalize_name(req.name)] = (extra, _spec_text(req.specifier))
    return out


def range_conflicts(libraries: Mapping[str, str], source: str = "the model") -> list[str]:
    """One message per recorded library version outside the range the runtime installs it in: the
    image pins the model's version (constraints.txt) beside the runtime's extra, and pip cannot
    satisfy both."""
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    ranges = runtime_ranges()
    out = []
    for lib, version in sorted(libraries.items()):
        extra, spec = ranges.get(canonicalize_name(lib), ("", ""))
        if not spec:
            continue
        try:
            inside = SpecifierSet(spec).contains(Version(version), prereleases=True)
        except InvalidVersion:
            continue
        if not inside:
            which = f"its {extra!r} extra" if extra else "its dependencies"
            out.append(f"{source} was saved with {lib} {version}, outside the range the mlfn runtime supports "
                       f"({lib}{spec}, {which}), so the image cannot install both: re-save the model with a "
                       f"{lib} in that range (pip install '{lib}{spec}')")
    return out


def pin_conflicts(requirements: str, libraries: Mapping[str, str], source: str = "requirements.txt") -> list[str]:
    """One message per requirement that excludes the version the model was saved with."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pinned = {canonicalize_name(k): (k, v) for k, v in libraries.items()}
    out = []
    for n, raw in enumerate(requirements.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        if name in pinned and req.specifier and not req.specifier.contains(pinned[name][1], prereleases=True):
            lib, version = pinned[name]
            out.append(f"{source}:{n}: {line!r} excludes {lib} {version}, the version the model was saved with; "
                       f"ask for {lib}=={version} (or re-save the model with the version you want)")
    return out
