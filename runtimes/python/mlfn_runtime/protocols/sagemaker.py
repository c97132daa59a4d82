"""SageMaker: GET /ping, POST /invocations (JSON, or text/csv rows)."""

from __future__ import annotations

import csv
import io
import math

from starlette.requests import Request
from starlette.responses import Response

from .. import contract as c
from ..dataplane import DataPlane, InferenceRequest
from ..errors import InvalidInput, NotReady, UnsupportedMediaType
from ..settings import Settings
from .common import CSV, JSON, Routes, endpoint, instances_from, json_response, media_type, parse_json, read_body


def parse_csv(body: bytes) -> list[list[float]]:
    try:
        text = body.decode()
    except UnicodeDecodeError as e:
        raise InvalidInput("text/csv body is not UTF-8") from e
    try:
        return _csv_rows(text)
    except csv.Error as e:  # e.g. a bare carriage return inside a field
        raise InvalidInput(f"text/csv body is not valid CSV: {e}") from e


def _csv_rows(text: str) -> list[list[float]]:
    rows = []
    for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            values = [float(cell) for cell in row]
        except ValueError:
            raise InvalidInput(f"text/csv line {n}: every value must be a number") from None
        if any(math.isinf(v) for v in values):  # NaN passes: it means "missing" to many models
            raise InvalidInput(f"text/csv line {n}: infinity, or a value too large for a float64")
        rows.append(values)
    if not rows:
        raise InvalidInput("text/csv body has no rows")
    return rows


def register(routes: Routes, plane: DataPlane, settings: Settings) -> None:
    async def ping(request: Request, request_id: str) -> Response:
        if not plane.ready:
            raise NotReady("the model is still loading")
        return Response(b"", status_code=200)

    async def invocations(request: Request, request_id: str) -> Response:
        body = await read_body(request, settings.max_body_bytes)
        mt = media_type(request)
        if mt == CSV:
            rows, params = parse_csv(body), {}
        elif mt in ("", JSON) or mt.endswith("+json"):
            rows, params = instances_from(parse_json(body))
        else:
            raise UnsupportedMediaType(f"content-type {mt!r} is not supported: send {JSON} or {CSV} "
                                    "(curl: add -H 'content-type: application/json')")
        out = await plane.infer(InferenceRequest(rows, params, request_id))
        return json_response({"predictions": out.predictions}, request_id)

    routes.add(c.PING, endpoint("ping", settings, ping), methods=["GET"])
    routes.add(c.INVOCATIONS, endpoint("invocations", settings, invocations, protected=True),
                  methods=["POST"])
