"""The AWS adapter, proven without an account: plans, AWS's own API schemas, moto, IAM, rules."""

import copy
import json
import re

import boto3
import pytest
from aws_api import ACCOUNT, policy_statements, realize, requests
from helpers import example_project, normalized
from mlfn_aws import AwsAdapter, serverless_concurrency, serverless_memory_mb
from mlfn_aws.conventions import TAG_STYLE
from mlfn_aws.policies import STAR_ONLY
from mlfn_aws.schemas import check_request, service, violations
from moto import mock_aws

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import assert_tagged

STACKS = ("aws-sagemaker-gpu", "aws-sagemaker", "aws-serverless", "aws-lambda")
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


def golden_text(plan) -> str:
    """The plan as a golden file. Besides image tags, what is derived from the image's build context
    (which holds the runtime's own source) is left out: the versioned SageMaker names and the
    image digest in the Lambda function's description."""
    text = normalized(plan.to_json())
    for t in ("aws:sagemaker/model:Model", "aws:sagemaker/endpointConfiguration:EndpointConfiguration"):
        for r in plan.find(t):
            if re.fullmatch(r".+-[0-9a-f]{8}", r.inputs["name"]):
                text = text.replace(r.inputs["name"], r.inputs["name"].rsplit("-", 1)[0] + "-<version>")
    return re.sub(r"image [0-9a-f]{16}", "image <digest>", text)


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_golden_valid_and_tagged(tmp_path, golden, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    golden(f"{stack}.json", golden_text(plan))
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
    gpu_dockerfile = next((tmp_path / "iris" / ".mlfn" / "build").glob("*gpu*/Dockerfile")).read_text()
    # The GPU variant: the official Python base (CUDA comes with the wheels), onnxruntime-gpu's CUDA libraries found.
    assert gpu_dockerfile.startswith("# Written by mlfn: the mlfn runtime (gpu variant)")
    assert "ARG BASE_IMAGE=python:" in gpu_dockerfile and "LD_LIBRARY_PATH" in gpu_dockerfile


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


# ---------------------------------------------------------------- global names
def plan_with_state(project, stack, monkeypatch, random_hex):
    """The plan as a stack whose state holds ``random_hex`` as its RandomId (another state folder =
    another random value; the plan's mocks otherwise answer every RandomId with one placeholder)."""
    from mlfn.testing import answer_outputs

    with monkeypatch.context() as m:
        answer_outputs(m, "random:index/randomId:RandomId", lambda inputs: {"hex": random_hex})
        return mlfn.plan(project, stack=stack)


@pytest.mark.parametrize("stack", ["aws-sagemaker", "aws-serverless"])
def test_two_state_folders_get_two_buckets(tmp_path, monkeypatch, stack):
    """S3 bucket names are global, and in us-east-1 CreateBucket answers 200 for a bucket you already
    own (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html, BucketAlreadyOwnedByYou:
    "if you re-create an existing bucket that you already own in the North Virginia Region, Amazon
    S3 returns 200 OK and resets the bucket access control lists"): two state folders deploying one
    repository into one account would share a bucket, and one destroy (force_destroy) would empty
    the other's. The name carries a RandomId
    created once and kept in each stack's state."""
    from mlfn_aws.conventions import NAME_RULES

    from mlfn.names import is_valid

    project = project_with(tmp_path)
    first = plan_with_state(project, stack, monkeypatch, "0a1b2c3d")
    again = plan_with_state(project, stack, monkeypatch, "0a1b2c3d")
    other = plan_with_state(project, stack, monkeypatch, "9f8e7d6c")
    name = first.one("aws:s3/bucket:Bucket").inputs["bucket"]
    assert name == again.one("aws:s3/bucket:Bucket").inputs["bucket"]  # stable across ups of one state
    assert name != other.one("aws:s3/bucket:Bucket").inputs["bucket"]
    assert name.endswith("-0a1b2c3d") and is_valid(name, NAME_RULES["s3_bucket"])
    suffix = first.one("random:index/randomId:RandomId").inputs
    assert suffix == {"byteLength": 4}  # no keepers: created once, never replaced by an up


# ---------------------------------------------------------------- Day 2: updates roll out
MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"


def _sagemaker_names(plan):
    return (plan.one(MODEL).inputs["name"], plan.one(CONFIG).inputs["name"], plan.one(ENDPOINT).inputs)


@pytest.mark.parametrize("edit", ["model", "requirements", "instance_type", "environment"])
def test_sagemaker_updates_roll_out_under_new_names(tmp_path, edit):
    """SageMaker cannot change a Model or an EndpointConfig: CreateModel and CreateEndpointConfig have no
    Update counterpart, and an endpoint moves to new ones only through UpdateEndpoint with another
    EndpointConfigName (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html:
    "you can update an endpoint by specifying a new endpoint configuration... you cannot update an
    endpoint configuration"). With fixed names the provider must delete the in-use config first or
    fail with "already exists", and the endpoint never sees a new config name. Pulumi creates a
    replacement before deleting the old one only when the two can coexist
    (https://www.pulumi.com/docs/iac/concepts/options/deletebeforereplace/), hence names from a
    hash of what forces the replacement."""
    project = project_with(tmp_path)
    v1 = mlfn.plan(project, stack="aws-sagemaker")
    model1, config1, endpoint1 = _sagemaker_names(v1)
    assert mlfn.plan(project, stack="aws-sagemaker").to_json() == v1.to_json()  # nothing changed: same names
    if edit == "model":
        with (project / "model" / "model.joblib").open("ab") as f:
            f.write(b"\0")
    elif edit == "requirements":
        (project / "requirements.txt").write_text("requests>=2\n")
        spec = project / "mlfn.yaml"
        spec.write_text(spec.read_text() + "runtime: {requirements: requirements.txt}\n")
    elif edit == "instance_type":
        path = project / "stacks" / "aws-sagemaker.yaml"
        path.write_text(path.read_text() + "overrides: {aws: {instance_type: ml.m5.xlarge}}\n")
    else:
        spec = project / "mlfn.yaml"
        spec.write_text(spec.read_text() + "runtime: {env: {MY_SETTING: '2'}}\n")
    v2 = mlfn.plan(project, stack="aws-sagemaker")
    model2, config2, endpoint2 = _sagemaker_names(v2)
    assert config2 != config1 and endpoint2["endpointConfigName"] == config2  # UpdateEndpoint to a new config
    assert (model2 != model1) == (edit != "instance_type")  # the model is kept when only the machine changes
    assert endpoint2["name"] == endpoint1["name"]  # the endpoint (and its URL) stays
    assert v2.one(CONFIG).inputs["productionVariants"][0]["modelName"] == model2
    for name in (model2, config2):
        assert re.fullmatch(r"iris-aws-sagemaker-[0-9a-f]{8}", name)


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
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
            own.add(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{r.inputs['name']}")
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


# ---------------------------------------------------------------- overrides.aws: typed, with file:line
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{timeout: 1000}", "overrides.aws.timeout: 1000: Input should be less than or equal to 900"),
        ("{timeout: 0}", "overrides.aws.timeout: 0: Input should be greater than or equal to 1"),
        ("{instance_type: ml.nonexistent.huge}",
         "overrides.aws.instance_type: 'ml.nonexistent.huge': is not a SageMaker real-time instance type"),
        ("{startup_timeout: 5}", "overrides.aws.startup_timeout: 5: Input should be greater than or equal to 60"),
        ("{startup_timeout: 4000}", "overrides.aws.startup_timeout: 4000: Input should be less than or equal to 3600"),
        ("{instance_count: 3}", "overrides.aws.instance_count: is not a known field"),
        ("{log_retention_days: 'a month'}", "overrides.aws.log_retention_days: 'a month' is not one of 1, 3, 5"),
        ("{log_retention_days: 31}", "overrides.aws.log_retention_days: 31 is not one of"),
        ("{invocations_per_instance: 0}", "overrides.aws.invocations_per_instance: 0: Input should be greater"),
        ("{bucket: Not_A_Bucket}", "overrides.aws.bucket: 'Not_A_Bucket': String should match pattern"),
        ("{inference_ami_version: al2-ami-sagemaker-inference-neuron-2}",
         "overrides.aws.inference_ami_version: 'al2-ami-sagemaker-inference-neuron-2': is not a SageMaker GPU"),
    ],
)
def test_overrides_are_typed_with_file_and_line(tmp_path, overrides, message):
    project = project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: sagemaker\n"
                                     f"overrides:\n  aws: {overrides}\n")
    with pytest.raises(mlfn.StackError, match=re.escape(f"stacks/a.yaml:5: {message}")):
        mlfn.validate(project, stack="a")


