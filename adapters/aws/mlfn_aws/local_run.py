"""How AWS runs mlfn's images, for ``mlfn up --local`` (``Target.local_container``).

- SageMaker (real-time and Serverless): the image is started as ``docker run IMAGE serve``, the
  model unpacked read-only under /opt/ml/model, the server on port 8080 with ``GET /ping`` and
  ``POST /invocations``; SIGKILL 30 s after SIGTERM
  (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
- Lambda: the image runs as is. Without ``AWS_LAMBDA_RUNTIME_API`` the Lambda base image's
  ``/lambda-entrypoint.sh`` starts the Runtime Interface Emulator on port 8080, which takes an
  event at ``POST /2015-03-31/functions/function/invocations``
  (https://docs.aws.amazon.com/lambda/latest/dg/images-test.html). ``mlfn invoke`` wraps the body
  into a Function URL request (payload format 2.0) and unwraps the function's answer
  (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads). The function's
  file system is read-only except /tmp
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html). The function runs
  as a non-root user (``LAMBDA_USER``), with its name, memory and timeout in ``AWS_LAMBDA_FUNCTION_*``
  as Lambda sets them; the emulator enforces the timeout. The emulator has no health route (AWS's RIE
  documents none), so ``status`` cannot tell ready from running: it says so.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from mlfn_runtime import contract as c

from mlfn.adapter import ContainerRun, InvokeResponse

from .naming import names_for
from .runtime_env import KILL_AFTER_S, runtime_env

SAGEMAKER_MODEL_DIR = "/opt/ml/model"
#: The Runtime Interface Emulator's invoke route and port.
RIE_INVOKE = "/2015-03-31/functions/function/invocations"
RIE_PORT = 8080
#: Where a remote model fetched on this machine is mounted for a target that bakes local ones.
FETCHED_MODEL_DIR = "/mnt/mlfn-model"
#: The user a Lambda function runs as. Lambda documents "a default Linux user with least-privileged
#: permissions" that must be able to read the function's files, but not its uid
#: (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html, Requirements): any uid that owns
#: nothing in the image tells the same, so a file only root can read fails here as it would there.
LAMBDA_USER = "61000:61000"
#: A Function URL's host, as Lambda writes it into the event (the local one has no id).
LOCAL_URL_HOST = "local.lambda-url.localhost.on.aws"


def _env(target: str, spec, model_uri: str | None = None) -> dict[str, str]:
    # As the target's compile: the platform's limits first, runtime.env may tune them, the model's identity is mlfn's.
    return {**runtime_env(target, spec.compute), **spec.runtime.env, **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler, model_uri=model_uri)}


def sagemaker_run(target: str, spec, model_dir: Path) -> ContainerRun:
    return ContainerRun(
        env=_env(target, spec), port=c.DEFAULT_PORT, health=c.PING, predict=c.INVOCATIONS, command=("serve",),
        mounts={str(model_dir): SAGEMAKER_MODEL_DIR}, stop_grace_s=KILL_AFTER_S[target],
    )


def lambda_run(spec, stack, model_dir: Path) -> ContainerRun:
    # The model is baked into the image; a remote model.uri is fetched on this machine and mounted.
    mounts, uri = ({str(model_dir): FETCHED_MODEL_DIR}, FETCHED_MODEL_DIR) if spec.model.is_remote else ({}, None)
    # What Lambda sets in the function's environment and the emulator reads: the timeout it enforces.
    lambda_sets = {"AWS_LAMBDA_FUNCTION_NAME": names_for(spec.name, stack.name).function,
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.compute.memory_mib),
                   "AWS_LAMBDA_FUNCTION_TIMEOUT": str(stack.overrides.timeout)}
    return ContainerRun(
        env={**_env("lambda", spec, uri), **lambda_sets}, port=RIE_PORT, health=None, predict=RIE_INVOKE,
        mounts=mounts, user=LAMBDA_USER, stop_grace_s=2, wrap=function_url_event, unwrap=function_url_response,
    )


def function_url_event(body: bytes, headers: Mapping[str, str], path: str = c.INVOCATIONS) -> tuple[bytes, dict]:
    """A Function URL's event (payload format 2.0) for one POST of ``body`` to ``path``."""
    now = time.time()
    lowered = {k.lower(): v for k, v in headers.items()}
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {**lowered, "host": LOCAL_URL_HOST},
        "requestContext": {
            "accountId": "anonymous", "apiId": "local", "domainName": LOCAL_URL_HOST, "domainPrefix": "local",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": lowered.get("user-agent", "mlfn")},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
    }
    return json.dumps(event).encode(), {"content-type": "application/json"}


def function_url_response(response: InvokeResponse) -> InvokeResponse:
    """The HTTP answer inside the function's result (``statusCode``, ``headers``, ``body``); an
    error the emulator reports (the function failed) stays as it came, status 502 when it said 200."""
    try:
        result = json.loads(response.body)
    except ValueError:
        result = None
    if not isinstance(result, dict) or "statusCode" not in result:
        status = 502 if response.ok else response.status
        return InvokeResponse(status, response.body, response.content_type)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    return InvokeResponse(int(result["statusCode"]), data, headers.get("content-type", ""))
