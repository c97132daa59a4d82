"""AWS Lambda: the same app behind Mangum; the model is loaded once, at init.

Image CMD: ``mlfn_runtime.lambda_handler.handler``. Function URL, API Gateway HTTP API (v2),
REST API (v1) and ALB events all reach the same routes.
"""

from __future__ import annotations

from mangum import Mangum

from .app import build_app, load_model
from .dataplane import DataPlane
from .settings import Settings

settings = Settings.from_env()
plane = DataPlane()
plane.set_model(load_model(settings))
app = build_app(settings, plane)
handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
