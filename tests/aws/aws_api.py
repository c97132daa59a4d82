"""Turn planned AWS resources into the API requests the provider will send, with realistic outputs.

The offline plan answers outputs with placeholders ("iris-role.arn"); ``realize`` replaces them with
values shaped like AWS's (ARNs, URLs) so AWS's own patterns can judge the requests.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from mlfn.plan import Plan

ACCOUNT = "123456789012"


def _outputs(r, region: str) -> dict[str, str]:
    i, name, t = r.inputs, r.name, r.type
    if t == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{i['name']}", "id": i["name"], "name": i["name"]}
    if t == "aws:s3/bucket:Bucket":
        return {"arn": f"arn:aws:s3:::{i['bucket']}", "id": i["bucket"], "bucket": i["bucket"]}
    if t == "aws:ecr/repository:Repository":
        url = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{i['name']}"
        return {"arn": f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{i['name']}", "repositoryUrl": url,
                "registryId": ACCOUNT, "id": i["name"]}
    if t == "aws:cloudwatch/logGroup:LogGroup":
        return {"arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{i['name']}", "id": i["name"], "name": i["name"]}
    if t == "docker-build:index:Image":
        repo = i["tags"][0].rsplit(":", 1)[0]
        return {"ref": f"{repo}@sha256:{'a' * 64}", "digest": f"sha256:{'a' * 64}"}
    if t.startswith("aws:sagemaker/"):
        kind = {"aws:sagemaker/model:Model": "model", "aws:sagemaker/endpoint:Endpoint": "endpoint"}.get(
            t, "endpoint-config")
        return {"arn": f"arn:aws:sagemaker:{region}:{ACCOUNT}:{kind}/{i['name']}", "id": i["name"]}
    if t == "aws:cloudwatch/metricAlarm:MetricAlarm":
        return {"arn": f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{i['name']}", "id": i["name"]}
    if t == "aws:secretsmanager/secret:Secret":
        return {"arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{i['name']}-AbCdEf", "id": i["name"]}
    if t == "aws:lambda/function:Function":
        return {"arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{i['name']}", "id": i["name"]}
    if t == "aws:lambda/functionUrl:FunctionUrl":
        return {"functionUrl": "https://abcdefghij.lambda-url.us-east-1.on.aws/"}
    if t == "random:index/randomPassword:RandomPassword":
        return {"result": "k" * 40}
    if t == "random:index/randomId:RandomId":
        return {"hex": "0a1b2c3d", "id": "ChssPQ"}
    return {"id": f"{name}-id"}


def realize(plan: Plan, region: str) -> list:
    """The plan's resources with every output placeholder replaced by an AWS-shaped value."""
    table: list[tuple[str, str]] = []
    # Random values first: other resources' names are made from them.
    for r in sorted(plan.resources, key=lambda r: not r.type.startswith("random:")):
        r = copy.copy(r)
        object.__setattr__(r, "inputs", _sub(r.inputs, table))
        for prop, value in _outputs(r, region).items():
            table.append((f"{r.name}.{prop}", value))
            if prop == "id":
                table.append((f"{r.name}-id", value))
        table.sort(key=lambda kv: -len(kv[0]))  # longest first: "iris-model-def.arn" before "iris-model..."
    out = []
    for r in plan.resources:
        r2 = copy.copy(r)
        object.__setattr__(r2, "inputs", _sub(r.inputs, table))
        out.append(r2)
    return out


