"""``mlfn-runtime serve`` (also a bare ``serve``, as SageMaker starts images) and ``mlfn-runtime fetch``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from . import contract as c


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        data = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def serve(port: int | None = None, host: str | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; in-flight requests finish within the grace period."""
    import uvicorn

    from .errors import ModelLoadError
    from .settings import Settings, SettingsError

    _configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        sys.stderr.write(f"mlfn-runtime: {e}\n")
        return 2
    port = port or settings.port
    host = host or settings.host
    from .server import MlfnHttpProtocol, Server

    limits = settings.http_limits
    common = dict(
        host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=settings.graceful_seconds, loop="auto", http=MlfnHttpProtocol,
        timeout_keep_alive=limits.keep_alive_timeout,
    )
    if settings.workers <= 1:
        from .app import build_app, load_model

        app = build_app(settings, loader=lambda: load_model(settings))
        config = uvicorn.Config(app, **common)
        config.mlfn_limits = limits  # read by MlfnHttpProtocol
        Server(config).run()
        return 0
    # Several workers: load once here to fail fast with the loader's error, then let each worker load.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mlfn-metrics-"))
    from .app import load_model

    try:
        load_model(settings)
    except ModelLoadError as e:
        sys.stderr.write(f"mlfn-runtime: the model failed to load: {e}\n")
        return 1
    uvicorn.run("mlfn_runtime.app:create_app", factory=True, workers=settings.workers, **common)
    return 0


def fetch_cmd(uri: str, dest: str) -> int:
    from .fetch import FetchError, fetch
    from .settings import SettingsError, extract_limits

    try:
        limits = extract_limits(os.environ)
    except SettingsError as e:
        sys.stderr.write(f"mlfn-runtime fetch: {e}\n")
        return 2
    try:
        where = fetch(uri, dest, limits)
    except FetchError as e:
        sys.stderr.write(f"mlfn-runtime fetch: {e}\n")
        return 1
    print(f"fetched {uri} into {where}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlfn-runtime", description="mlfn's serving runtime.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the model (every cloud's routes at once)")
    s.add_argument("--port", type=int, default=None, help=f"default: {', '.join(c.PORT_VARS)}, else 8080")
    s.add_argument("--host", default=None)
    f = sub.add_parser("fetch", help="download and safely unpack a model into a directory")
    f.add_argument("uri")
    f.add_argument("dir")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port, args.host)
    return fetch_cmd(args.uri, args.dir)


def serve_main() -> None:
    """The bare ``serve`` command: ``docker run IMAGE serve``."""
    sys.exit(serve())


if __name__ == "__main__":
    sys.exit(main())
