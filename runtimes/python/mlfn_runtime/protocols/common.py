"""What every protocol module shares: reading bodies, JSON in and out, API keys, route wrapping."""

from __future__ import annotations

import hmac
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics
from ..errors import (
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    error_body,
    is_unexpected,
    translate,
)
from ..settings import Settings

log = logging.getLogger("mlfn_runtime.requests")
JSON = "application/json"
CSV = "text/csv"
_OPTS = orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=_OPTS)


def json_response(data: Any, request_id: str, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type=JSON, headers={"x-request-id": request_id})


def media_type(request: Request) -> str:
    raw = request.headers.get("content-type", "")
    return raw.split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes (413) without reading it all."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit:
                raise PayloadTooLarge(f"body of {length} bytes is over the limit of {limit} (MLFN_MAX_BODY_BYTES)")
        except ValueError:
            raise BadRequest(f"content-length {length!r} is not a number") from None
        body = await request.body()
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes (MLFN_MAX_BODY_BYTES)")
        return body
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes (MLFN_MAX_BODY_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    if not body:
        raise BadRequest("the request body is empty: send JSON such as {\"instances\": [[...]]}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"malformed JSON: {e}") from None


def require_json(request: Request) -> None:
    mt = media_type(request)
    if mt and mt != JSON and not mt.endswith("+json"):
        raise UnsupportedMediaType(f"content-type {mt!r} is not supported here: send {JSON} "
                                    "(curl: add -H 'content-type: application/json')")


def parameters_from(data: dict[str, Any], where: str = "parameters") -> dict[str, Any]:
    """A body's ``parameters``: absent or null is none, anything but an object is a 422."""
    params = data.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInput(f"{where} must be an object, got {type(params).__name__}")
    return params


def instances_from(data: Any) -> tuple[Any, dict[str, Any]]:
    """Rows and parameters from the JSON shapes every route accepts."""
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict):
        params = parameters_from(data)
        for key in ("instances", "inputs", "data"):
            if key in data:
                rows = data[key]
                if not isinstance(rows, list):
                    raise InvalidInput(f"{key} must be a list of rows")
                return rows, params
    raise InvalidInput('expected {"instances": [...]}, {"inputs": [...]}, {"data": [...]} or a JSON list of rows')


def check_api_key(request: Request, keys: tuple[str, ...]) -> None:
    """MLFN_API_KEYS: Authorization: Bearer <key> or x-api-key, compared in constant time."""
    if not keys:
        return
    given = request.headers.get("x-api-key")
    if given is None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else None
    if given is None:
        raise Unauthorized("an API key is required: send Authorization: Bearer <key> or x-api-key")
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given.encode(), key.encode())
    if not ok:
        raise Unauthorized("the API key is not valid")


Handler = Callable[[Request, str], Awaitable[Response]]


class Routes:
    """The routes protocol modules register, in order (more specific paths first)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, path: str, endpoint: Callable[[Request], Awaitable[Response]], methods: list[str]) -> None:
        self.routes.append(Route(path, endpoint, methods=methods))

    def paths(self) -> set[str]:
        return {r.path for r in self.routes}


def endpoint(name: str, settings: Settings, handler: Handler, protected: bool = False):
    """Wrap a protocol handler: request id, API keys, errors -> JSON (the one place), metrics, logs."""
    keys = settings.api_keys
    rate = settings.log_rate
    observe = metrics.observer(name)

    async def route(request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        start = time.perf_counter()
        try:
            if protected:
                check_api_key(request, keys)
            response = await handler(request, request_id)
        except Exception as exc:  # every failure becomes a JSON answer; the server stays up
            e = translate(exc)
            if is_unexpected(exc):
                log.exception("unhandled error request_id=%s", request_id)
            response = Response(
                error_body(e, request_id, request.url.path), status_code=e.status, media_type=JSON,
                headers={"x-request-id": request_id},
            )
            if e.status >= 500 and e.status != 503:
                log.error("%s %s -> %d %s request_id=%s", request.method, request.url.path, e.status,
                          e.detail, request_id)
            elif e.status == 503 and e.error == "not_ready" and request.method == "GET":
                # Platforms probe health every few seconds while the model loads: not news.
                log.debug("%s %s -> 503 while loading request_id=%s", request.method, request.url.path,
                          request_id)
            else:
                log.info("%s %s -> %d %s request_id=%s", request.method, request.url.path, e.status,
                         e.detail, request_id)
        elapsed = time.perf_counter() - start
        observe(response.status_code, elapsed)
        if rate and (rate >= 1.0 or random.random() < rate):
            log.info("%s %s -> %d %.1fms request_id=%s", request.method, request.url.path,
                     response.status_code, elapsed * 1000, request_id)
        return response

    route.mlfn_metric = name  # the ``route`` label of its metrics, and whether it runs the model
    route.mlfn_protected = protected
    return route