def test_bad_overrides_exit_1_from_the_cli(tmp_path):
    from typer.testing import CliRunner

    from mlfn.cli import app

    project = project_with(tmp_path, f"cloud: aws\nregion: {REGION}\noverrides:\n"
                                     "  aws:\n    log_retention_days: a month\n")
    r = CliRunner().invoke(app, ["validate", "--project", str(project), "--stack", "a"])
    assert r.exit_code == 1
    assert r.stderr.startswith("error: stacks/a.yaml:5: overrides.aws.log_retention_days: 'a month' is not one of")
    assert "Traceback" not in r.output


def test_portable_regions_map_to_aws_regions(tmp_path):
    project = project_with(tmp_path, "cloud: aws\nregion: europe-west\n")
    assert mlfn.validate(project, stack="a").stack.location.region == "eu-west-1"
    for portable in ("us-east", "us-west", "europe-west", "asia-southeast"):
        assert portable in AwsAdapter.regions


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


# ---------------------------------------------------------------- Day 2: instance type changes and autoscaling
def test_endpoint_update_deregisters_and_registers_autoscaling(tmp_path, monkeypatch):
    """UpdateEndpoint fails when it changes the instance type of a variant registered for autoscaling:
    deregister it before and register it after
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). The Endpoint
    carries hooks that do it with the very target and policy the plan registers."""
    from mlfn_aws import scaling

    seen = []
    real = scaling.hooks

    def spy(name, registration):
        seen.append(registration)
        return real(name, registration)

    monkeypatch.setattr(scaling, "hooks", spy)
    plan = mlfn.plan(project_with(tmp_path), stack="aws-sagemaker-gpu")
    (registration,) = seen
    target = plan.one("aws:appautoscaling/target:Target").inputs
    policy = plan.one("aws:appautoscaling/policy:Policy").inputs
    endpoint = plan.one(ENDPOINT).inputs["name"]
    assert target["resourceId"] == registration.resource_id == f"endpoint/{endpoint}/variant/AllTraffic"
    assert (target["minCapacity"], target["maxCapacity"]) == (registration.min_capacity, registration.max_capacity)
    assert policy["name"] == registration.policy_name and registration.region == REGION
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert registration.policy == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": tracking["targetValue"], "ScaleInCooldown": tracking["scaleInCooldown"],
        "ScaleOutCooldown": tracking["scaleOutCooldown"]}
    assert check_request("application-autoscaling", "PutScalingPolicy", {
        "PolicyName": registration.policy_name, "ServiceNamespace": "sagemaker",
        "ResourceId": registration.resource_id, "ScalableDimension": scaling.DIMENSION,
        "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": registration.policy}) == []


