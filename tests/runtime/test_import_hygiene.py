import subprocess
import sys

HEAVY = ("sklearn", "onnxruntime", "torch", "boto3", "pandas", "xgboost", "pulumi", "mlfn")


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_mlfn_runtime_is_light():
    mods = imported_after("import mlfn_runtime, mlfn_runtime.contract")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_the_app_loads_only_what_the_format_needs():
    mods = imported_after("import mlfn_runtime.app, mlfn_runtime.cli, mlfn_runtime.fetch")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_contract_imports_only_the_standard_library():
    mods = imported_after("import mlfn_runtime.contract")
    assert "numpy" not in mods and "pydantic" not in mods and "fastapi" not in mods
