"""Vertex AI: health at AIP_HEALTH_ROUTE, predict at AIP_PREDICT_ROUTE.

``{"instances": [...], "parameters": {...}}`` -> ``{"predictions": [...]}``. Routes that another
protocol already serves (mlfn passes /health/ready and /invocations) are left to it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..dataplane import DataPlane, InferenceRequest
from ..errors import InvalidInput, NotReady
from ..settings import Settings
from .common import Routes, endpoint, json_response, parameters_from, parse_json, read_body, require_json


def register(routes: Routes, plane: DataPlane, settings: Settings) -> None:
    taken = routes.paths()

    async def health(request: Request, request_id: str) -> Response:
        if not plane.ready:
            raise NotReady("the model is still loading")
        return json_response({"status": "ready"}, request_id)

    async def predict(request: Request, request_id: str) -> Response:
        require_json(request)
        data = parse_json(await read_body(request, settings.max_body_bytes))
        if not isinstance(data, dict) or not isinstance(data.get("instances"), list):
            raise InvalidInput('Vertex AI requests are {"instances": [...], "parameters": {...}}')
        params = parameters_from(data)
        out = await plane.infer(InferenceRequest(data["instances"], params, request_id))
        return json_response({"predictions": out.predictions}, request_id)

    if settings.vertex_health_route and settings.vertex_health_route not in taken:
        routes.add(settings.vertex_health_route, endpoint("vertex_health", settings, health), methods=["GET"])
    if settings.vertex_predict_route and settings.vertex_predict_route not in taken:
        routes.add(settings.vertex_predict_route, endpoint("vertex_predict", settings, predict, protected=True),
                      methods=["POST"])