@mock_aws
def test_scaling_hooks_around_an_instance_type_change():
    from mlfn_aws.scaling import DIMENSION, Registration
    from pulumi import ResourceHookArgs

    sm = boto3.client("sagemaker", region_name=REGION)
    aas = boto3.client("application-autoscaling", region_name=REGION)
    sm.create_model(ModelName="m", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                    PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/r:1"})
    for config, instance in (("c1", "ml.m5.large"), ("c2", "ml.m5.large"), ("c3", "ml.m5.xlarge")):
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InstanceType": instance, "InitialInstanceCount": 1}])
    r = Registration(REGION, "endpoint/e/variant/AllTraffic", 1, 4, "e-invocations", {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 480.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60})
    r.register()

    def update(old, new):
        return ResourceHookArgs("urn", "e", "iris-endpoint", "aws:sagemaker/endpoint:Endpoint",
                                new_inputs={"endpointConfigName": new}, old_inputs={"endpointConfigName": old})

    def registered():
        return aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[r.resource_id],
                                             ScalableDimension=DIMENSION)["ScalableTargets"]

    r.before_update(update("c1", "c2"))  # a new model only: SageMaker allows it, scaling stays
    assert registered() and not r.deregistered
    r.before_update(update("c2", "c3"))  # a new instance type: deregistered first
    assert registered() == [] and r.deregistered
    r.after_update(update("c2", "c3"))
    (target,) = registered()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=r.resource_id)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["e-invocations"]
    r.before_update(update("c3", "c1"))
    assert r.on_error(type("Args", (), {"failed_operation": "update"})()) is False  # no retry, scaling back
    assert registered()



