"""The FastAPI app that answers every cloud's contract at once."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from . import metrics
from .dataplane import DataPlane
from .errors import MethodNotAllowed, ModelLoadError, NotFound, ServingError, error_body
from .fetch import FetchError, local_model_dir
from .models import LoadedModel, load
from .protocols import azure, kserve, sagemaker, vertex
from .protocols.common import JSON
from .settings import Settings, SettingsError, model_location

log = logging.getLogger("mlfn_runtime")


def load_model(settings: Settings, env=None) -> LoadedModel:
    """Find, fetch and load the model the settings and the platform point at."""
    try:
        location = model_location(settings, os.environ if env is None else env)
        directory = local_model_dir(location, settings.cache_dir)
    except (SettingsError, FetchError) as e:
        raise ModelLoadError(str(e)) from e
    loaded = load(Path(directory), settings.model_name, settings.model_format, settings.model_handler)
    metrics.LOAD_SECONDS.set(loaded.load_seconds)
    log.info("loaded %s model %r from %s in %.2fs", loaded.format, loaded.name, loaded.directory,
             loaded.load_seconds)
    return loaded


def _on_load_failure(error: BaseException) -> None:
    """No half-alive server: say why on stderr and end the process with a non-zero status."""
    sys.stderr.write(f"mlfn-runtime: the model failed to load: {error}\n")
    sys.stderr.flush()
    os._exit(1)


def build_app(
    settings: Settings,
    plane: DataPlane | None = None,
    loader: Callable[[], LoadedModel] | None = None,
    on_load_failure: Callable[[BaseException], None] = _on_load_failure,
    background: bool = True,
) -> FastAPI:
    """The app. With ``loader``, the model loads after start-up: in the background (readiness and
    predict answer 503 until it is loaded; a failure ends the process) or, for worker processes
    that share a socket, before the worker accepts any connection."""
    plane = plane or DataPlane()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if loader is not None and not plane.ready:
            if background:

                def run() -> None:
                    try:
                        plane.set_model(loader())
                    except BaseException as e:
                        on_load_failure(e)

                threading.Thread(target=run, name="mlfn-model-load", daemon=True).start()
            else:
                # Worker processes share one socket: a worker accepts connections only once loaded.
                plane.set_model(await anyio.to_thread.run_sync(loader))
        yield

    app = FastAPI(
        title="mlfn-runtime", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.plane = plane

    async def http_error(request: Request, exc: HTTPException) -> Response:
        rid = request.headers.get("x-request-id", "")
        if exc.status_code == 404:
            err: ServingError = NotFound(f"no route {request.method} {request.url.path}")
        elif exc.status_code == 405:
            err = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        else:
            err = ServingError(str(exc.detail))
            err.status = exc.status_code
        return Response(error_body(err, rid), status_code=err.status, media_type=JSON)

    app.add_exception_handler(HTTPException, http_error)

    sagemaker.register(app, plane, settings)
    azure.register(app, plane, settings)
    kserve.register(app, plane, settings)
    vertex.register(app, plane, settings)

    async def metrics_route(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.add_route("/metrics", metrics_route, methods=["GET"])
    return app


def create_app() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    settings = Settings.from_env()
    return build_app(settings, loader=lambda: load_model(settings), background=False)
