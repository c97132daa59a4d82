"""The contract between the mlfn core, the adapters and the serving runtime.

This module imports only the standard library: the core and every adapter import it
instead of repeating route paths, port rules, variable names or the manifest layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

# ---------------------------------------------------------------- environment variables
MODEL_URI = "MLFN_MODEL_URI"
MODEL_NAME = "MLFN_MODEL_NAME"
MODEL_FORMAT = "MLFN_MODEL_FORMAT"
MODEL_HANDLER = "MLFN_MODEL_HANDLER"
MAX_BODY_BYTES = "MLFN_MAX_BODY_BYTES"
#: Worker processes (default: one per visible GPU, else the container's CPU quota rounded down,
#: at least 1; 1 on Lambda). See ``mlfn_runtime.workers``.
WORKERS = "MLFN_WORKERS"
API_KEYS = "MLFN_API_KEYS"
LOG_REQUESTS = "MLFN_LOG_REQUESTS"
#: The ARN of an AWS Secrets Manager secret holding MLFN_API_KEYS (read once at start; Lambda's `key` auth).
API_KEYS_AWS_SECRET = "MLFN_API_KEYS_AWS_SECRET"
#: on (default) / off: gather concurrent requests to a built-in-format model into one predict call.
#: Batching can change the last bits of floating-point outputs (probabilities, regression values):
#: BLAS kernels block and sum differently for different batch sizes, so a row predicted alone and
#: the same row predicted among others may differ by an ulp or so. Labels did not change in 48,000
#: checks. For bit-exact answers (the same bytes for the same row, whatever else arrives), set off.
BATCHING = "MLFN_BATCHING"
#: Where a remote model or an archive is unpacked (default /tmp/mlfn-model).
MODEL_CACHE = "MLFN_MODEL_CACHE"
#: Archive bombs: the most bytes an archive may expand to (default 32 GiB; bytes really written).
MAX_EXTRACT_BYTES = "MLFN_MAX_EXTRACT_BYTES"
#: ... and at most this many times the archive's own size (default 200, but always 256 MiB
#: allowed; 0 leaves only MLFN_MAX_EXTRACT_BYTES).
MAX_EXTRACT_RATIO = "MLFN_MAX_EXTRACT_RATIO"
#: ... and at most this many members (default 100,000).
MAX_EXTRACT_MEMBERS = "MLFN_MAX_EXTRACT_MEMBERS"
#: Seconds a SIGTERM drain may take: in-flight requests are answered, then the process exits
#: (default 30; adapters set it below the platform's kill deadline, e.g. Cloud Run's 10 s).
GRACEFUL_SECONDS = "MLFN_GRACEFUL_SECONDS"
#: Header lines per request (default 100; more is a 431).
MAX_HEADERS = "MLFN_MAX_HEADERS"
#: Bytes of request line and headers (default 65536; more is a 431).
MAX_HEADER_BYTES = "MLFN_MAX_HEADER_BYTES"
#: Seconds from a request's first byte to its complete headers, and that a new connection may stay
#: silent (default 10; later is a 408 and the connection is closed).
HEADER_TIMEOUT_SECONDS = "MLFN_HEADER_TIMEOUT_SECONDS"
#: Seconds an idle keep-alive connection stays open (default 5).
KEEP_ALIVE_SECONDS = "MLFN_KEEP_ALIVE_SECONDS"
#: With several workers, the directory they share for Prometheus metrics; it must be writable
#: (default: a new folder in $TMPDIR or /tmp, else /dev/shm; with none, metrics are per worker).
METRICS_DIR = "MLFN_METRICS_DIR"

ENV_VARS = (
    MODEL_URI,
    MODEL_NAME,
    MODEL_FORMAT,
    MODEL_HANDLER,
    MAX_BODY_BYTES,
    WORKERS,
    API_KEYS,
    LOG_REQUESTS,
    BATCHING,
    API_KEYS_AWS_SECRET,
    MODEL_CACHE,
    MAX_EXTRACT_BYTES,
    MAX_EXTRACT_RATIO,
    MAX_EXTRACT_MEMBERS,
    GRACEFUL_SECONDS,
    MAX_HEADERS,
    MAX_HEADER_BYTES,
    HEADER_TIMEOUT_SECONDS,
    KEEP_ALIVE_SECONDS,
    METRICS_DIR,
)

# Platform variables the runtime reads.
PORT_VARS = ("SAGEMAKER_BIND_TO_PORT", "AIP_HTTP_PORT", "PORT")
DEFAULT_PORT = 8080
AIP_STORAGE_URI = "AIP_STORAGE_URI"
AIP_HEALTH_ROUTE = "AIP_HEALTH_ROUTE"
AIP_PREDICT_ROUTE = "AIP_PREDICT_ROUTE"
AZUREML_MODEL_DIR = "AZUREML_MODEL_DIR"
#: The platforms' model-location variables (a local server must not inherit them from the shell).
MODEL_LOCATION_VARS = (AIP_STORAGE_URI, AZUREML_MODEL_DIR)
# Where platforms put the model when no variable says, in the order they are tried.
PLATFORM_MODEL_DIRS = ("/mnt/models", "/opt/ml/model")

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024

# ---------------------------------------------------------------- routes
PING = "/ping"  # SageMaker health
INVOCATIONS = "/invocations"  # SageMaker predict
AZURE_LIVE = "/health/live"
AZURE_READY = "/health/ready"
AZURE_SCORE = "/score"
V1_LIVE = "/"  # KServe V1 server liveness
V1_MODELS = "/v1/models"
V1_MODEL = "/v1/models/{name}"
V1_PREDICT = "/v1/models/{name}:predict"
V2_SERVER = "/v2"
V2_LIVE = "/v2/health/live"
V2_READY = "/v2/health/ready"
V2_MODEL = "/v2/models/{name}"
V2_MODEL_READY = "/v2/models/{name}/ready"
V2_INFER = "/v2/models/{name}/infer"
# The same three with a version: the runtime serves one version of one model, so any version
# names it (as KServe's own model server does).
V2_MODEL_VERSION = "/v2/models/{name}/versions/{version}"
V2_MODEL_VERSION_READY = "/v2/models/{name}/versions/{version}/ready"
V2_INFER_VERSION = "/v2/models/{name}/versions/{version}/infer"
METRICS = "/metrics"
#: The ``route`` labels of the metrics whose requests run the model (every protocol's predict route):
#: ``mlfn cost`` takes its default mean latency from these on a running local stack.
PREDICTION_METRIC_ROUTES = frozenset({"invocations", "score", "vertex_predict", "v1_predict", "v2_infer"})
OPENAPI = "/openapi.json"

LIVENESS_ROUTE = AZURE_LIVE
READINESS_ROUTE = AZURE_READY
# What mlfn gives Vertex AI as the model's healthRoute and predictRoute (they become
# AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE): routes the runtime already serves.
VERTEX_HEALTH = READINESS_ROUTE
VERTEX_PREDICT = INVOCATIONS

# ---------------------------------------------------------------- model formats
FORMATS = ("sklearn", "onnx", "pytorch", "xgboost", "custom")
# File suffix -> format, for when neither the manifest nor a variable says.
SUFFIX_FORMATS = {
    ".joblib": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".skops": "sklearn",
    ".onnx": "onnx",
    ".pt2": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".ubj": "xgboost",
}

MANIFEST_FILE = "mlfn-manifest.json"
MANIFEST_SCHEMA_VERSION = 1


class ManifestError(ValueError):
    """The manifest is missing a field, has a bad value or cannot be read."""


@dataclass(frozen=True)
class Manifest:
    """What to load: written beside the model by the build and by the local engine."""

    name: str
    format: str
    model_file: str | None = None
    handler: str | None = None
    schema_version: int = MANIFEST_SCHEMA_VERSION
    #: {distribution: version} the model was saved with (e.g. scikit-learn), pinned in the image.
    libraries: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.libraries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.libraries.items()
        ):
            raise ManifestError(f"{MANIFEST_FILE}: libraries must map distribution names to versions")
        if self.format not in FORMATS:
            raise ManifestError(
                f"{MANIFEST_FILE}: format: {self.format!r} is not one of {', '.join(FORMATS)}"
            )
        if not self.name:
            raise ManifestError(f"{MANIFEST_FILE}: name must not be empty")
        if self.format == "custom" and not self.handler:
            raise ManifestError(f"{MANIFEST_FILE}: format custom needs a handler (module:Class)")

    def to_json(self) -> str:
        data = asdict(self)
        if not data["libraries"]:
            del data["libraries"]  # manifests without recorded versions stay as they were
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(self, model_dir: str | os.PathLike[str]) -> Path:
        path = Path(model_dir) / MANIFEST_FILE
        path.write_text(self.to_json())
        return path

    @classmethod
    def read(cls, model_dir: str | os.PathLike[str]) -> Manifest | None:
        path = Path(model_dir) / MANIFEST_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ManifestError(f"{path}: not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: expected a JSON object")
        version = data.get("schema_version", MANIFEST_SCHEMA_VERSION)
        if version != MANIFEST_SCHEMA_VERSION:
            raise ManifestError(
                f"{path}: schema_version {version!r} is not supported "
                f"(this runtime reads {MANIFEST_SCHEMA_VERSION})"
            )
        known = {"name", "format", "model_file", "handler", "schema_version", "libraries"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ManifestError(f"{path}: unknown fields {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as e:
            raise ManifestError(f"{path}: {e}") from e


def infer_format(model_file: str | os.PathLike[str]) -> str | None:
    """The format a model file's name implies, or None when it says nothing."""
    path = Path(model_file)
    suffix = path.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix == ".json" and path.name != MANIFEST_FILE:
        return "xgboost"
    return None