@mock_aws
def test_a_new_model_keeps_the_count_autoscaling_set():
    """A new model is a new EndpointConfig whose InitialInstanceCount is scaling.min, and UpdateEndpoint
    without RetainAllVariantProperties (which pulumi-aws cannot send) uses "the variant properties
    specified in a new EndpointConfig"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html): the count
    autoscaling raised under load fell back to min. With
    RetainAllVariantProperties, variants "will be updated with the most recent DesiredInstanceCount
    from the response from the call to DescribeEndpoint"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html): the hooks read it
    before the update and set it again after with UpdateEndpointWeightsAndCapacities, clamped to the
    new min/max; not after an instance type change (that count was for another instance), not after a
    failed update (SageMaker keeps the old fleet), and not where the count is already there."""
    from mlfn_aws import scaling
    from mlfn_aws.scaling import Registration
    from pulumi import ResourceHookArgs

    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model(ModelName="m", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                    PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/r:1"})
    for config, instance, initial in (("c1", "ml.m5.large", 1), ("c2", "ml.m5.large", 1),
                                      ("c3", "ml.m5.xlarge", 1), ("c4", "ml.m5.large", 2)):
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "m", "InstanceType": instance, "InitialInstanceCount": initial}])
    sm.create_endpoint_config(EndpointConfigName="s1", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "m",
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}])
    policy = {"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
              "TargetValue": 480.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60}
    calls, waits = [], []  # UpdateEndpointWeightsAndCapacities requests; how many preceded each DescribeEndpoint

    def registration(low, high):
        r = Registration(REGION, "endpoint/e/variant/AllTraffic", low, high, "e-invocations", policy)
        real = r._client

        def client(service):
            c = real(service)
            c.meta.events.register("provide-client-params.sagemaker", lambda params, model, **_: (
                calls.append(dict(params)) if model.name == "UpdateEndpointWeightsAndCapacities"
                else waits.append(len(calls)) if model.name == "DescribeEndpoint" else None))
            return c

        r._client = client
        return r

    def update(old, new):
        return ResourceHookArgs("urn", "e", "iris-endpoint", "aws:sagemaker/endpoint:Endpoint",
                                new_inputs={"endpointConfigName": new}, old_inputs={"endpointConfigName": old})

    def deploy(config):  # what UpdateEndpoint does to the count (moto has no UpdateEndpoint)
        sm.delete_endpoint(EndpointName="e")
        sm.create_endpoint(EndpointName="e", EndpointConfigName=config)

    def autoscale(count):
        sm.update_endpoint_weights_and_capacities(EndpointName="e", DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "DesiredInstanceCount": count}])
        calls.clear()

    def count():
        (variant,) = sm.describe_endpoint(EndpointName="e")["ProductionVariants"]
        return variant["DesiredInstanceCount"], variant["CurrentInstanceCount"]

    def up(r, old, new, outcome="deployed"):  # the Endpoint's hooks, in the order Pulumi runs them
        binding = scaling.hooks("iris-endpoint", r)
        for hook in binding.before_update:
            hook.callback(update(old, new))
        if outcome == "failed":
            for hook in binding.on_error:
                assert hook.callback(type("Args", (), {"failed_operation": "update"})()) is False  # no retry
            return
        if outcome == "deployed":
            deploy(new)
        for hook in binding.after_update:
            hook.callback(update(old, new))

    sm.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    r = registration(1, 4)
    r.register()
    autoscale(3)
    up(r, "c1", "c2")  # a new model: 3 again, not the new config's InitialInstanceCount 1
    assert count() == (3, 3)
    assert calls == [{"EndpointName": "e", "DesiredWeightsAndCapacities": [
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 3}]}]
    assert waits[-1] == 1  # and DescribeEndpoint after it: the up ends once the endpoint is InService again
    autoscale(3)
    up(registration(1, 2), "c2", "c1")  # scaling.max lowered to 2 in the same up
    assert count() == (2, 2)

    autoscale(3)
    up(r, "c1", "c2", outcome="kept")  # rolled back by an alarm: the old fleet kept its count
    assert count() == (3, 3) and calls == []
    autoscale(1)
    up(registration(2, 4), "c1", "c4")  # scaling.min raised to 2: the new config's count is already there
    assert count() == (2, 2) and calls == []

    autoscale(3)
    up(r, "c4", "c3")  # another instance type: registered again, the count left to autoscaling
    assert count() == (1, 1) and calls == []
    autoscale(3)
    up(r, "c3", "c2", outcome="failed")  # a failed update: SageMaker keeps the old fleet and its count
    assert count() == (3, 3) and calls == []

    deploy("s1")
    up(r, "s1", "c1")  # from serverless: no count to keep
    assert count() == (1, 1) and calls == []

    # Keeping the count is best effort (autoscaling raises it again on its own); the registration is not.
    binding = scaling.hooks("iris-endpoint", r)
    assert [(h.name, bool(h.opts and h.opts.ignore_errors)) for h in binding.before_update + binding.after_update] == [
        ("iris-endpoint-deregister-scaling", False), ("iris-endpoint-remember-count", True),
        ("iris-endpoint-register-scaling", False), ("iris-endpoint-restore-count", True)]


