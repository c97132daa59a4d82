"""A user's handler class, alone (format: custom) or wrapped around a built-in model.

The class is named ``module:Class`` and imported from the model directory. It may define:

- ``load(self, model_dir)``: load what it needs (required for format: custom);
- ``predict(self, instances, parameters)`` (required for format: custom; for a built-in format
  the built-in model predicts unless the handler overrides it);
- ``preprocess(self, instances, parameters)`` and ``postprocess(self, predictions, parameters)``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError


def _call(fn, *args):
    """Call with (instances, parameters) or just (instances), as the user wrote it."""
    try:
        n = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n = len(args)
    return fn(*args[: max(1, min(n, len(args)))])


class HandlerModel:
    def __init__(self, cls: type, model_dir: Path, inner: Any | None):
        try:
            self.handler = cls()
        except Exception as e:
            raise ModelLoadError(f"handler {cls.__name__}(): {type(e).__name__}: {e}") from e
        self.inner = inner
        if hasattr(self.handler, "load"):
            self.handler.load(model_dir)
        if inner is None and not hasattr(self.handler, "predict"):
            raise ModelLoadError(f"handler {cls.__name__} needs a predict(instances) method")
        self.n_features = getattr(inner, "n_features", None)
        self._pre = getattr(self.handler, "preprocess", None)
        self._post = getattr(self.handler, "postprocess", None)
        self._predict = getattr(self.handler, "predict", None)

    def predict(self, instances: Any, parameters: dict[str, Any]) -> Any:
        if self._pre is not None:
            instances = _call(self._pre, instances, parameters)
        if self._predict is not None:
            out = _call(self._predict, instances, parameters)
        else:
            out = self.inner.predict(instances, parameters)
        if self._post is not None:
            out = _call(self._post, out, parameters)
        return out
