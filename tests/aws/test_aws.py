"""The AWS adapter, proven without an account: plans, AWS's own API schemas, moto, IAM, rules."""

import copy
import json
import re

import boto3
import pytest
from aws_api import ACCOUNT, policy_statements, realize, requests
from helpers import example_project, normalized
from mlfn_aws import serverless_concurrency, serverless_memory_mb
from mlfn_aws.conventions import TAG_STYLE
from mlfn_aws.policies import STAR_ONLY
from mlfn_aws.schemas import check_request, service, violations
from moto import mock_aws

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import assert_tagged

STACKS = ("aws-sagemaker-gpu", "aws-serverless", "aws-lambda")
REGION = "us-east-1"
TAGGABLE = [
    "aws:s3/bucket:Bucket", "aws:ecr/repository:Repository", "aws:iam/role:Role", "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration", "aws:sagemaker/endpoint:Endpoint",
    "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:appautoscaling/target:Target", "aws:cloudwatch/logGroup:LogGroup",
    "aws:lambda/function:Function", "aws:secretsmanager/secret:Secret", "aws:s3/bucketObjectv2:BucketObjectv2",
]


def project_with(tmp_path, stack_text=None, spec_edit=None):
    return example_project(tmp_path, STACKS, stack_text, spec_edit, stack_name="a")



def api_requests(plan):
    return requests(realize(plan, REGION))