# ---------------------------------------------------------------- Day 1: Lambda URLs that answer
@pytest.mark.parametrize("auth", ["key", "public"])
def test_open_function_urls_allow_both_actions(tmp_path, auth):
    """"Starting in October 2025, new function URLs will require both lambda:InvokeFunctionUrl and
    lambda:InvokeFunction permissions" (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html):
    with only the first, every call to a NONE-auth URL gets 403. InvokeFunction is granted through
    the URL only (lambda:InvokedViaFunctionUrl), not to direct Invoke calls."""
    plan = mlfn.plan(project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: lambda\n",
                                  lambda t: t.replace("auth: private", f"auth: {auth}")), stack="a")
    grants = {p.inputs["action"]: p.inputs for p in plan.find("aws:lambda/permission:Permission")}
    assert set(grants) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert grants["lambda:InvokeFunctionUrl"]["functionUrlAuthType"] == "NONE"
    assert grants["lambda:InvokeFunction"]["invokedViaFunctionUrl"] is True
    assert all(g["principal"] == "*" for g in grants.values())
    for svc, op, req in api_requests(plan):
        if op == "AddPermission":
            assert check_request(svc, op, req) == []


def test_lambda_pulls_its_image_and_waits_for_its_secret(tmp_path, monkeypatch):
    """Lambda pulls a container image with its service principal; the repository policy must let
    lambda.amazonaws.com call ecr:BatchGetImage and ecr:GetDownloadUrlForLayer, scoped by
    aws:sourceArn (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html, "Amazon ECR
    permissions"), else CreateFunction depends on its caller being allowed to edit the repository's
    policy. The function also waits for the API keys' secret value: the runtime reads it at start."""
    import pulumi_aws as aws

    seen = {}
    real = aws.lambda_.Function

    def spy(logical, *args, opts=None, **kwargs):
        seen["depends_on"] = [type(d).__name__ for d in (opts.depends_on or [])]
        return real(logical, *args, opts=opts, **kwargs)

    monkeypatch.setattr(aws.lambda_, "Function", spy)
    plan = mlfn.plan(project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: lambda\n",
                                  lambda t: t.replace("auth: private", "auth: key")), stack="a")
    assert {"SecretVersion", "RepositoryPolicy"} <= set(seen["depends_on"])
    resources = realize(plan, REGION)
    (policy,) = [r for r in resources if r.type == "aws:ecr/repositoryPolicy:RepositoryPolicy"]
    function = plan.one("aws:lambda/function:Function").inputs["name"]
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert set(statement["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    assert statement["Condition"]["StringLike"]["aws:sourceArn"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}")
    assert policy.inputs["repository"] == plan.one("aws:ecr/repository:Repository").inputs["name"]


@pytest.mark.parametrize(("region", "ok"), [("eu-central-2", False), ("ap-southeast-4", False),
                                            ("me-central-1", False), ("eu-central-1", True)])
def test_lambda_needs_a_region_with_function_urls(tmp_path, region, ok):
    """Function URLs are not supported in ap-south-2, ap-southeast-4/5/6/7, ap-east-2, ca-west-1,
    eu-south-2, eu-central-2, il-central-1 and me-central-1
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html)."""
    project = project_with(tmp_path, f"cloud: aws\nregion: {region}\ntarget: lambda\n")
    if ok:
        assert mlfn.validate(project, stack="a")
        return
    with pytest.raises(CheckError, match=f"Lambda function URLs are not offered in {region}"):
        mlfn.validate(project, stack="a")


# ---------------------------------------------------------------- Day 1: a GPU that is used
def test_gpu_variants_get_a_cuda_12_driver(tmp_path):
    """On ml.g4dn, ml.g5 and ml.p4d the default real-time driver is NVIDIA 470 (CUDA 11.4); driver 535
    (CUDA 12.2) needs InferenceAmiVersion al2-ami-sagemaker-inference-gpu-2
    (https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html). The GPU image is CUDA 12.2:
    on the default driver it cannot use the GPU and PyTorch silently runs on the CPU."""
    from mlfn.image.context import torch_cuda_index

    assert "/cu12" in torch_cuda_index("2.13.0")  # the GPU image's CUDA 12 wheels
    plan = mlfn.plan(project_with(tmp_path), stack="aws-sagemaker-gpu")
    (variant,) = plan.one(CONFIG).inputs["productionVariants"]
    assert variant["inferenceAmiVersion"] == "al2-ami-sagemaker-inference-gpu-2"
    assert_valid(plan)  # and it is one of the API's values
    cpu = mlfn.plan(project_with(tmp_path / "cpu"), stack="aws-sagemaker")
    assert "inferenceAmiVersion" not in cpu.one(CONFIG).inputs["productionVariants"][0]
    path = tmp_path / "iris" / "stacks" / "aws-sagemaker-gpu.yaml"
    ami = "al2-ami-sagemaker-inference-gpu-3-1"
    path.write_text(path.read_text() + f"overrides:\n  aws: {{inference_ami_version: {ami}}}\n")
    (variant,) = mlfn.plan(tmp_path / "iris", stack="aws-sagemaker-gpu").one(CONFIG).inputs["productionVariants"]
    assert variant["inferenceAmiVersion"] == "al2-ami-sagemaker-inference-gpu-3-1"


# ---------------------------------------------------------------- Day 1: the SageMaker execution role
def _role(plan):
    resources = realize(plan, REGION)
    (role,) = [r for r in resources if r.type == "aws:iam/role:Role"]
    return json.loads(role.inputs["assumeRolePolicy"]), {s["Sid"]: s for s in policy_statements(resources)}


def test_execution_role_reads_the_rollback_alarms(tmp_path):
    """"Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms
    action on the auto-rollback alarms you specify"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html)."""
    plan = mlfn.plan(project_with(tmp_path), stack="aws-sagemaker-gpu")
    _, statements = _role(plan)
    alarms = {f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a.inputs['name']}"
              for a in plan.find("aws:cloudwatch/metricAlarm:MetricAlarm")}
    rollback = {a["alarmName"] for a in plan.one(ENDPOINT).inputs["deploymentConfig"]["autoRollbackConfiguration"][
        "alarms"]}
    assert len(alarms) == len(rollback) == 2
    assert statements["ReadRollbackAlarms"]["Action"] == ["cloudwatch:DescribeAlarms"]
    assert set(statements["ReadRollbackAlarms"]["Resource"]) == alarms
    serverless = mlfn.plan(project_with(tmp_path / "s"), stack="aws-serverless")  # no alarms, no statement
    assert "ReadRollbackAlarms" not in _role(serverless)[1]


