"""Azure ML: GET /health/live, GET /health/ready, POST /score."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import contract as c
from ..dataplane import DataPlane, InferenceRequest
from ..errors import NotReady
from ..settings import Settings
from .common import Routes, endpoint, instances_from, json_response, parse_json, read_body, require_json


def register(routes: Routes, plane: DataPlane, settings: Settings) -> None:
    async def live(request: Request, request_id: str) -> Response:
        return json_response({"status": "alive"}, request_id)

    async def ready(request: Request, request_id: str) -> Response:
        if not plane.ready:
            raise NotReady("the model is still loading")
        return json_response({"status": "ready", "model": plane.model_name}, request_id)

    async def score(request: Request, request_id: str) -> Response:
        require_json(request)
        rows, params = instances_from(parse_json(await read_body(request, settings.max_body_bytes)))
        out = await plane.infer(InferenceRequest(rows, params, request_id))
        return json_response({"predictions": out.predictions}, request_id)

    routes.add(c.AZURE_LIVE, endpoint("live", settings, live), methods=["GET"])
    routes.add(c.AZURE_READY, endpoint("ready", settings, ready), methods=["GET"])
    routes.add(c.AZURE_SCORE, endpoint("score", settings, score, protected=True), methods=["POST"])
