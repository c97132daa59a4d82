"""Typed settings, read once at start-up from the environment (never inside predict)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import contract as c
from .archive import ExtractLimits
from .workers import default_workers, visible_gpus


class SettingsError(ValueError):
    """An environment variable has a value the runtime cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r} is not an integer") from e
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    raise SettingsError(f"{name}={raw!r}: use on or off")


def _log_rate(raw: str | None) -> float:
    """MLFN_LOG_REQUESTS: off/0 (default: errors only), on/1 (every request) or a sample rate 0-1."""
    if raw is None or raw.strip().lower() in ("", "0", "off", "false", "no"):
        return 0.0
    if raw.strip().lower() in ("1", "on", "true", "yes", "all"):
        return 1.0
    try:
        rate = float(raw)
    except ValueError as e:
        raise SettingsError(f"{c.LOG_REQUESTS}={raw!r}: use off, on, or a sample rate between 0 and 1") from e
    if not 0.0 <= rate <= 1.0:
        raise SettingsError(f"{c.LOG_REQUESTS}={raw!r}: a sample rate must be between 0 and 1")
    return rate


def _aws_secret(arn: str) -> str:
    """The API keys kept in AWS Secrets Manager (boto3 is in every Lambda base image)."""
    try:
        import boto3
    except ImportError as e:
        raise SettingsError(f"{c.API_KEYS_AWS_SECRET} needs boto3: pip install 'mlfn-runtime[s3]'") from e
    try:
        return boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    except Exception as e:  # botocore raises many types; all mean the keys cannot be read
        raise SettingsError(f"{c.API_KEYS_AWS_SECRET}: cannot read {arn}: {e}") from e


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from e
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name}={raw!r} must be a positive number of seconds")
    return value


@dataclass(frozen=True)
class HttpLimits:
    """What one request head and one connection may cost (``server.MlfnHttpProtocol``)."""

    #: MLFN_MAX_HEADERS: header lines per request (more: 431).
    max_headers: int = 100
    #: MLFN_MAX_HEADER_BYTES: request line and headers together (more: 431).
    max_header_bytes: int = 64 * 1024
    #: MLFN_HEADER_TIMEOUT_SECONDS: from a request's first byte to its complete headers (later: 408);
    #: also how long a new connection may stay silent.
    header_timeout: float = 10.0
    #: MLFN_KEEP_ALIVE_SECONDS: an idle keep-alive connection is closed after this long.
    keep_alive_timeout: float = 5.0
    #: During a drain, a connection idle in the server's view is closed after this long without a
    #: request (one may still be in the kernel's buffer: closing at once would reset it).
    drain_idle_seconds: float = 1.0


def http_limits(env: Mapping[str, str]) -> HttpLimits:
    d = HttpLimits()
    return HttpLimits(
        max_headers=_int(env, c.MAX_HEADERS, d.max_headers),
        max_header_bytes=_int(env, c.MAX_HEADER_BYTES, d.max_header_bytes, minimum=1024),
        header_timeout=_seconds(env, c.HEADER_TIMEOUT_SECONDS, d.header_timeout),
        keep_alive_timeout=_seconds(env, c.KEEP_ALIVE_SECONDS, d.keep_alive_timeout),
    )


