"""One JSON object per stderr line, for the runtime's own loggers, uvicorn's and Python warnings.

The same configuration is applied in the serving process and in every worker process (uvicorn
applies ``LOGGING`` in each worker it spawns), so no line is plain text and no worker is silent.
"""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process id, message (and the exception, if any).

    The process id tells the workers of one container apart (each worker loads its own model and
    answers its own connections)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "pid": record.process, "message": record.getMessage()}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def _json_formatter() -> JsonFormatter:
    # dictConfig calls this in every process that applies LOGGING: warnings.warn(...) goes to the
    # "py.warnings" logger, hence through this formatter, instead of plain text on stderr.
    logging.captureWarnings(True)
    return JsonFormatter()


#: For ``logging.config.dictConfig`` and uvicorn's ``log_config``.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mlfn_runtime.logs._json_formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        # uvicorn's own lines reach the root handler above, as JSON, and nowhere else.
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": True},
    },
}


def configure() -> None:
    logging.config.dictConfig(LOGGING)
