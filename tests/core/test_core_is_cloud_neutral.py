"""The core knows no cloud by name: adding a cloud needs no edit under mlfn/.

Comments and docstrings may name clouds as examples; code, strings and identifiers may not. The
one exception is the table of first-party adapter distributions (registry.KNOWN_PACKAGES), used
only to say how to install one that is missing.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import mlfn

CORE = Path(mlfn.__file__).parent
FORBIDDEN = re.compile(
    r"\b(aws|gcp|azure|kubernetes|k8s|sagemaker|vertex|azureml|containerapps|container_apps|cloudrun|cloud_run"
    r"|kserve|knative|lambda_|boto3|botocore|pulumi_aws|pulumi_gcp|pulumi_azure_native|pulumi_kubernetes"
    r"|google\.cloud|AWS_\w+|GOOGLE_\w+|GCLOUD\w*|CLOUDSDK_\w+|AZURE_\w+|ARM_\w+|KUBECONFIG|AIP_\w+|AZUREML_\w+"
    r"|SAGEMAKER_\w+)\b",
    re.IGNORECASE,
)
ALLOWED = {("registry.py", "KNOWN_PACKAGES")}


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def cloud_names_in_code(path: Path) -> list[str]:
    """``file:line: token`` for every cloud name in code or strings (not comments or docstrings)."""
    text = path.read_text()
    docs = _docstring_lines(ast.parse(text))
    table = _allowed_lines(path, text)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
            continue
        line = tok.start[0]
        if line in docs or line in table:
            continue
        for m in FORBIDDEN.finditer(tok.string):
            found.append(f"{path.relative_to(CORE.parent)}:{line}: {m.group(0)}")
    return found


def _allowed_lines(path: Path, text: str) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and (path.name, t.id) in ALLOWED for t in targets):
                out.update(range(node.lineno, node.end_lineno + 1))
    return out


def test_core_code_names_no_cloud_target_sdk_or_cloud_variable():
    found = [hit for p in sorted(CORE.rglob("*.py")) for hit in cloud_names_in_code(p)]
    assert found == [], "the core names clouds; move this into the adapter:\n" + "\n".join(found)


def test_the_check_finds_a_cloud_name_in_code(tmp_path):
    sample = CORE / "_sample_for_test.py"
    try:
        sample.write_text('"""Docs may say aws."""\n# so may comments: sagemaker\nREGION = "AWS_REGION"\n'
                          'x = {"kserve": 1}\n')
        assert cloud_names_in_code(sample) == ["mlfn/_sample_for_test.py:3: AWS_REGION",
                                               "mlfn/_sample_for_test.py:4: kserve"]
    finally:
        sample.unlink()
