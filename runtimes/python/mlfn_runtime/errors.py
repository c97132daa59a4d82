"""Errors that carry their HTTP status; ``error_body`` is the one place they become responses.

Every error body is JSON ``{"error", "detail", "request_id"}``.
"""

from __future__ import annotations

from typing import ClassVar

import orjson


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


class ModelFailure(ServingError):
    """The model raised while predicting."""

    status, error = 500, "model_error"


class NotReady(ServingError):
    status, error = 503, "not_ready"


class ModelLoadError(Exception):
    """The model could not be loaded: the process must not serve."""


def error_body(exc: ServingError, request_id: str) -> bytes:
    return orjson.dumps({"error": exc.error, "detail": exc.detail, "request_id": request_id})