def _sub(value: Any, table: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in table:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _sub(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [_sub(v, table) for v in value]
    return value


def to_shape(shape, value: Any) -> Any:
    """Pulumi's camelCase input -> the API's member names, matched case-insensitively against the shape."""
    if shape.type_name == "structure" and isinstance(value, dict):
        by_lower = {m.lower(): m for m in shape.members}
        out = {}
        for k, v in value.items():
            member = by_lower.get(k.lower(), k)
            out[member] = to_shape(shape.members[member], v) if member in shape.members else v
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_shape(shape.member, v) for v in value]
    return value


def tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def requests(resources) -> list[tuple[str, str, dict]]:
    """(service, operation, request) for each resource, in the order the provider creates them."""
    from mlfn_aws.schemas import service

    def shaped(svc: str, op: str, req: dict) -> dict:
        return to_shape(service(svc).operation_model(op).input_shape, req)

    out = []
    for r in resources:
        i = r.inputs
        t = r.type
        if t == "aws:iam/role:Role":
            out.append(("iam", "CreateRole", {"RoleName": i["name"], "AssumeRolePolicyDocument": i["assumeRolePolicy"],
                                              "Tags": tag_list(i.get("tags"))}))
        elif t == "aws:iam/rolePolicy:RolePolicy":
            out.append(("iam", "PutRolePolicy", {"RoleName": i["role"], "PolicyName": i["name"],
                                                 "PolicyDocument": i["policy"]}))
        elif t == "aws:s3/bucket:Bucket":
            out.append(("s3", "CreateBucket", {"Bucket": i["bucket"]}))
        elif t == "aws:ecr/repository:Repository":
            out.append(("ecr", "CreateRepository", shaped("ecr", "CreateRepository", {
                "repositoryName": i["name"], "imageTagMutability": i["imageTagMutability"],
                "imageScanningConfiguration": i["imageScanningConfiguration"], "tags": tag_list(i.get("tags"))})))
        elif t == "aws:cloudwatch/logGroup:LogGroup":
            out.append(("logs", "CreateLogGroup", {"logGroupName": i["name"], "tags": i.get("tags", {})}))
            out.append(("logs", "PutRetentionPolicy", {"logGroupName": i["name"],
                                                       "retentionInDays": i["retentionInDays"]}))
        elif t == "aws:sagemaker/model:Model":
            out.append(("sagemaker", "CreateModel", shaped("sagemaker", "CreateModel", {
                "ModelName": i["name"], "ExecutionRoleArn": i["executionRoleArn"],
                "PrimaryContainer": i["primaryContainer"], "Tags": tag_list(i.get("tags"))})))
        elif t == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
            req = {"EndpointConfigName": i["name"], "ProductionVariants": i["productionVariants"],
                   "Tags": tag_list(i.get("tags"))}
            if "dataCaptureConfig" in i:
                req["DataCaptureConfig"] = i["dataCaptureConfig"]
            out.append(("sagemaker", "CreateEndpointConfig", shaped("sagemaker", "CreateEndpointConfig", req)))
        elif t == "aws:sagemaker/endpoint:Endpoint":
            req = {"EndpointName": i["name"], "EndpointConfigName": i["endpointConfigName"],
                   "Tags": tag_list(i.get("tags"))}
            if "deploymentConfig" in i:
                req["DeploymentConfig"] = i["deploymentConfig"]
            out.append(("sagemaker", "CreateEndpoint", shaped("sagemaker", "CreateEndpoint", req)))
        elif t == "aws:cloudwatch/metricAlarm:MetricAlarm":
            req = {k[0].upper() + k[1:]: v for k, v in i.items() if k not in ("dimensions", "tags", "name")}
            req["AlarmName"] = i["name"]
            req["Dimensions"] = [{"Name": k, "Value": v} for k, v in i["dimensions"].items()]
            req["Tags"] = tag_list(i.get("tags"))
            out.append(("cloudwatch", "PutMetricAlarm", shaped("cloudwatch", "PutMetricAlarm", req)))
        elif t == "aws:appautoscaling/target:Target":
            out.append(("application-autoscaling", "RegisterScalableTarget", {
                "ServiceNamespace": i["serviceNamespace"], "ResourceId": i["resourceId"],
                "ScalableDimension": i["scalableDimension"], "MinCapacity": i["minCapacity"],
                "MaxCapacity": i["maxCapacity"], "Tags": i.get("tags", {})}))
        elif t == "aws:appautoscaling/policy:Policy":
            out.append(("application-autoscaling", "PutScalingPolicy", shaped("application-autoscaling",
                        "PutScalingPolicy", {
                            "PolicyName": i["name"], "ServiceNamespace": i["serviceNamespace"],
                            "ResourceId": i["resourceId"], "ScalableDimension": i["scalableDimension"],
                            "PolicyType": i["policyType"],
                            "TargetTrackingScalingPolicyConfiguration": i["targetTrackingScalingPolicyConfiguration"],
                        })))
        elif t == "aws:secretsmanager/secret:Secret":
            out.append(("secretsmanager", "CreateSecret", {"Name": i["name"], "Tags": tag_list(i.get("tags"))}))
        elif t == "aws:lambda/function:Function":
            req = {"FunctionName": i["name"], "Role": i["role"], "Code": {"ImageUri": i["imageUri"]},
                   "PackageType": i["packageType"], "MemorySize": i["memorySize"], "Timeout": i["timeout"],
                   "Architectures": i["architectures"], "Environment": {"Variables": i["environment"]["variables"]},
                   "LoggingConfig": i["loggingConfig"], "Tags": i.get("tags", {})}
            out.append(("lambda", "CreateFunction", shaped("lambda", "CreateFunction", req)))
        elif t == "aws:lambda/functionUrl:FunctionUrl":
            out.append(("lambda", "CreateFunctionUrlConfig", {"FunctionName": i["functionName"],
                                                              "AuthType": i["authorizationType"]}))
        elif t == "aws:lambda/permission:Permission":
            req = {"FunctionName": i["function"], "StatementId": r.name, "Action": i["action"],
                   "Principal": i["principal"]}
            if "functionUrlAuthType" in i:
                req["FunctionUrlAuthType"] = i["functionUrlAuthType"]
            if "invokedViaFunctionUrl" in i:
                req["InvokedViaFunctionUrl"] = i["invokedViaFunctionUrl"]
            out.append(("lambda", "AddPermission", req))
        elif t == "aws:ecr/repositoryPolicy:RepositoryPolicy":
            out.append(("ecr", "SetRepositoryPolicy", {"repositoryName": i["repository"], "policyText": i["policy"]}))
    order = ["iam", "s3", "ecr", "logs", "secretsmanager", "sagemaker", "cloudwatch", "application-autoscaling",
             "lambda"]
    sagemaker_order = {"CreateModel": 0, "CreateEndpointConfig": 1, "CreateEndpoint": 2}
    lambda_order = {"CreateFunction": 0, "CreateFunctionUrlConfig": 1, "AddPermission": 2}
    out.sort(key=lambda x: (order.index(x[0]), sagemaker_order.get(x[1], 0) + lambda_order.get(x[1], 0)))
    return out


def policy_statements(resources) -> list[dict]:
    import json

    out = []
    for r in resources:
        if r.type == "aws:iam/rolePolicy:RolePolicy":
            out += json.loads(r.inputs["policy"])["Statement"]
    return out


def camel_to_api(name: str) -> str:
    return re.sub(r"^[a-z]", lambda m: m.group(0).upper(), name)
