"""The one model interface, and loading a model directory into it.

Each format's loader lives in its own module and is imported only when that format is
served, so serving an sklearn model never imports torch (cold start matters).
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import contract as c
from ..errors import InvalidInput, ModelLoadError


class Model(Protocol):
    """What the data plane calls. ``instances`` is a list of rows (or a numpy array)."""

    def predict(self, instances: Any, parameters: dict[str, Any]) -> Any: ...


class BaseModel:
    """Shared by the built-in loaders: ``prepare`` turns rows into a checked 2-D array, ``run``
    predicts on such an array. Built-in models predict each row independently, which is what
    lets the data plane batch concurrent requests into one ``run``."""

    #: Number of features per row, when the model knows it (checked before predict -> 422).
    n_features: int | None = None
    #: The numpy dtype the model takes (None: as parsed).
    dtype: str | None = None
    batchable = True

    def check_rows(self, x: Any) -> None:
        shape = getattr(x, "shape", None)
        if shape is None:
            return
        if len(shape) != 2:
            raise InvalidInput(f"expected a 2-D batch of rows, got an array of shape {list(shape)}")
        if self.n_features is not None and shape[1] != self.n_features:
            raise InvalidInput(f"expected rows of {self.n_features} features, got {shape[1]}")

    def prepare(self, instances: Any):
        x = as_matrix(instances, dtype=self.dtype)
        self.check_rows(x)
        return x

    def run(self, x: Any, parameters: dict[str, Any]) -> Any:
        raise NotImplementedError

    def predict(self, instances: Any, parameters: dict[str, Any]) -> Any:
        return self.run(self.prepare(instances), parameters)


def reject_infinity(arr: Any, what: str) -> None:
    """422 when a float array holds +-infinity: sent as such, or a value too large for its type
    (1e400 in JSON or CSV, 1e39 as FP32, 70000 as FP16). NaN passes: models that read it as
    missing (XGBoost, HistGradientBoosting) take it, the others refuse it with their own 422."""
    import numpy as np

    if arr.dtype.kind == "f" and np.isinf(arr).any():
        raise InvalidInput(
            f"{what} holds infinity or a value too large for {arr.dtype} "
            f"(largest: {np.finfo(arr.dtype).max:.4g})"
        )


def as_matrix(instances: Any, dtype: Any = None):
    """A 2-D numpy array from rows; a single flat row becomes a batch of one. 422 on ragged or
    empty input and on values the array's type cannot hold."""
    import numpy as np

    try:
        with np.errstate(over="ignore"):
            if isinstance(instances, np.ndarray):
                arr = instances if dtype is None else instances.astype(dtype, copy=False)
            else:
                arr = np.asarray(instances, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise InvalidInput(f"instances must be a list of equal-length rows of numbers: {_plain(e)}") from e
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(f"instances must be a list of equal-length rows of numbers (got {_kind_of(arr)})")
    if arr.ndim and arr.shape[0] == 0:
        raise InvalidInput("instances is empty: send at least one row")
    reject_infinity(arr, "instances")
    return arr


def _kind_of(arr) -> str:
    """What a non-numeric array holds, in words (not numpy's dtype codes such as <U1)."""
    sample = next(iter(arr.ravel().tolist()), None) if arr.size else None
    kinds = {"U": "text", "S": "bytes", "b": "true/false", "O": "mixed values", "M": "dates", "m": "durations",
             "c": "complex numbers"}
    what = kinds.get(arr.dtype.kind, "values that are not numbers")
    return f"{what} such as {sample!r}" if sample is not None else what


def _plain(error: Exception) -> str:
    """numpy's conversion messages, said for people."""
    text = str(error)
    if "inhomogeneous" in text or "setting an array element with a sequence" in text:
        return "the rows have different lengths, or a value is itself a list"
    if text.startswith("could not convert string to float"):
        return "a value is text, not a number (" + text.split(":", 1)[-1].strip() + ")"
    return text


@dataclass(frozen=True)
class LoadedModel:
    name: str
    format: str
    model: Model
    directory: Path
    load_seconds: float


def _resolve_dir(location: Path) -> Path:
    """The directory holding the model; AZUREML_MODEL_DIR may put it one folder below."""
    if location.is_file():
        return location
    if (location / c.MANIFEST_FILE).exists() or c.find_model_file(location) is not None:
        return location
    subdirs = [p for p in location.iterdir() if p.is_dir()]
    if len(subdirs) == 1:
        return _resolve_dir(subdirs[0])
    return location


def _import_handler(handler: str, model_dir: Path):
    module_name, _, class_name = handler.partition(":")
    search = str(model_dir if model_dir.is_dir() else model_dir.parent)
    if search not in sys.path:
        sys.path.insert(0, search)
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as e:
        raise ModelLoadError(f"handler {handler!r}: cannot import it from {search}: {e}") from e


def _builtin(fmt: str, model_file: Path) -> BaseModel:
    loaders = {
        "sklearn": "sklearn_model",
        "onnx": "onnx_model",
        "pytorch": "pytorch_model",
        "xgboost": "xgboost_model",
    }
    module = importlib.import_module(f"{__name__}.{loaders[fmt]}")
    return module.load(model_file)


def load(location: Path, name: str | None, fmt: str | None, handler: str | None) -> LoadedModel:
    """Load a model directory (or file): manifest first, variables override, suffix last."""
    start = time.perf_counter()
    if not location.exists():
        raise ModelLoadError(f"model location {location} does not exist")
    model_dir = _resolve_dir(location)
    manifest = c.Manifest.read(model_dir) if model_dir.is_dir() else None
    fmt = fmt or (manifest.format if manifest else None)
    handler = handler or (manifest.handler if manifest else None)
    name = name or (manifest.name if manifest else None) or "model"
    model_file: Path | None = None
    if model_dir.is_file():
        model_file = model_dir
    elif manifest and manifest.model_file:
        model_file = model_dir / manifest.model_file
        if not model_file.exists():
            raise ModelLoadError(f"{c.MANIFEST_FILE} names model_file {manifest.model_file!r}, not found")
    elif fmt != "custom":
        model_file = c.find_model_file(model_dir)
    if fmt is None:
        fmt = c.infer_format(model_file) if model_file else None
    if fmt is None:
        raise ModelLoadError(
            f"cannot tell the model's format in {model_dir}: write {c.MANIFEST_FILE}, set "
            f"{c.MODEL_FORMAT}, or name the file .joblib/.pkl/.skops/.onnx/.pt2/.pt/.ubj/.json"
        )
    if fmt not in c.FORMATS:
        raise ModelLoadError(f"format {fmt!r} is not one of {', '.join(c.FORMATS)}")
    if fmt == "custom" and not handler:
        raise ModelLoadError(f"format custom needs a handler (module:Class) in {c.MANIFEST_FILE} or {c.MODEL_HANDLER}")
    if fmt != "custom" and model_file is None:
        raise ModelLoadError(f"no {fmt} model file found in {model_dir}")
    base_dir = model_dir if model_dir.is_dir() else model_dir.parent
    try:
        inner = None if fmt == "custom" else _builtin(fmt, model_file)
        if handler:
            from .custom import HandlerModel

            model: Model = HandlerModel(_import_handler(handler, base_dir), base_dir, inner)
        else:
            assert inner is not None
            model = inner
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(
            f"loading the {fmt} model from {model_file or base_dir} failed: {type(e).__name__}: {e}"
        ) from e
    return LoadedModel(name, fmt, model, base_dir, time.perf_counter() - start)
