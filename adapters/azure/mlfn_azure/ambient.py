"""Location defaults from the Azure CLI's own files: the default subscription of
``azureProfile.json`` and ``[defaults] location`` / ``group`` of ``config`` (both in
AZURE_CONFIG_DIR, else ~/.azure).

https://learn.microsoft.com/cli/azure/azure-cli-configuration (az config set defaults.location=...)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from mlfn.adapter import cli_home, ini_values


def ambient(env: Mapping[str, str]) -> dict[str, str]:
    folder = Path(env.get("AZURE_CONFIG_DIR") or cli_home(env) / ".azure")
    out: dict[str, str] = {}
    try:
        # The CLI writes the profile with a byte-order mark.
        profile = json.loads((folder / "azureProfile.json").read_text(encoding="utf-8-sig"))
        default = next((s for s in profile.get("subscriptions", []) if s.get("isDefault")), None)
        if default and default.get("id"):
            out["subscription"] = default["id"]
    except (OSError, ValueError, AttributeError):
        pass
    return {**out, **ini_values(folder / "config",
                                {"location": ("defaults", "location"), "resource_group": ("defaults", "group")})}
