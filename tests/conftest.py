"""Shared fixtures: fake cloud credentials for every test, projects to plan, golden files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import EXAMPLES

from mlfn import registry


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="rewrite golden plan files from the current output instead of comparing",
    )


@pytest.fixture(autouse=True)
def fake_cloud_credentials(monkeypatch):
    """No test can reach a real account: credentials point nowhere real."""
    if os.environ.get("MLFN_LIVE_TESTS") == "1":
        return
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def golden(request):
    """compare(name, text): equal to tests/<dir>/golden/<name>, or rewritten with --update-golden."""
    update = request.config.getoption("--update-golden")
    folder = Path(request.fspath).parent / "golden"

    def compare(name: str, text: str) -> None:
        path = folder / name
        if update:
            folder.mkdir(exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"{path} is missing: run pytest --update-golden once and review it"
        assert text == path.read_text(), f"{name} differs from its golden file (pytest --update-golden rewrites it)"

    return compare


@pytest.fixture
def iris_project(tmp_path) -> Path:
    """A copy of examples/iris-sklearn, free to change."""
    dest = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", dest, ignore=shutil.ignore_patterns(".mlfn"))
    return dest



def pytest_terminal_summary(terminalreporter):
    """Seconds per test group (tests/<group>), so every change can see its share of CI's budget."""
    groups: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for r in reports:
            nodeid = getattr(r, "nodeid", "")
            duration = getattr(r, "duration", None)
            if not nodeid.startswith("tests/") or duration is None:
                continue
            group = nodeid.split("/")[1]
            groups[group] = groups.get(group, 0.0) + duration
    if groups:
        terminalreporter.write_sep("-", "seconds per test group")
        for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"::phase tests/{group}: {seconds:.0f} s")
