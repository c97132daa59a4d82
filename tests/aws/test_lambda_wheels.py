"""The Lambda image's requirements resolve as wheels for Lambda's own platform.

The CI's stand-in Lambda base is Debian (it always finds wheels); Lambda's python3.12+ bases are
Amazon Linux 2023, glibc 2.34 (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), and
have no compiler: a requirement without a manylinux_2_34 x86_64 wheel for CPython 3.12 fails the
build there. pip resolves for another platform with ``--platform``/``--python-version`` and
``--only-binary=:all:`` (https://pip.pypa.io/en/stable/cli/pip_download/).

Needs PyPI: skipped with the reason when it cannot be reached, except under ``CI=true``, where that
is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from helpers import example_project

import mlfn

GLIBC = (2, 34)
#: Every wheel platform a glibc 2.34 x86_64 system takes, newest first. ``--platform
#: manylinux_2_34_x86_64`` alone is not that: pip expands only the legacy names (manylinux2014 to
#: manylinux2010 and manylinux1), so a perennial tag matches wheels of exactly that tag and orjson's
#: or numpy's manylinux_2_17 wheels are "not found".
PLATFORMS = [f"manylinux_{GLIBC[0]}_{minor}_x86_64" for minor in range(GLIBC[1], 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
INDEX = "https://pypi.org/simple/"


def pypi_reachable() -> None:
    try:
        urllib.request.urlopen(INDEX + "pip/", timeout=10).close()
    except (urllib.error.URLError, OSError) as e:
        reason = f"PyPI ({INDEX}) cannot be reached: {e}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this check must run)", pytrace=False)
        pytest.skip(reason)


def test_lambda_requirements_resolve_as_wheels_for_lambdas_platform(tmp_path):
    """The whole tree the Lambda image of examples/iris-sklearn installs (the plan's own build context:
    requirements, the model's pins, the runtime wheel and its extras) resolves with wheels only, for
    CPython 3.12 on manylinux_2_34 x86_64.

    The whole tree rather than ``pip download --no-deps`` of the direct requirements: numpy and scipy,
    the packages with no wheels on the old Amazon Linux 2 base, come in as dependencies of scikit-learn.
    ``pip install --dry-run --report`` resolves it for that platform from the index's metadata
    without downloading every wheel.
    """
    pypi_reachable()
    project = example_project(tmp_path, ("aws-lambda",))
    mlfn.plan(project, stack="aws-lambda")
    (ctx,) = (project / ".mlfn" / "build").glob("*lambda*")
    dockerfile = (ctx / "Dockerfile").read_text()
    python = re.search(r"public\.ecr\.aws/lambda/python:(\d+\.\d+)", dockerfile)[1]
    assert python == "3.12"
    extras = re.search(r"\.whl\[([^\]]*)\]", dockerfile)[1]
    (wheel,) = (ctx / "runtime").glob("*.whl")
    report = tmp_path / "report.json"
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
           str(report), "--only-binary=:all:", *platforms, "--python-version", python, "--implementation", "cp",
           "--target", str(tmp_path / "target"), "--index-url", INDEX,
           "-r", str(ctx / "requirements.txt"), "-c", str(ctx / "constraints.txt"), f"{wheel}[{extras}]"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, f"no wheels for Lambda's platform:\n{p.stderr[-3000:]}"
    installs = json.loads(report.read_text())["install"]
    versions = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}
    not_wheels = [i["download_info"]["url"] for i in installs
                  if not i["download_info"]["url"].endswith(".whl")]
    assert not_wheels == []
    assert {"numpy", "scipy", "scikit-learn", "mangum"} <= set(versions)
    pins = dict(line.split("==") for line in (ctx / "constraints.txt").read_text().split() if "==" in line)
    for name, version in pins.items():
        resolved = versions[name.lower()]
        assert resolved == version, f"{name}: the model's pin {version}, resolved {resolved}"
