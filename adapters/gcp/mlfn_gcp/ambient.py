"""Location defaults from the gcloud CLI's active configuration: ``[core] project`` and
``[compute] region`` of ``<config dir>/configurations/config_<active>``.

https://cloud.google.com/sdk/docs/configurations (CLOUDSDK_CONFIG moves the folder;
CLOUDSDK_ACTIVE_CONFIG_NAME or the ``active_config`` file names the active configuration)
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path


def ambient(env: Mapping[str, str]) -> dict[str, str]:
    home = Path(env.get("HOME") or Path.home())
    folder = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud")
    name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME")
    if not name:
        try:
            name = (folder / "active_config").read_text().strip() or "default"
        except OSError:
            name = "default"
    config = configparser.ConfigParser()
    try:
        config.read(folder / "configurations" / f"config_{name}")
    except (OSError, configparser.Error):
        return {}
    out = {}
    project = config.get("core", "project", fallback=None)
    region = config.get("compute", "region", fallback=None)
    if project:
        out["project"] = project
    if region:
        out["region"] = region
    return out
