"""The adapter conformance suite (mlfn.testing.AdapterConformance), run on the fake adapter, and its
own checks shown to fail on adapters that break the rules."""

from helpers import EXAMPLES, ROOT

from mlfn.plan import Plan, PlannedResource
from mlfn.testing import AdapterConformance, Lifecycle, lifecycle_problems

FAKE_STACKS = ROOT / "tests" / "fake_adapter" / "stacks"


class TestFakeConformance(AdapterConformance):
    cloud = "fake"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = (FAKE_STACKS / "fake-serverless.yaml", FAKE_STACKS / "fake-instances.yaml")
    taggable = ("fake:index:Store", "fake:index:Endpoint")
    bad_overrides = (({"size": "huge"}, "size"), ({"log_retention_days": "a month"}, "log_retention_days"),
                     ({"replicas": 3}, "replicas"))
    unhonourable = (
        ("cloud: fake\nregion: eu-1\n", "compute: {gpu: {type: t4}}\n", "fake has no GPUs that scale to zero"),
        ("cloud: fake\ntarget: serverless\nregion: eu-1\n", "endpoint: {auth: public}\n",
         "fake serverless endpoints are never public"),
    )
    lifecycle = {
        "serverless": Lifecycle("fake-serverless", changes={"model": ["fake:index:Endpoint"],
                                                             "requirements": ["fake:index:Endpoint"],
                                                             "compute": ["fake:index:Endpoint"]},
                                stays=["fake:index:Store"]),
        "instances": Lifecycle("fake-instances", changes={"model": ["fake:index:Endpoint"],
                                                           "requirements": ["fake:index:Endpoint"],
                                                           "compute": ["fake:index:Endpoint"]},
                               stays=["fake:index:Store"]),
    }


def _plan(*resources: PlannedResource) -> Plan:
    return Plan("iris", "fake", "serverless", list(resources))


def R(type_: str, logical: str, /, **inputs) -> PlannedResource:  # noqa: N802
    return PlannedResource(type_, logical, None, inputs)


def test_lifecycle_rules_fail_where_they_should():
    spec = Lifecycle("s", changes={"model": ["t:Endpoint"]}, replaced={"model": ["t:Config"]}, stays=["t:Bucket"])
    v1 = _plan(R("t:Endpoint", "e", config="c1"), R("t:Config", "c", name="cfg"), R("t:Bucket", "b", name="b1"))
    unchanged = _plan(R("t:Endpoint", "e", config="c1"), R("t:Config", "c", name="cfg"), R("t:Bucket", "b", name="b2"))
    problems = lifecycle_problems(v1, unchanged, "model", spec)
    assert any("t:Endpoint did not change" in p for p in problems)
    assert any("t:Config kept its name" in p for p in problems)
    assert any("t:Bucket changed its name" in p for p in problems)
    good = _plan(R("t:Endpoint", "e", config="c2"), R("t:Config", "c", name="cfg-2"), R("t:Bucket", "b", name="b1"))
    assert lifecycle_problems(v1, good, "model", spec) == []


def test_nothing_and_tag_cases_fail_where_they_should():
    v1 = _plan(R("t:A", "a", size=1, tags={"k": "v"}))
    assert lifecycle_problems(v1, _plan(R("t:A", "a", size=2, tags={"k": "v"})), "nothing", Lifecycle("s"))
    assert lifecycle_problems(v1, _plan(R("t:A", "a", size=1, tags={"k": "w"})), "tag", Lifecycle("s")) == []
    assert lifecycle_problems(v1, _plan(R("t:A", "a", size=2, tags={"k": "w"})), "tag", Lifecycle("s"))


def test_stays_compares_the_inputs_that_hold_the_cloud_name():
    spec = Lifecycle("s", stays=["t:Registry"], name_inputs=("registryName",))
    v1 = _plan(R("t:Registry", "r", registryName="reg1"))
    assert lifecycle_problems(v1, _plan(R("t:Registry", "r", registryName="reg2")), "model", spec)
    assert lifecycle_problems(v1, _plan(R("t:Registry", "r", registryName="reg1", sku="x")), "model", spec) == []
