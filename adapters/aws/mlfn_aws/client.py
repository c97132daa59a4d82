"""Calling a deployed endpoint, and reading its logs, with boto3 and the user's AWS credentials."""

from __future__ import annotations

import time
from typing import Any

from mlfn_runtime import contract as c

from mlfn.adapter import InvokeResponse, LogsInfo, post
from mlfn.errors import InvokeError

from .naming import names_for
from .settings import AwsOutputs


def invoke(outputs: AwsOutputs, stack, body: bytes, content_type: str) -> InvokeResponse:
    region = outputs.region or stack.location.region
    if outputs.target == "lambda" or outputs.function_name:
        return _invoke_url(outputs, region, body, content_type)
    if not outputs.endpoint_name:
        raise InvokeError("the deployment's outputs name no SageMaker endpoint: is it deployed? Run mlfn up")
    return _invoke_sagemaker(outputs.endpoint_name, region, body, content_type)


def _invoke_sagemaker(endpoint: str, region: str, body: bytes, content_type: str) -> InvokeResponse:
    import boto3
    import botocore.exceptions

    client = boto3.client("sagemaker-runtime", region_name=region)
    try:
        r = client.invoke_endpoint(EndpointName=endpoint, ContentType=content_type, Accept="application/json",
                                   Body=body)
    except client.exceptions.ModelError as e:
        # The container answered with an error: pass its status and body through.
        err = e.response
        status = int(err.get("OriginalStatusCode", 500))
        return InvokeResponse(status, str(err.get("OriginalMessage", err.get("Error", {}).get("Message", ""))).encode())
    except botocore.exceptions.ClientError as e:
        code = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        return InvokeResponse(int(code), str(e).encode(), "text/plain")
    except botocore.exceptions.BotoCoreError as e:
        raise InvokeError(f"calling SageMaker endpoint {endpoint} failed: {e}") from e
    return InvokeResponse(200, r["Body"].read(), r.get("ContentType", "application/json"))


def sign(url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    """SigV4 headers for a Lambda Function URL request (service 'lambda')."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session(region_name=region).get_credentials()
    if credentials is None:
        raise InvokeError("no AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE")
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    return dict(request.headers.items())


def _invoke_url(outputs: AwsOutputs, region: str, body: bytes, content_type: str) -> InvokeResponse:
    url = outputs.url.rstrip("/") + c.INVOCATIONS
    headers = {"content-type": content_type}
    if outputs.auth_type == "AWS_IAM":
        headers = sign(url, body, headers, region)
    elif outputs.api_key:
        headers["authorization"] = f"Bearer {outputs.api_key}"
    return post(url, body, headers, timeout=60)


def recent_logs(outputs: AwsOutputs | None, stack, lines: int, spec=None) -> LogsInfo:
    """The last ``lines`` of the deployment's log group. With no outputs yet (a failed first ``up``),
    the group is named from ``spec`` the way ``compile`` names it."""
    import boto3
    import botocore.exceptions

    if not isinstance(outputs, AwsOutputs):
        outputs = None  # None, or {} from an engine that has no outputs to give
    region = (outputs.region if outputs else None) or stack.location.region
    group = outputs.log_group if outputs else None
    if not group and spec is not None:
        n = names_for(spec.name, stack.name)
        group = n.lambda_log_group if stack.target == "lambda" else n.sagemaker_log_group
    if not group:
        return LogsInfo(where=f"CloudWatch Logs in {region}")
    link = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:log-groups/log-group/{group.replace('/', '$252F')}")
    where = f"CloudWatch Logs group {group} in {region}"
    # CloudWatch returns events oldest first: read the last hour (at most 10 pages) and keep the end.
    start = int((time.time() - 3600) * 1000)
    events: list[dict] = []
    try:
        client = boto3.client("logs", region_name=region)
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start}
        for _ in range(10):
            page = client.filter_log_events(**kwargs)
            events += page.get("events", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        return LogsInfo(where=f"{where} (could not read it: {e})", link=link)
    events.sort(key=lambda e: e.get("timestamp", 0))
    return LogsInfo(where=where, link=link, lines=tuple(e["message"].rstrip("\n") for e in events[-lines:]))