def api_keys(raw: str, source: str, required: bool = False) -> tuple[str, ...]:
    """The comma-separated keys in ``raw``. A setting that is there but names no key (``" , ,"``,
    an empty secret) stops the start: it must never mean "no authentication"."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys and (raw or required):
        shown = f"={raw!r}" if source == c.API_KEYS else ""  # only commas and spaces: nothing secret
        raise SettingsError(
            f"{source}{shown} is set but holds no usable API key; refusing to start without "
            f"authentication (set at least one key, or unset {source} to serve without keys)"
        )
    return keys


def extract_limits(env: Mapping[str, str]) -> ExtractLimits:
    """MLFN_MAX_EXTRACT_BYTES / _RATIO / _MEMBERS: what a model archive may expand to."""
    d = ExtractLimits()
    return ExtractLimits(
        max_bytes=_int(env, c.MAX_EXTRACT_BYTES, d.max_bytes),
        ratio=_int(env, c.MAX_EXTRACT_RATIO, d.ratio, minimum=0),
        max_members=_int(env, c.MAX_EXTRACT_MEMBERS, d.max_members),
    )


def on_lambda(env: Mapping[str, str]) -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in env


@dataclass(frozen=True)
class Settings:
    port: int = c.DEFAULT_PORT
    host: str = "0.0.0.0"
    model_uri: str | None = None
    model_name: str | None = None
    model_format: str | None = None
    model_handler: str | None = None
    max_body_bytes: int = c.DEFAULT_MAX_BODY_BYTES
    workers: int = 1
    #: GPU ids the workers are pinned to, one each in turn (see ``workers``).
    gpus: tuple[str, ...] = ()
    metrics_dir: str | None = None
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    log_rate: float = 0.0
    vertex_health_route: str | None = None
    vertex_predict_route: str | None = None
    batching: bool = True
    cache_dir: Path = Path("/tmp/mlfn-model")
    extract_limits: ExtractLimits = field(default_factory=ExtractLimits)
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    graceful_seconds: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            port = c.port_from_env(env)
        except ValueError as e:
            raise SettingsError(str(e)) from e
        fmt = env.get(c.MODEL_FORMAT) or None
        if fmt is not None and fmt not in c.FORMATS:
            raise SettingsError(f"{c.MODEL_FORMAT}={fmt!r} is not one of {', '.join(c.FORMATS)}")
        if not env.get(c.API_KEYS) and env.get(c.API_KEYS_AWS_SECRET):
            keys = api_keys(_aws_secret(env[c.API_KEYS_AWS_SECRET]), c.API_KEYS_AWS_SECRET, required=True)
        else:
            keys = api_keys(env.get(c.API_KEYS, ""), c.API_KEYS)
        gpus = () if on_lambda(env) else visible_gpus(env)
        return cls(
            port=port,
            host=env.get("MLFN_HOST", "0.0.0.0"),
            model_uri=env.get(c.MODEL_URI) or None,
            model_name=env.get(c.MODEL_NAME) or None,
            model_format=fmt,
            model_handler=env.get(c.MODEL_HANDLER) or None,
            max_body_bytes=_int(env, c.MAX_BODY_BYTES, c.DEFAULT_MAX_BODY_BYTES),
            workers=_int(env, c.WORKERS, 1 if on_lambda(env) else default_workers(gpus)),
            gpus=gpus,
            metrics_dir=env.get(c.METRICS_DIR) or env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            api_keys=keys,
            log_rate=_log_rate(env.get(c.LOG_REQUESTS)),
            vertex_health_route=env.get(c.AIP_HEALTH_ROUTE) or None,
            vertex_predict_route=env.get(c.AIP_PREDICT_ROUTE) or None,
            batching=_flag(env, c.BATCHING, True),
            cache_dir=Path(env.get(c.MODEL_CACHE, "/tmp/mlfn-model")),
            extract_limits=extract_limits(env),
            graceful_seconds=_int(env, c.GRACEFUL_SECONDS, 30),
            http_limits=http_limits(env),
        )


def model_location(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """Where the model is: MLFN_MODEL_URI, else the platform's location, in contract order."""
    env = os.environ if env is None else env
    if settings.model_uri:
        return settings.model_uri
    if env.get(c.AIP_STORAGE_URI):
        return env[c.AIP_STORAGE_URI]
    if env.get(c.AZUREML_MODEL_DIR):
        return env[c.AZUREML_MODEL_DIR]
    for d in c.PLATFORM_MODEL_DIRS:
        if Path(d).is_dir() and any(Path(d).iterdir()):
            return d
    tried = [c.MODEL_URI, c.AIP_STORAGE_URI, c.AZUREML_MODEL_DIR, *c.PLATFORM_MODEL_DIRS]
    raise SettingsError(f"no model found: set {c.MODEL_URI} (tried {', '.join(tried)})")
