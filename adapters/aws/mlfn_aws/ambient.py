"""Location defaults from the AWS CLI's own configuration (~/.aws/config), as the AWS CLI and SDKs
read it: the profile named by AWS_PROFILE (else ``default``), its ``region``.

https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlfn.adapter import cli_home, ini_values


def ambient(env: Mapping[str, str]) -> dict[str, str]:
    path = Path(env.get("AWS_CONFIG_FILE") or cli_home(env) / ".aws" / "config")
    profile = env.get("AWS_PROFILE") or "default"
    section = profile if profile == "default" else f"profile {profile}"
    return ini_values(path, {"region": (section, "region")})
