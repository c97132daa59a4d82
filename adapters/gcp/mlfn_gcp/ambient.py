"""Location defaults from the gcloud CLI's active configuration: ``[core] project`` and
``[compute] region`` of ``<config dir>/configurations/config_<active>``.

https://cloud.google.com/sdk/docs/configurations (CLOUDSDK_CONFIG moves the folder;
CLOUDSDK_ACTIVE_CONFIG_NAME or the ``active_config`` file names the active configuration)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlfn.adapter import cli_home, ini_values


def ambient(env: Mapping[str, str]) -> dict[str, str]:
    folder = Path(env.get("CLOUDSDK_CONFIG") or cli_home(env) / ".config" / "gcloud")
    name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME")
    if not name:
        try:
            name = (folder / "active_config").read_text().strip() or "default"
        except OSError:
            name = "default"
    return ini_values(folder / "configurations" / f"config_{name}",
                      {"project": ("core", "project"), "region": ("compute", "region")})
