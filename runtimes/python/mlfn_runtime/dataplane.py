"""The one data plane between the protocols and the model.

Every protocol turns its wire format into an :class:`InferenceRequest` and an
:class:`InferenceResponse` back; nothing here knows about HTTP routes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from .errors import InvalidInput, ModelFailure, NotReady, ServingError
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


class DataPlane:
    def __init__(self) -> None:
        self.loaded: LoadedModel | None = None
        # Start on the thread pool until measurements show the model is fast (~10 requests).
        self._avg_predict_s = THREAD_THRESHOLD_S * 10

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

    def _predict(self, model, req: InferenceRequest) -> Any:
        start = time.perf_counter()
        try:
            return model.predict(req.instances, req.parameters)
        except ServingError:
            raise  # the loaders' and handlers' own input checks (422)
        except Exception as e:
            log.exception("model failure", extra={"request_id": req.request_id})
            raise ModelFailure(f"the model raised {type(e).__name__}: {e}") from e
        finally:
            spent = time.perf_counter() - start
            self._avg_predict_s = 0.8 * self._avg_predict_s + 0.2 * spent

    async def infer(self, req: InferenceRequest) -> InferenceResponse:
        loaded = self.require()
        if isinstance(req.instances, list) and not req.instances:
            raise InvalidInput("instances is empty: send at least one row")
        if self._avg_predict_s > THREAD_THRESHOLD_S:
            out = await anyio.to_thread.run_sync(self._predict, loaded.model, req)
        else:
            out = self._predict(loaded.model, req)
        return InferenceResponse(out, loaded.name, req.request_id)