def test_execution_role_trusts_sagemaker_for_this_account_only(tmp_path):
    """SageMaker's confused-deputy guidance: condition the trust policy on aws:SourceAccount
    (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html)."""
    trust, _ = _role(mlfn.plan(project_with(tmp_path), stack="aws-serverless"))
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.parametrize(("uri", "objects", "listed"), [
    ("s3://my-models/model.tar.gz", "arn:aws:s3:::my-models/*", "*"),
    ("s3://my-models/iris/v2/model.tar.gz", "arn:aws:s3:::my-models/iris/v2/*", "iris/v2/*"),
])
def test_a_model_at_the_bucket_root_can_be_read(tmp_path, uri, objects, listed):
    """s3://bucket/model.tar.gz gave the resource arn:aws:s3:::bucket//* (an empty prefix between two
    slashes), which matches no object key: SageMaker's download was denied."""
    plan = mlfn.plan(project_with(tmp_path, f"cloud: aws\nregion: {REGION}\ntarget: sagemaker\n",
                                  lambda t: t.replace("uri: ./model", f"uri: {uri}").replace("min: 0", "min: 1")
                                  + "monitoring: {capture: 10}\n"), stack="a")
    _, statements = _role(plan)
    assert statements["ReadModel"]["Resource"] == [objects]
    assert statements["ListModelPrefix"]["Condition"]["StringLike"]["s3:prefix"] == [listed]
    assert statements["WriteCapture"]["Resource"] == [objects.replace("/*", "/capture/*")]
    capture = plan.one(CONFIG).inputs["dataCaptureConfig"]["destinationS3Uri"]
    assert "//" not in capture.removeprefix("s3://") and capture.endswith("capture")