def assert_valid(plan):
    problems = []
    for svc, op, req in api_requests(plan):
        problems += check_request(svc, op, req)
    assert problems == []


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_golden_valid_and_tagged(tmp_path, golden, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    golden(f"{stack}.json", normalized(plan.to_json()))
    assert_valid(plan)
    assert_tagged(plan, TAG_STYLE, TAGGABLE)


def test_gpu_stack_contents(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="aws-sagemaker-gpu")
    (variant,) = plan.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"]
    assert variant["instanceType"] == "ml.g4dn.xlarge" and variant["initialInstanceCount"] == 1
    assert variant["containerStartupHealthCheckTimeoutInSeconds"] == 900
    endpoint = plan.one("aws:sagemaker/endpoint:Endpoint").inputs
    policy = endpoint["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert policy["trafficRoutingConfiguration"]["type"] == "ALL_AT_ONCE"
    alarms = {a["alarmName"] for a in endpoint["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]}
    assert alarms == {a.inputs["name"] for a in plan.find("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {a.inputs["metricName"] for a in plan.find("aws:cloudwatch/metricAlarm:MetricAlarm")} == {
        "Invocation5XXErrors", "ModelLatency"}
    target = plan.one("aws:appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (1, 4)
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    tracking = plan.one("aws:appautoscaling/policy:Policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    model = plan.one("aws:sagemaker/model:Model").inputs["primaryContainer"]
    assert model["environment"]["MLFN_MODEL_FORMAT"] == "sklearn"
    assert re.fullmatch(r"s3://iris-aws-sagemaker-gpu-models/.+/model-[0-9a-f]{16}\.tar\.gz",
                        model["modelDataUrl"].replace("iris-bucket-id", "iris-aws-sagemaker-gpu-models"))
    assert "nvidia/cuda" in next((tmp_path / "iris" / ".mlfn" / "build").glob("*gpu*/Dockerfile")).read_text()


def test_model_tar_holds_the_model_and_its_manifest(tmp_path):
    import tarfile

    project = project_with(tmp_path)
    mlfn.plan(project, stack="aws-serverless")
    with tarfile.open(project / ".mlfn" / "build" / "aws-serverless-aws" / "model.tar.gz") as tf:
        names = sorted(tf.getnames())
        manifest = json.loads(tf.extractfile("mlfn-manifest.json").read())
    assert names == ["mlfn-manifest.json", "model.joblib"]
    assert manifest == {"format": "sklearn", "handler": None, "model_file": "model.joblib", "name": "iris",
                        "schema_version": 1, "libraries": {"scikit-learn": "1.9.1"}}


def test_serverless_sizes(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="aws-serverless")
    (variant,) = plan.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"maxConcurrency": 16, "memorySizeInMb": 2048}
    assert "deploymentConfig" not in plan.one("aws:sagemaker/endpoint:Endpoint").inputs
    assert plan.find("aws:appautoscaling/target:Target") == []
    assert serverless_memory_mb(100) == 1024 and serverless_memory_mb(1500) == 2048
    assert serverless_memory_mb(6144) == 6144

    class S:
        max, concurrency = 50, 8
    assert serverless_concurrency(S) == 200


def test_lambda_stack_contents(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="aws-lambda")
    fn = plan.one("aws:lambda/function:Function").inputs
    assert (fn["packageType"], fn["memorySize"], fn["timeout"]) == ("Image", 2048, 30)
    assert fn["environment"]["variables"]["MLFN_WORKERS"] == "1"
    assert plan.one("aws:lambda/functionUrl:FunctionUrl").inputs["authorizationType"] == "AWS_IAM"
    assert plan.find("aws:lambda/permission:Permission") == []
    dockerfile = next((tmp_path / "iris" / ".mlfn" / "build").glob("*lambda*/Dockerfile")).read_text()
    assert "public.ecr.aws/lambda/python" in dockerfile and "COPY model /opt/ml/model" in dockerfile


def test_changing_a_key_input_changes_the_plan(tmp_path):
    project = project_with(tmp_path)
    before = mlfn.plan(project, stack="aws-sagemaker-gpu").to_json()
    path = project / "stacks" / "aws-sagemaker-gpu.yaml"
    path.write_text(path.read_text() + "overrides: {aws: {instance_type: ml.g5.xlarge}}\n")
    after = mlfn.plan(project, stack="aws-sagemaker-gpu")
    assert after.to_json() != before
    (variant,) = after.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs["productionVariants"]
    assert variant["instanceType"] == "ml.g5.xlarge"


def _matrix():
    cases = []
    for target, auth, replicas, gpu, capture in [
        ("sagemaker", "private", 1, False, False), ("sagemaker", "private", 3, True, True),
        ("sagemaker", "private", 0, False, True), ("sagemaker-serverless", "private", 0, False, False),
        ("sagemaker-serverless", "private", 1, False, False), ("lambda", "private", 0, False, False),
        ("lambda", "key", 0, False, False), ("lambda", "public", 1, False, False),
    ]:
        cases.append((target, auth, replicas, gpu, capture))
    return cases


@pytest.mark.parametrize(("target", "auth", "replicas", "gpu", "capture"), _matrix())
def test_matrix_requests_pass_aws_schemas(tmp_path, target, auth, replicas, gpu, capture):
    def edit(text):
        text = text.replace("auth: private", f"auth: {auth}").replace("min: 0", f"min: {replicas}")
        text = text.replace("max: 2", "max: 5")
        if gpu:
            text = text.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: a10g, count: 1}\n")
            text = text.replace("memory: 2Gi", "memory: 16Gi")
        if capture:
            text += "monitoring: {capture: 20}\n"
        return text

    plan = mlfn.plan(project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: {target}\n", edit), stack="a")
    assert_valid(plan)
    assert_tagged(plan, TAG_STYLE, TAGGABLE)
    if target == "sagemaker" and capture:
        config = plan.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
        assert config["dataCaptureConfig"]["initialSamplingPercentage"] == 20
        statements = policy_statements(realize(plan, REGION))
        assert any(s["Sid"] == "WriteCapture" for s in statements)
    if target == "lambda":
        url = plan.one("aws:lambda/functionUrl:FunctionUrl").inputs["authorizationType"]
        assert url == ("AWS_IAM" if auth == "private" else "NONE")
        assert bool(plan.find("aws:lambda/permission:Permission")) == (auth != "private")
        assert bool(plan.find("aws:secretsmanager/secret:Secret")) == (auth == "key")
        env = plan.one("aws:lambda/function:Function").inputs["environment"]["variables"]
        assert ("MLFN_API_KEYS_AWS_SECRET" in env) == (auth == "key")


# ---------------------------------------------------------------- the schema walker can fail
def a_request(tmp_path, op):
    plan = mlfn.plan(project_with(tmp_path), stack="aws-sagemaker-gpu")
    return copy.deepcopy(next(r for s, o, r in api_requests(plan) if o == op))


@pytest.mark.parametrize(
    ("op", "edit", "message"),
    [
        ("CreateEndpointConfig", lambda r: r["ProductionVariants"][0].update(InstanceType="ml.nonexistent.huge"),
         "'ml.nonexistent.huge' is not one of"),
        ("CreateEndpoint", lambda r: r.update(EndpointName="bad name!!"), "does not match"),
        ("CreateEndpointConfig", lambda r: r["ProductionVariants"][0].update(
            ServerlessConfig={"MemorySizeInMB": 99999, "MaxConcurrency": 1}), "99999 is above the maximum 6144"),
        ("CreateEndpointConfig", lambda r: r["ProductionVariants"][0].update(
            ServerlessConfig={"MemorySizeInMB": 2048, "MaxConcurrency": 0}), "0 is below the minimum 1"),
        ("CreateEndpointConfig", lambda r: r.update(ProductionVariants=[]), "at least 1 items"),
        ("CreateEndpointConfig", lambda r: r["ProductionVariants"][0].update(Weight=1), "not a member"),
        ("CreateModel", lambda r: r.pop("ModelName"), "CreateModel.ModelName: required"),
        ("CreateModel", lambda r: r.update(ExecutionRoleArn="not-an-arn"), "does not match"),
        ("PutRolePolicy", lambda r: r.update(RoleName="r" * 65), "at most 64 characters"),
        ("PutMetricAlarm", lambda r: r.update(ComparisonOperator="Bigger"), "'Bigger' is not one of"),
        ("RegisterScalableTarget", lambda r: r.update(ScalableDimension="sagemaker:variant:Nope"), "is not one of"),
        ("CreateEndpointConfig", lambda r: r["ProductionVariants"][0].update(InitialInstanceCount="1"),
         "expected an integer"),
    ],
)
def test_schema_rules_reject_bad_values(tmp_path, op, edit, message):
    req = a_request(tmp_path, op)
    svc = {"PutRolePolicy": "iam", "PutMetricAlarm": "cloudwatch",
           "RegisterScalableTarget": "application-autoscaling"}.get(op, "sagemaker")
    assert check_request(svc, op, req) == []
    edit(req)
    assert any(message in v for v in check_request(svc, op, req)), check_request(svc, op, req)


def test_botocore_alone_accepts_what_the_walker_rejects():
    from botocore.validate import ParamValidator

    shape = service("sagemaker").operation_model("CreateEndpoint").input_shape
    bad = {"EndpointName": "bad name!!", "EndpointConfigName": "c"}
    assert not ParamValidator().validate(bad, shape).has_errors()
    assert violations(shape, bad)


def test_lambda_schema_rejects_bad_memory(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="aws-lambda")
    req = copy.deepcopy(next(r for s, o, r in api_requests(plan) if o == "CreateFunction"))
    req["MemorySize"] = 99999
    assert any("99999 is above the maximum" in v for v in check_request("lambda", "CreateFunction", req))


# ---------------------------------------------------------------- IAM: least privilege
@pytest.mark.parametrize("stack", STACKS)
def test_iam_statements_name_the_stacks_own_resources(tmp_path, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    resources = realize(plan, REGION)
    statements = policy_statements(resources)
    assert statements
    own = set()
    for r in resources:
        if r.type == "aws:s3/bucket:Bucket":
            own.add(f"arn:aws:s3:::{r.inputs['bucket']}")
        if r.type == "aws:ecr/repository:Repository":
            own.add(f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{r.inputs['name']}")
        if r.type == "aws:cloudwatch/logGroup:LogGroup":
            own.add(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{r.inputs['name']}")
        if r.type == "aws:secretsmanager/secret:Secret":
            own.add(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{r.inputs['name']}-AbCdEf")
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions), s
        if s["Resource"] == "*":
            assert set(actions) <= STAR_ONLY, s
            continue
        for arn in s["Resource"]:
            assert any(arn == o or arn.startswith(o + "/") or arn.startswith(o + ":") for o in own), (arn, own)
    managed = [r for r in resources if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"]
    assert managed == []  # no *FullAccess managed policies


# ---------------------------------------------------------------- every check() rule
@pytest.mark.parametrize(
    ("stack", "spec_edit", "message"),
    [
        ("target: sagemaker-serverless", lambda t: t.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: t4}\n")
         .replace("min: 0", "min: 1"), "SageMaker Serverless has no GPUs"),
        ("target: sagemaker", lambda t: t.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: t4}\n"),
         "GPUs on AWS cannot scale to zero: set scaling.min: 1"),
        ("target: sagemaker-serverless", lambda t: t.replace("memory: 2Gi", "memory: 8Gi"), "at most 6144 MB"),
        ("target: sagemaker-serverless", lambda t: t + "monitoring: {capture: 10}\n", "cannot capture requests"),
        ("target: sagemaker", lambda t: t.replace("auth: private", "auth: key"), "always called with AWS credentials"),
        ("target: sagemaker-serverless", lambda t: t.replace("auth: private", "auth: public"),
         "always called with AWS credentials"),
        ("target: lambda", lambda t: t.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: t4}\n").replace("min: 0", "min: 1"),
         "Lambda has no GPUs"),
        ("target: lambda", lambda t: t.replace("memory: 2Gi", "memory: 12Gi"), "Lambda memory is 128-10240 MB"),
        ("target: lambda\noverrides: {aws: {timeout: 1000}}", None, "between 1 and 900"),
        ("target: sagemaker\noverrides: {aws: {instance_type: ml.nonexistent.huge}}", None,
         "is not a SageMaker real-time instance type"),
        ("target: sagemaker\noverrides: {aws: {startup_timeout: 5}}", None, "between 60 and 3600"),
        ("target: sagemaker\noverrides: {aws: {instance_count: 3}}", None, "instance_count is not a setting"),
        ("target: sagemaker", lambda t: t.replace("uri: ./model", "uri: gs://bucket/model"),
         "SageMaker reads the model from S3 as model.tar.gz"),
        ("target: lambda", lambda t: t + "runtime: {image: 'ghcr.io/me/iris:1'}\n", "is not in Amazon ECR"),
        ("target: sagemaker", lambda t: t.replace("cpu: 1\n", "cpu: 1\n  gpu: {type: h100, count: 3}\n")
         .replace("min: 0", "min: 1").replace("memory: 2Gi", "memory: 3000Gi"), "no sagemaker machine has"),
    ],
)
def test_check_rules_reject_bad_values(tmp_path, stack, spec_edit, message):
    project = project_with(tmp_path, f"cloud: aws\nregion: {REGION}\n{stack}\n", spec_edit)
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.plan(project, stack="a")


def test_region_comes_from_the_environment_or_is_named(tmp_path, monkeypatch):
    project = project_with(tmp_path, "cloud: aws\n")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert mlfn.validate(project, stack="a").stack.location.region == "eu-central-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(mlfn.StackError, match=r"cloud aws needs region \(or set AWS_REGION or AWS_DEFAULT_REGION\)"):
        mlfn.validate(project, stack="a")


def test_init_aws_template_compiles(tmp_path):
    from mlfn.scaffold import init

    init(tmp_path / "p", "sklearn", train=False)
    (tmp_path / "p" / "model").mkdir()
    (tmp_path / "p" / "model" / "model.joblib").write_bytes(b"x")
    assert mlfn.plan(tmp_path / "p", stack="aws").target == "sagemaker-serverless"


# ---------------------------------------------------------------- replayed in order against moto
@mock_aws
@pytest.mark.parametrize("stack", ["aws-sagemaker-gpu", "aws-serverless"])
def test_sagemaker_requests_replay_against_moto(tmp_path, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    clients = {}
    for svc, op, req in api_requests(plan):
        if svc in ("s3", "ecr", "logs"):
            continue
        client = clients.setdefault(svc, boto3.client(svc, region_name=REGION))
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()
        getattr(client, method)(**req)
    sm = clients["sagemaker"]
    endpoint = sm.describe_endpoint(EndpointName=plan.one("aws:sagemaker/endpoint:Endpoint").inputs["name"])
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    # The references are checked: an endpoint on a config that does not exist is refused.
    with pytest.raises(sm.exceptions.ClientError):
        sm.create_endpoint(EndpointName="orphan", EndpointConfigName="no-such-config")


@mock_aws
def test_lambda_requests_replay_against_moto(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: lambda\n",
                                  lambda t: t.replace("auth: private", "auth: public")), stack="a")
    iam = boto3.client("iam", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    for svc, op, req in api_requests(plan):
        if svc == "iam":
            getattr(iam, re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower())(**req)
        if svc == "lambda":
            getattr(lam, re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower())(**req)
    name = plan.one("aws:lambda/function:Function").inputs["name"]
    assert lam.get_function(FunctionName=name)["Configuration"]["PackageType"] == "Image"
    assert lam.get_function_url_config(FunctionName=name)["AuthType"] == "NONE"
