"""The one data plane between the protocols and the model.

Every protocol turns its wire format into an :class:`InferenceRequest` and an
:class:`InferenceResponse` back; nothing here knows about HTTP routes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import numpy as np
import orjson

from .errors import InvalidInput, ModelFailure, NonFiniteOutput, NotReady, ServingError, model_refused
from .models import LoadedModel

log = logging.getLogger("mlfn_runtime")

#: Models whose predict takes longer than this on average run on a worker thread, so one slow
#: request does not block the event loop; faster ones run inline (a thread hand-off costs more
#: than they do).
THREAD_THRESHOLD_S = 0.002


@dataclass(slots=True)
class InferenceRequest:
    instances: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""


@dataclass(slots=True)
class InferenceResponse:
    predictions: Any
    model_name: str = ""
    request_id: str = ""


@dataclass(slots=True)
class _Pending:
    x: Any
    parameters: dict[str, Any]
    request_id: str
    future: asyncio.Future


def _params_key(parameters: dict[str, Any]) -> bytes:
    return orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS) if parameters else b""


class DataPlane:
    """Runs predictions for the protocols.

    Fast models predict inline on the event loop; while one batch predicts, requests that arrive
    together are gathered and the next flush sends them to the model as one batch (no waiting:
    a flush happens as soon as the loop is free). Built-in formats predict rows independently,
    so each request gets exactly the rows it sent. Slow models run on a worker thread instead.
    """

    def __init__(self, batching: bool = True) -> None:
        self.loaded: LoadedModel | None = None
        self.batching = batching
        # Start on the thread pool until measurements show the model is fast (~10 requests).
        self._avg_predict_s = THREAD_THRESHOLD_S * 10
        self._pending: list[_Pending] = []
        self._flush_scheduled = False

    @property
    def ready(self) -> bool:
        return self.loaded is not None

    @property
    def model_name(self) -> str | None:
        return self.loaded.name if self.loaded else None

    def set_model(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def require(self) -> LoadedModel:
        if self.loaded is None:
            raise NotReady("the model is still loading; retry shortly")
        return self.loaded

    def _timed(self, fn, *args, requests: int = 1) -> Any:
        """Call the model, keeping a moving average of its time per request."""
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent = (time.perf_counter() - start) / requests
            self._avg_predict_s = 0.8 * self._avg_predict_s + 0.2 * spent

    @staticmethod
    def _failure(e: Exception, request_id: str, x: Any) -> ServingError:
        refused = model_refused(e, _has_nan(x))
        if refused is not None:
            return refused
        log.error("model failure request_id=%s", request_id, exc_info=e)
        return ModelFailure(f"the model raised {type(e).__name__}: {e}")

    def _predict(self, model, req: InferenceRequest) -> Any:
        try:
            return self._timed(model.predict, req.instances, req.parameters)
        except Exception as e:
            raise self._failure(e, req.request_id, req.instances) from e

    async def infer(self, req: InferenceRequest) -> InferenceResponse:
        loaded = self.require()
        model = loaded.model
        if _is_empty(req.instances):
            raise InvalidInput("instances is empty: send at least one row")
        if self._avg_predict_s > THREAD_THRESHOLD_S:
            out = await anyio.to_thread.run_sync(self._predict, model, req)
        elif self.batching and getattr(model, "batchable", False):
            x = model.prepare(req.instances)
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._pending.append(_Pending(x, req.parameters, req.request_id, future))
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush, model)
            out = await future
        else:
            out = self._predict(model, req)
        if not _all_finite(out):
            log.warning("non-finite model output request_id=%s", req.request_id)
            raise NonFiniteOutput("the model produced a non-finite output (NaN or infinity) for this input")
        return InferenceResponse(out, loaded.name, req.request_id)

    def _flush(self, model) -> None:
        self._flush_scheduled = False
        items, self._pending = self._pending, []
        groups: dict[tuple, list[_Pending]] = {}
        for item in items:
            key = (_params_key(item.parameters), item.x.shape[1], item.x.dtype.str)
            groups.setdefault(key, []).append(item)
        for group in groups.values():
            if len(group) > 1 and self._run_together(model, group):
                continue
            for item in group:
                self._settle(item, model)

    def _run_together(self, model, group: list[_Pending]) -> bool:
        """One model call for the whole group; False (run them one by one) if anything is off."""
        x = np.concatenate([item.x for item in group])
        try:
            out = self._timed(model.run, x, group[0].parameters, requests=len(group))
        except Exception:  # one request's rows must not fail the others: retry them one by one
            return False
        if len(out) != x.shape[0]:
            return False
        offset = 0
        for item in group:
            n = item.x.shape[0]
            if not item.future.done():
                item.future.set_result(out[offset:offset + n])
            offset += n
        return True

    def _settle(self, item: _Pending, model) -> None:
        try:
            result = self._timed(model.run, item.x, item.parameters)
        except Exception as e:
            if not item.future.done():
                item.future.set_exception(self._failure(e, item.request_id, item.x))
            return
        if not item.future.done():
            item.future.set_result(result)


def _is_empty(instances: Any) -> bool:
    """No rows: an empty list, or an array (or every array of a dict) whose first dimension is 0."""
    if isinstance(instances, list):
        return not instances
    if isinstance(instances, np.ndarray):
        return instances.ndim > 0 and instances.shape[0] == 0
    if isinstance(instances, dict) and instances:
        return all(_is_empty(v) for v in instances.values())
    return False


def _has_nan(x: Any) -> bool:
    """Whether the input holds a NaN (asked only after a model raised, so cost does not matter)."""
    try:
        arr = np.asarray(x)
        return arr.dtype.kind == "f" and bool(np.isnan(arr).any())
    except (ValueError, TypeError):
        return False


def _all_finite(out: Any) -> bool:
    """False when a prediction holds NaN or infinity (JSON would carry them as null).

    numpy outputs are checked at once; other outputs (handlers' lists, ONNX's ZipMap dicts) are
    walked without recursion.
    """
    if isinstance(out, np.ndarray):
        return out.dtype.kind not in "fc" or bool(np.isfinite(out).all())
    stack = [out]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, np.ndarray):
            if item.dtype.kind in "fc" and not np.isfinite(item).all():
                return False
            if item.dtype.kind == "O":
                stack.extend(item.ravel().tolist())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, np.floating) and not np.isfinite(item):
            return False
    return True