# ---------------------------------------------------------------- the runtime's environment per target
@pytest.mark.parametrize(("stack", "spec_edit", "expected"), [
    # SageMaker real-time: InvokeEndpoint's Body is at most 6291456 bytes; SIGKILL 30 s after SIGTERM.
    ("aws-sagemaker", lambda t: t.replace("cpu: 1\n", "cpu: 3.5\n"),
     {"MLFN_WORKERS": "3", "MLFN_MAX_BODY_BYTES": "6291456", "MLFN_GRACEFUL_SECONDS": "25"}),
    ("aws-sagemaker-gpu", None,  # one worker per GPU (one T4), whatever compute.cpu says
     {"MLFN_WORKERS": "1", "MLFN_MAX_BODY_BYTES": "6291456", "MLFN_GRACEFUL_SECONDS": "25"}),
    # Serverless: 4 MB request and response payloads.
    ("aws-serverless", lambda t: t.replace("cpu: 1\n", "cpu: 2\n"),
     {"MLFN_WORKERS": "2", "MLFN_MAX_BODY_BYTES": "4194304", "MLFN_GRACEFUL_SECONDS": "25"}),
    # Lambda: 6 MB synchronous payloads, one request per environment, no server to drain.
    ("aws-lambda", lambda t: t.replace("cpu: 1\n", "cpu: 4\n"),
     {"MLFN_WORKERS": "1", "MLFN_MAX_BODY_BYTES": "6291456"}),
])
def test_runtime_environment_per_target(tmp_path, stack, spec_edit, expected):
    """Workers from compute.cpu (one per GPU), the request limit each target documents, and a grace
    below the platform's SIGTERM-to-SIGKILL deadline (sources in mlfn_aws/runtime_env.py's docstring:
    https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html,
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-invoke.html,
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)."""
    from mlfn_aws.runtime_env import GRACEFUL_SECONDS, KILL_AFTER_S
    from mlfn_runtime.settings import Settings

    plan = mlfn.plan(project_with(tmp_path, spec_edit=spec_edit), stack=stack)
    if stack == "aws-lambda":
        env = plan.one("aws:lambda/function:Function").inputs["environment"]["variables"]
    else:
        env = plan.one(MODEL).inputs["primaryContainer"]["environment"]
    assert {k: env[k] for k in expected} == expected
    settings = Settings.from_env(env)  # the runtime reads them as meant
    assert settings.workers == int(expected["MLFN_WORKERS"])
    assert settings.max_body_bytes == int(expected["MLFN_MAX_BODY_BYTES"])
    if KILL_AFTER_S[plan.target]:
        assert int(expected[GRACEFUL_SECONDS]) == settings.graceful_seconds < KILL_AFTER_S[plan.target]
    else:
        assert GRACEFUL_SECONDS not in env  # Lambda: Mangum, no server to drain, no SIGTERM grace
    if stack == "aws-serverless":
        assert service("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape.members[
            "Body"].metadata["max"] == 6291456  # the API's own cap; serverless documents a lower one


def test_runtime_env_may_be_tuned_by_the_spec(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, spec_edit=lambda t: t + "runtime: {env: {MLFN_WORKERS: '7'}}\n"),
                     stack="aws-serverless")
    assert plan.one(MODEL).inputs["primaryContainer"]["environment"]["MLFN_WORKERS"] == "7"


