"""The Lambda image variant: AWS's Lambda base (its runtime interface client), the runtime's app
behind Mangum, the model baked in. The core builds it like any variant (mlfn.image.ImageVariant).

Only the Python 3.12+ Lambda bases are on Amazon Linux 2023; the 3.11 base (Amazon Linux 2,
glibc 2.26) has no wheels for current numpy/scikit-learn (the target's check() says so).
"""

from __future__ import annotations

from mlfn.image import ImageVariant

TEMPLATE = """\
ARG BASE_IMAGE=public.ecr.aws/lambda/python:{python}
FROM ${{BASE_IMAGE}}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MLFN_WORKERS=1 \\
    ORT_DISABLE_TELEMETRY=1
COPY requirements.txt constraints.txt ${{LAMBDA_TASK_ROOT}}/
COPY runtime ${{LAMBDA_TASK_ROOT}}/runtime
RUN pip install --no-cache-dir -r "${{LAMBDA_TASK_ROOT}}/requirements.txt" \\
    -c "${{LAMBDA_TASK_ROOT}}/constraints.txt" "${{LAMBDA_TASK_ROOT}}/runtime/{wheel}[{extras}]"
{model}EXPOSE 8080
ENTRYPOINT ["/lambda-entrypoint.sh"]
CMD ["mlfn_runtime.lambda_handler.handler"]
"""

LAMBDA = ImageVariant("lambda", TEMPLATE, extras=("lambda",))
