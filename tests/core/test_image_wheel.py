"""The build context carries a wheel of the installed runtime: it works from a checkout and from a wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from helpers import example_project
from mlfn_runtime.contract import Manifest

from mlfn.image import write_context
from mlfn.image.wheel import runtime_wheel

MANIFEST = Manifest(name="iris", format="sklearn", model_file="model.joblib")


def test_wheel_holds_the_package_and_its_metadata_and_is_reproducible(tmp_path):
    first = runtime_wheel(tmp_path / "a")
    second = runtime_wheel(tmp_path / "b")
    assert first.name == "mlfn_runtime-0.1.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert "mlfn_runtime/app.py" in names and "mlfn_runtime/contract.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    info = "mlfn_runtime-0.1.0.dist-info/"
    assert {info + "METADATA", info + "WHEEL", info + "RECORD", info + "entry_points.txt"} <= set(names)
    entry_points = zipfile.ZipFile(first).read(info + "entry_points.txt").decode()
    assert "mlfn-runtime = mlfn_runtime.cli:main" in entry_points  # the image's ENTRYPOINT
    record = zipfile.ZipFile(first).read(info + "RECORD").decode().splitlines()
    assert len(record) == len(names) and all(line.count(",") == 2 for line in record)


_PLAN_IN_VENV = r"""
import json, sys
from pathlib import Path
import mlfn_runtime
import mlfn
from mlfn.image.wheel import package_files
project = Path(sys.argv[1])
plan = json.loads(mlfn.plan(project, stack="kubernetes-deployment").to_json())
(image,) = [r for r in plan["resources"] if r["type"] == "docker-build:index:Image"]
print(json.dumps({"runtime": mlfn_runtime.__file__, "tag": image["inputs"]["tags"][0],
                  "files": sorted(package_files())}))
"""


def test_runtime_installed_from_a_wheel_plans_an_image_building_target(tmp_path):
    """mlfn-runtime from a wheel in a fresh venv (no source tree anywhere): the context is still made."""
    wheel = runtime_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True)
    fresh = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip())
    assert (fresh / "mlfn_runtime" / "app.py").exists()
    # The runtime's dependencies and mlfn itself come from this environment, after the fresh site-packages,
    # so `mlfn_runtime` and its metadata resolve to the wheel's copy.
    dev = sysconfig.get_paths()["purelib"]
    (fresh / "zz_dev.pth").write_text(f"import site; site.addsitedir({dev!r})\n")
    project = example_project(tmp_path, ("kubernetes-deployment",))
    out = subprocess.run([str(py), "-c", _PLAN_IN_VENV, str(project)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["runtime"]).is_relative_to(fresh), got["runtime"]
    assert not (fresh / "pyproject.toml").exists() and not (fresh.parent / "pyproject.toml").exists()
    context = project / ".mlfn" / "build" / "kubernetes-deployment-kubernetes-cpu"
    (built,) = (context / "runtime").iterdir()
    assert built.read_bytes() == wheel.read_bytes(), "the same runtime gives the same wheel however installed"
    assert "mlfn_runtime/app.py" in got["files"]
    # ...and so the same image tag as planning from this checkout.
    here = write_context(tmp_path / "here", variant="cpu", manifest=MANIFEST)
    there = subprocess.run([str(py), "-c", "from mlfn.image import write_context\n"
                            "from mlfn_runtime.contract import Manifest\n"
                            "import sys\n"
                            "m = Manifest(name='iris', format='sklearn', model_file='model.joblib')\n"
                            "print(write_context(sys.argv[1], variant='cpu', manifest=m).tag)",
                            str(tmp_path / "there")], capture_output=True, text=True, check=True)
    assert there.stdout.strip() == here.tag