@pytest.mark.parametrize(("stack", "machine"), [
    ("aws-sagemaker-gpu", "ml.g4dn.xlarge"), ("aws-sagemaker", "ml.c5.large"),
    ("aws-serverless", "serverless, 2048 MB"), ("aws-lambda", "function, 2048 MB")])
def test_plan_summary_names_the_machine(tmp_path, stack, machine):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    assert plan.summary["machine"] == machine


def test_a_well_formed_region_aws_does_not_know_is_a_note(tmp_path):
    project = project_with(tmp_path, "cloud: aws\nregion: us-east-9\n")
    notes = mlfn.validate(project, stack="a").notes
    assert any("region us-east-9 is not one botocore knows for sagemaker" in n for n in notes)
    assert not [n for n in mlfn.validate(project_with(tmp_path / "b", "cloud: aws\nregion: eu-west-1\n"),
                                         stack="a").notes if "botocore knows" in n]


# ---------------------------------------------------------------- Lambda's Python: Amazon Linux 2023 bases only
def _lambda_dockerfile(tmp_path) -> str:
    return next((tmp_path / "iris" / ".mlfn" / "build").glob("*lambda*/Dockerfile")).read_text()


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_lambda_refuses_a_python_below_3_12_set_in_mlfn_yaml(tmp_path, python):
    """Only the Python 3.12+ Lambda base images are Amazon Linux 2023; python3.11's is Amazon Linux 2
    (glibc 2.26), where current numpy/scikit-learn have no wheels
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)."""
    project = project_with(tmp_path, "cloud: aws\nregion: us-east-1\ntarget: lambda\n",
                           lambda text: text + f"runtime:\n  python: \"{python}\"\n")
    with pytest.raises(CheckError) as e:
        mlfn.validate(project, stack="a")
    message = str(e.value)
    assert "runtime.python" in message and "mlfn.yaml" in message
    assert f"now {python}" in message and "3.12" in message and "3.13" in message


@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_lambda_uses_the_python_set_in_mlfn_yaml(tmp_path, python):
    project = project_with(tmp_path, spec_edit=lambda text: text + f"runtime:\n  python: \"{python}\"\n")
    result = mlfn.validate(project, stack="aws-lambda")
    assert not any("runtime.python" in n for n in result.notes)
    mlfn.plan(project, stack="aws-lambda")
    assert f"ARG BASE_IMAGE=public.ecr.aws/lambda/python:{python}\n" in _lambda_dockerfile(tmp_path)


def test_lambda_without_runtime_python_uses_3_12_and_says_so(tmp_path):
    """runtime.python defaults to 3.11 for the other images; Lambda's image takes 3.12 then, with a note."""
    project = project_with(tmp_path)
    result = mlfn.validate(project, stack="aws-lambda")
    (note,) = [n for n in result.notes if "runtime.python" in n]
    assert "3.12" in note
    mlfn.plan(project, stack="aws-lambda")
    assert "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12\n" in _lambda_dockerfile(tmp_path)
    # Only Lambda's image: the other targets keep the spec's default.
    sagemaker = mlfn.validate(project, stack="aws-sagemaker")
    assert not any("runtime.python" in n for n in sagemaker.notes)


def test_lambda_image_of_a_pytorch_model_takes_torchs_cpu_wheels(tmp_path):
    """Lambda has no GPU and a 10 GB image limit: PyPI's torch is the CUDA build (gigabytes of nvidia-*
    wheels), so the Lambda image installs torch from PyTorch's CPU index first, as the CPU image does."""
    from mlfn_aws.lambda_image import LAMBDA
    from mlfn_runtime.contract import Manifest

    from mlfn.image import write_context
    from mlfn.image.context import TORCH_CPU_INDEX

    manifest = Manifest(name="m", format="pytorch", model_file="model.pt", libraries={"torch": "2.8.0"})
    ctx = write_context(tmp_path / "ctx", variant=LAMBDA, manifest=manifest, python="3.12")
    run = ctx.dockerfile.read_text().split("RUN ", 1)[1]
    assert run.startswith(f'pip install --no-cache-dir --index-url {TORCH_CPU_INDEX} "torch==2.8.0"')
    assert "${LAMBDA_TASK_ROOT}/requirements.txt" in run  # then the runtime, as before
