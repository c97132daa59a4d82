"""``mlfn-runtime serve`` (also a bare ``serve``, as SageMaker starts images) and ``mlfn-runtime fetch``."""

from __future__ import annotations

import argparse
import os
import sys

from . import contract as c


def serve(port: int | None = None, host: str | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; in-flight requests finish within the grace period."""
    import logging

    import uvicorn

    from . import logs
    from .settings import Settings, SettingsError

    logs.configure()
    log = logging.getLogger("mlfn_runtime")
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        log.error("mlfn-runtime: %s", e)
        return 2
    from .server import MlfnHttpProtocol, Server

    limits = settings.http_limits
    common = dict(
        host=host or settings.host, port=port or settings.port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=settings.graceful_seconds, loop="auto", http=MlfnHttpProtocol,
        timeout_keep_alive=limits.keep_alive_timeout, log_config=logs.LOGGING,
    )
    if settings.gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = settings.gpus[0]  # several workers: each gets its own
    if settings.workers <= 1:
        from .app import build_app, load_model

        app = build_app(settings, loader=lambda: load_model(settings))
        config = uvicorn.Config(app, **common)
        config.mlfn_limits = limits  # read by MlfnHttpProtocol
        Server(config).run()
        _exit_if_threads_linger()
        return 0
    return _serve_workers(settings, common, log)


def _exit_if_threads_linger() -> None:
    """The drain is over (MLFN_GRACEFUL_SECONDS): a model call still running on a worker thread
    (non-daemon) must not hold the exit until it returns, so end the process now."""
    import logging
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _serve_workers(settings, common: dict, log) -> int:
    """Several workers. This process fetches a remote model once and never loads it: each worker
    loads its own copy, and a worker that cannot load it ends the start with status 1."""
    import uvicorn

    from . import contract as c
    from .fetch import FetchError, local_model_dir
    from .server import run_workers
    from .settings import SettingsError, model_location
    from .workers import MetricsDirError, metrics_dir

    try:
        shared = metrics_dir(settings.metrics_dir)
    except MetricsDirError as e:
        log.error("mlfn-runtime: %s (%s)", e, c.METRICS_DIR)
        return 2
    if shared is None:
        log.warning("no writable directory for metrics shared by the workers ($TMPDIR, /tmp, "
                    "/dev/shm): /metrics shows one worker's counts; set %s to a writable path",
                    c.METRICS_DIR)
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    try:
        location = model_location(settings)
        directory = local_model_dir(location, settings.cache_dir, settings.extract_limits)
    except (SettingsError, FetchError) as e:
        log.error("mlfn-runtime: the model failed to load: %s", e)
        return 1
    os.environ[c.MODEL_URI] = str(directory)  # the workers load what was fetched here
    config = uvicorn.Config("mlfn_runtime.app:create_app", factory=True, workers=settings.workers, **common)
    config.mlfn_limits = settings.http_limits  # travels to the workers with the config
    log.info("starting %d workers%s", settings.workers,
             f", one GPU each of {','.join(settings.gpus)}" if settings.gpus else "")
    status = run_workers(config, settings.gpus)
    if status:
        log.error("mlfn-runtime: a worker could not start (the model failed to load: see above)")
    return status


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
