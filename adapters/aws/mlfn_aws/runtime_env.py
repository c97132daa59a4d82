"""The runtime's environment per AWS target: workers, the request limit, the shutdown grace.

Each value rests on the platform's documented behaviour:

- SageMaker real-time: InvokeEndpoint takes a body of at most 6 MiB (the API's Body shape, max
  6291456: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html);
  to stop a container SageMaker "sends the SIGTERM signal, then the SIGKILL signal 30 seconds
  later" (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
- SageMaker Serverless: "The maximum request and response payload size for serverless invocations
  is 4 MB" (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-invoke.html); the
  same container contract otherwise.
- Lambda: a synchronous invocation's request payload is at most 6 MB
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); one environment
  serves one request at a time, so one worker; the runtime runs behind Mangum with no server to
  drain, and without extensions the Shutdown phase has 0 ms
  (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
"""

from __future__ import annotations

import math

from mlfn_runtime import contract as c

GRACEFUL_SECONDS = c.GRACEFUL_SECONDS

MIB = 1024 * 1024
#: Request limits, bytes, by target.
MAX_BODY_BYTES = {"sagemaker": 6 * MIB, "sagemaker-serverless": 4 * MIB, "lambda": 6 * MIB}
#: Seconds between SIGTERM and SIGKILL, by target, and the margin the runtime keeps below it.
KILL_AFTER_S = {"sagemaker": 30, "sagemaker-serverless": 30, "lambda": 0}
MARGIN_S = 5


def workers(target: str, compute) -> int:
    """One worker per vCPU asked for (compute.cpu, at least one); one per GPU; one on Lambda."""
    if target == "lambda":
        return 1
    if compute.gpu:
        return compute.gpu.count
    return max(1, math.floor(compute.cpu))


def graceful_seconds(target: str) -> int | None:
    """Seconds the server drains in-flight requests after SIGTERM, below the platform's kill deadline;
    None where there is no server to drain (Lambda: Mangum, and no SIGTERM without extensions)."""
    kill = KILL_AFTER_S[target]
    return max(1, kill - MARGIN_S) if kill else None


def runtime_env(target: str, compute) -> dict[str, str]:
    env = {c.WORKERS: str(workers(target, compute)), c.MAX_BODY_BYTES: str(MAX_BODY_BYTES[target])}
    grace = graceful_seconds(target)
    if grace is not None:
        env[GRACEFUL_SECONDS] = str(grace)
    return env
