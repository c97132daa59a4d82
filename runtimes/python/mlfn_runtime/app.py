"""The ASGI app that answers every cloud's contract at once.

Built on Starlette (the toolkit FastAPI is made of) rather than FastAPI itself: the runtime
declares its routes by hand and reads bodies with orjson, so FastAPI's request models and
OpenAPI machinery would add ~175 ms of import to every cold start and nothing else.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import contract, metrics
from .dataplane import DataPlane
from .errors import MethodNotAllowed, ModelLoadError, NotFound, ServingError, error_body
from .fetch import FetchError, local_model_dir
from .models import LoadedModel, load
from .protocols import azure, kserve, sagemaker, vertex
from .protocols.common import JSON, Routes
from .settings import Settings, SettingsError, model_location

log = logging.getLogger("mlfn_runtime")


def load_model(settings: Settings, env=None) -> LoadedModel:
    """Find, fetch and load the model the settings and the platform point at."""
    try:
        location = model_location(settings, os.environ if env is None else env)
        directory = local_model_dir(location, settings.cache_dir, settings.extract_limits)
    except (SettingsError, FetchError) as e:
        raise ModelLoadError(str(e)) from e
    loaded = load(Path(directory), settings.model_name, settings.model_format, settings.model_handler)
    metrics.LOAD_SECONDS.set(loaded.load_seconds)
    # Everything alive now (libraries, the model) lives as long as the process: move it out of the
    # collector's reach, so a full collection scans only per-request garbage. Measured: full
    # collections took ~65 ms each with sklearn loaded, the whole p99 of a busy server. (No
    # gc.collect() first: it would add ~58 ms to every cold start to free a little import garbage.)
    gc.freeze()
    log.info("loaded %s model %r from %s in %.2fs", loaded.format, loaded.name, loaded.directory,
             loaded.load_seconds)
    return loaded


def describe(error: BaseException) -> str:
    """An error for a log line: the runtime's own errors as they read, others with their type
    (a bare ``KeyError(18)`` reads ``18``)."""
    if isinstance(error, (ModelLoadError, FetchError, SettingsError)):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _on_load_failure(error: BaseException) -> None:
    """No half-alive server: say why on stderr and end the process with a non-zero status."""
    log.critical("mlfn-runtime: the model failed to load: %s", describe(error))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(1)


def build_app(
    settings: Settings,
    plane: DataPlane | None = None,
    loader: Callable[[], LoadedModel] | None = None,
    on_load_failure: Callable[[BaseException], None] = _on_load_failure,
    background: bool = True,
) -> Runtime:
    """The app. With ``loader``, the model loads after start-up: in the background (readiness and
    predict answer 503 until it is loaded; a failure ends the process) or, for worker processes
    that share a socket, before the worker accepts any connection."""
    plane = plane or DataPlane(batching=settings.batching)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        if loader is not None and not plane.ready:
            if background:

                def run() -> None:
                    try:
                        plane.set_model(loader())
                    except BaseException as e:  # any load failure ends the process
                        on_load_failure(e)

                threading.Thread(target=run, name="mlfn-model-load", daemon=True).start()
            else:
                # Worker processes share one socket: a worker accepts connections only once loaded.
                plane.set_model(await anyio.to_thread.run_sync(loader))
        yield

    async def http_error(request: Request, exc: HTTPException) -> Response:
        rid = request.headers.get("x-request-id", "")
        if exc.status_code == 404:
            err: ServingError = NotFound(f"no route {request.method} {request.url.path}")
        elif exc.status_code == 405:
            err = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        else:
            err = ServingError(str(exc.detail))
            err.status = exc.status_code
        # Starlette names the route's methods in Allow on a 405 (RFC 9110 requires it).
        return Response(error_body(err, rid, request.url.path), status_code=err.status, media_type=JSON,
                        headers=exc.headers)

    async def metrics_route(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    openapi: list[bytes] = []

    async def openapi_route(request: Request) -> Response:
        if not openapi:  # read on first use: nothing at start-up
            openapi.append(openapi_document(settings))
        return Response(openapi[0], media_type=JSON)

    routes = Routes()
    sagemaker.register(routes, plane, settings)
    azure.register(routes, plane, settings)
    kserve.register(routes, plane, settings)
    vertex.register(routes, plane, settings)
    routes.add(contract.METRICS, metrics_route, methods=["GET"])
    routes.add(contract.OPENAPI, openapi_route, methods=["GET"])
    app = Starlette(routes=routes.routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    return Runtime(app)


def openapi_document(settings: Settings) -> bytes:
    """The package's static OpenAPI document (``openapi.json``), plus the Vertex AI routes when
    AIP_HEALTH_ROUTE / AIP_PREDICT_ROUTE name paths no other protocol serves: those answer like
    /health/ready and /invocations."""
    doc = json.loads(resources.files(__package__).joinpath("openapi.json").read_bytes())
    paths = doc["paths"]
    for route, like in ((settings.vertex_health_route, contract.AZURE_READY),
                        (settings.vertex_predict_route, contract.INVOCATIONS)):
        if route and route not in paths:
            paths[route] = {
                method: {**operation, "operationId": f"vertex{operation['operationId'][0].upper()}"
                         f"{operation['operationId'][1:]}"}
                for method, operation in paths[like].items()
            }
    return json.dumps(doc).encode()


#: An x-request-id the runtime echoes back (in headers, bodies and logs); any other is replaced by a
#: generated one, so a client cannot inject a megabyte or a line break into every log line.
SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def _drop_unsafe_request_id(scope) -> None:
    headers = scope["headers"]
    for name, value in headers:
        if name == b"x-request-id" and not SAFE_REQUEST_ID.fullmatch(value):
            scope["headers"] = [(n, v) for n, v in headers if n != b"x-request-id"]
            return


class Runtime:
    """The ASGI entry point: fixed-path routes are dispatched straight to their handlers (the hot
    path: no router scan, no middleware stack); every other request goes through Starlette."""

    def __init__(self, app: Starlette):
        self.app = app
        self.exact: dict[tuple[str, str], Callable] = {}
        for route in app.router.routes:
            if isinstance(route, Route) and "{" not in route.path:
                for method in route.methods or ():
                    self.exact[(method, route.path)] = route.endpoint

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            _drop_unsafe_request_id(scope)
            endpoint = self.exact.get((scope["method"], scope["path"]))
            if endpoint is not None:
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app() -> Runtime:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    settings = Settings.from_env()
    logging.captureWarnings(True)

    def loader() -> LoadedModel:
        try:
            return load_model(settings)
        except BaseException as e:
            log.critical("mlfn-runtime: the model failed to load: %s", describe(e))
            raise

    return build_app(settings, loader=loader, background=False)
