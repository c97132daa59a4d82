"""Errors that carry their HTTP status, and the one place any exception becomes a response.

``translate`` is the handler table: it turns whatever a request raised into a
:class:`ServingError`; ``error_body`` writes it. Two body shapes, chosen by the route:

- SageMaker, Vertex AI, Azure ML and the rest: ``{"error": <code>, "detail": <message>,
  "request_id": <id>}``;
- KServe V1 and the Open Inference Protocol (``/v1/...``, ``/v2...``): ``{"error": <message>,
  "request_id": <id>}``, since the protocol says ``error`` is a descriptive message and KServe's
  server does the same for V1 (tritonclient and the kserve SDK show that string to the user).
"""

from __future__ import annotations

from typing import ClassVar

import orjson
from starlette.requests import ClientDisconnect


class ServingError(Exception):
    """Base: an error with an HTTP status and a short machine-readable name."""

    status: ClassVar[int] = 500
    error: ClassVar[str] = "internal_error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServingError):
    status, error = 400, "bad_request"


class Unauthorized(ServingError):
    status, error = 401, "unauthorized"


class NotFound(ServingError):
    status, error = 404, "not_found"


class MethodNotAllowed(ServingError):
    status, error = 405, "method_not_allowed"


class PayloadTooLarge(ServingError):
    status, error = 413, "payload_too_large"


class UnsupportedMediaType(ServingError):
    status, error = 415, "unsupported_media_type"


class InvalidInput(ServingError):
    """The body parsed but has the wrong shape or types for this model."""

    status, error = 422, "invalid_input"


class NonFiniteOutput(InvalidInput):
    """The model answered NaN or infinity for this input (e.g. ``predict_proba`` on 1e308).

    A 422, not a 5xx: the same input always gives the same output, so a retry cannot help, and the
    server is healthy; the input is outside what the model can answer. Never a 200 with nulls.
    """

    error = "non_finite_output"


class ClientClosedRequest(ServingError):
    """The client went away before its request was read (nginx's 499): nobody gets the answer,
    and it is neither a server error nor counted as one."""

    status, error = 499, "client_closed_request"


class ModelFailure(ServingError):
    """The model raised while predicting."""

    status, error = 500, "model_error"


class NotReady(ServingError):
    status, error = 503, "not_ready"


class ModelLoadError(Exception):
    """The model could not be loaded: the process must not serve."""


def model_refused(e: Exception, nan_in_input: bool) -> ServingError | None:
    """A model's own refusal of its input (a 422), or None when the model itself failed.

    NaN reaches the model (XGBoost and HistGradientBoosting read it as missing); a model that
    cannot take it raises ValueError (scikit-learn: "Input X contains NaN").
    """
    if isinstance(e, ServingError):
        return e  # the loaders' and handlers' own input checks
    if nan_in_input and isinstance(e, ValueError):
        return InvalidInput(f"the model does not accept NaN (missing) values: {e}")
    return None


#: The handler table: exception type -> how it becomes a ServingError (first match wins).
_TABLE: tuple[tuple[type[BaseException], type[ServingError], str], ...] = (
    (ClientDisconnect, ClientClosedRequest, "the client disconnected before the request body was read"),
    (RecursionError, InvalidInput, "the input is nested too deeply"),
)


def translate(exc: BaseException) -> ServingError:
    """Any exception a request raised -> the ServingError it is answered with.

    Anything not in the table is a 500 "internal error"; the caller logs those with their traceback.
    """
    if isinstance(exc, ServingError):
        return exc
    for kind, error, detail in _TABLE:
        if isinstance(exc, kind):
            return error(detail)
    return ServingError("internal error; see the server log")


def is_unexpected(exc: BaseException) -> bool:
    """Whether ``translate`` met an exception it has no entry for (a bug: log its traceback)."""
    return not isinstance(exc, (ServingError, *(kind for kind, _, _ in _TABLE)))


def uses_kserve_errors(path: str) -> bool:
    return path.startswith(("/v1/", "/v2/")) or path == "/v2"


def error_body(exc: ServingError, request_id: str, path: str = "") -> bytes:
    if uses_kserve_errors(path):
        return orjson.dumps({"error": exc.detail, "request_id": request_id})
    return orjson.dumps({"error": exc.error, "detail": exc.detail, "request_id": request_id})