def find_model_file(model_dir: str | os.PathLike[str]) -> Path | None:
    """The single file in a model directory whose suffix names a format."""
    root = Path(model_dir)
    if root.is_file():
        return root
    candidates = sorted(
        p for p in root.iterdir() if p.is_file() and infer_format(p) is not None
    )
    if len(candidates) == 1:
        return candidates[0]
    # Prefer the unambiguous formats over xgboost's generic .json.
    strong = [p for p in candidates if p.suffix.lower() != ".json"]
    return strong[0] if len(strong) == 1 else None


def port_from_env(env: Mapping[str, str]) -> int:
    """SAGEMAKER_BIND_TO_PORT, else AIP_HTTP_PORT, else PORT, else 8080."""
    for var in PORT_VARS:
        value = env.get(var)
        if value:
            try:
                return int(value)
            except ValueError as e:
                raise ValueError(f"{var}={value!r} is not a port number") from e
    return DEFAULT_PORT


def container_env(
    *,
    model_name: str,
    model_format: str,
    handler: str | None = None,
    model_uri: str | None = None,
) -> dict[str, str]:
    """The environment an adapter gives the runtime container (secrets excluded)."""
    env = {MODEL_NAME: model_name, MODEL_FORMAT: model_format}
    if handler:
        env[MODEL_HANDLER] = handler
    if model_uri:
        env[MODEL_URI] = model_uri
    return env
