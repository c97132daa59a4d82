"""Location defaults from the AWS CLI's own configuration (~/.aws/config), as the AWS CLI and SDKs
read it: the profile named by AWS_PROFILE (else ``default``), its ``region``.

https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path


def ambient(env: Mapping[str, str]) -> dict[str, str]:
    home = Path(env.get("HOME") or Path.home())
    path = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    profile = env.get("AWS_PROFILE") or "default"
    config = configparser.ConfigParser()
    try:
        config.read(path)
    except (OSError, configparser.Error):
        return {}
    section = profile if profile == "default" else f"profile {profile}"
    region = config.get(section, "region", fallback=None)
    return {"region": region} if region else {}
