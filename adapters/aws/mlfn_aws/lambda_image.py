"""The Lambda image variant: AWS's Lambda base (its runtime interface client), the runtime's app
behind Mangum, the model baked in. The core builds it like any variant (mlfn.image.ImageVariant).

Only the Python 3.12+ Lambda bases are on Amazon Linux 2023; the 3.11 base (Amazon Linux 2,
glibc 2.26) has no wheels for current numpy/scikit-learn (the target's check() says so).

pip runs without ``--only-binary=:all:`` (nor ``PIP_ONLY_BINARY``). On a base with no compiler it
would turn a compile error into pip's "No matching distribution", but it would also refuse
pure-Python packages published only as sdists (which build without a compiler), and for an unpinned
requirement pip would silently take an older release that has a wheel, the failure #17 saw with
``PIP_PREFER_BINARY`` (an older scikit-learn than the model's). The model's libraries are pinned
(constraints.txt), and tests/aws/test_lambda_wheels.py resolves the whole tree as wheels for
Lambda's platform (CPython 3.12, manylinux_2_34 x86_64) ahead of any build.
"""

from __future__ import annotations

from mlfn.image import ImageVariant
from mlfn.spec import Spec

#: The Python versions whose Lambda base images are Amazon Linux 2023
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: python3.12, python3.13).
PYTHONS = ("3.12", "3.13")
#: The Lambda image's Python when mlfn.yaml does not set runtime.python (whose default suits the other images).
DEFAULT_PYTHON = "3.12"


def python_set(spec: Spec) -> bool:
    """Whether mlfn.yaml sets runtime.python itself (not the schema's default)."""
    return "python" in spec.runtime.model_fields_set


def lambda_python(spec: Spec) -> str:
    """The Lambda image's Python: runtime.python when set, else ``DEFAULT_PYTHON``."""
    return spec.runtime.python if python_set(spec) else DEFAULT_PYTHON


def python_problems(spec: Spec) -> list[str]:
    if python_set(spec) and spec.runtime.python not in PYTHONS:
        return [f"Lambda needs Python 3.12 or later: only those Lambda base images are Amazon Linux 2023 (the "
                f"older ones have no wheels for current numpy/scikit-learn): set runtime.python in mlfn.yaml to "
                f"{' or '.join(PYTHONS)} (now {spec.runtime.python}), or use target sagemaker-serverless"]
    return []


def python_notes(spec: Spec) -> list[str]:
    if python_set(spec):
        return []
    return [f"runtime.python is not set in mlfn.yaml: the Lambda image uses Python {DEFAULT_PYTHON} "
            f"(Lambda's Amazon Linux 2023 base); set runtime.python to {' or '.join(PYTHONS)} to choose"]

TEMPLATE = """\
ARG BASE_IMAGE=public.ecr.aws/lambda/python:{python}
FROM ${{BASE_IMAGE}}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MLFN_WORKERS=1 \\
    ORT_DISABLE_TELEMETRY=1
COPY requirements.txt constraints.txt ${{LAMBDA_TASK_ROOT}}/
COPY runtime ${{LAMBDA_TASK_ROOT}}/runtime
RUN {preinstall}pip install --no-cache-dir -r "${{LAMBDA_TASK_ROOT}}/requirements.txt" \\
    -c "${{LAMBDA_TASK_ROOT}}/constraints.txt" "${{LAMBDA_TASK_ROOT}}/runtime/{wheel}[{extras}]"
{model}EXPOSE 8080
ENTRYPOINT ["/lambda-entrypoint.sh"]
CMD ["mlfn_runtime.lambda_handler.handler"]
"""

LAMBDA = ImageVariant("lambda", TEMPLATE, extras=("lambda",))
