import runpy

import pytest
from helpers import EXAMPLES

from mlfn.component import TYPE_TOKEN
from mlfn.plan import run_program


def test_from_files_example_runs_under_mocks(tmp_path, monkeypatch):
    stack = tmp_path / "fake.yaml"
    stack.write_text("cloud: fake\nregion: eu-1\n")
    monkeypatch.setenv("MLFN_STACK_FILE", str(stack))

    def program():
        runpy.run_path(str(EXAMPLES / "pulumi-program" / "__main__.py"), run_name="__main__")

    resources = run_program(program, "host-program", "dev")
    by_type = {r.type: r for r in resources}
    assert by_type[TYPE_TOKEN].name == "iris"
    assert by_type["fake:index:Endpoint"].parent == "iris"
    assert by_type["fake:index:Endpoint"].inputs["target"] == "serverless"


def test_from_files_with_a_bad_stack_file_fails_clearly(tmp_path, monkeypatch):
    from mlfn.errors import StackError

    stack = tmp_path / "fake.yaml"
    stack.write_text("cloud: fake\nregion: eu-1\ntarget: nope\n")
    monkeypatch.setenv("MLFN_STACK_FILE", str(stack))
    with pytest.raises(StackError, match="target: 'nope' is not a target of cloud fake"):
        runpy.run_path(str(EXAMPLES / "pulumi-program" / "__main__.py"), run_name="__main__")
