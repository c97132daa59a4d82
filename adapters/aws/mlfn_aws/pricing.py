"""What an AWS deployment costs: the arithmetic per target over what the offline plan resolved.

The prices are rows in ``prices.yaml`` (each with its source and date); the rules below are
AWS's billing rules, each cited:

- SageMaker real-time endpoints bill every instance-hour from creation to deletion, traffic or
  not, plus data processed in and out per GB (https://aws.amazon.com/sagemaker/pricing/).
- SageMaker Serverless bills the memory size x the seconds each request runs, plus data processed
  (same page); it scales to zero.
- Lambda bills requests and duration x memory in GB-seconds, duration rounded up to the
  millisecond (https://aws.amazon.com/lambda/pricing/, Example 1: 512 MB, 3M requests of 1 s ->
  $18.34 compute + $0.40 requests = $18.74, checked in tests/aws/test_pricing_aws.py).
"""

from __future__ import annotations

import math
from pathlib import Path

from mlfn.pricing import Pricing, Quote

from .conventions import CATALOG
from .price_api import REFRESHER

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
FUNCTION = "aws:lambda/function:Function"


def _variant(q: Quote) -> dict:
    return (q.resource(ENDPOINT_CONFIG).get("productionVariants") or [{}])[0]


def _gpu_of(instance_type: str) -> str | None:
    for m in CATALOG.machines("sagemaker"):
        if m.name == instance_type and m.gpu:
            return f"{m.gpus}x {m.gpu}"
    return None


def sagemaker(q: Quote) -> None:
    v = _variant(q)
    itype = v.get("instanceType", "")
    first = int(v.get("initialInstanceCount", 1))
    scaling = q.resource(SCALABLE_TARGET)
    low, high = int(scaling.get("minCapacity", first)), int(scaling.get("maxCapacity", first))
    q.machine, q.gpu = itype, _gpu_of(itype)
    hours = q.instance_hours(q.spec.scaling.concurrency, max(1, low), max(1, high))
    q.charge("instance", hours, key=itype, what=f"{itype} instance-hours")
    q.charge("data", q.traffic.gigabytes, what="data processed in and out (GB)")
    q.assume("a real-time endpoint bills every instance-hour, with or without traffic; autoscaling adds "
             f"instances at {q.spec.scaling.concurrency} requests in flight each")


def sagemaker_serverless(q: Quote) -> None:
    memory_mb = int((_variant(q).get("serverlessConfig") or {}).get("memorySizeInMb", 1024))
    q.machine, q.scale_to_zero = f"serverless {memory_mb} MB", True
    gb_seconds = q.traffic.busy_seconds * memory_mb / 1024
    q.charge("compute", gb_seconds, what=f"compute: {memory_mb} MB x request seconds (GB-s)")
    q.charge("data", q.traffic.gigabytes, what="data processed in and out (GB)")
    q.assume("serverless bills memory x the seconds each request runs; nothing between requests; "
             "cold starts are not billed")


def lambda_(q: Quote) -> None:
    fn = q.resource(FUNCTION)
    memory_mb = int(fn.get("memorySize", 128))
    arch = (fn.get("architectures") or ["x86_64"])[0]
    q.machine, q.scale_to_zero = f"{memory_mb} MB {arch}", True
    billed_s = math.ceil(q.traffic.latency_s * 1000 - 1e-9) / 1000  # rounded up to the millisecond
    gb_seconds = q.traffic.requests_per_month * billed_s * memory_mb / 1024
    q.charge("compute", gb_seconds, what=f"duration: {memory_mb} MB x seconds (GB-s)")
    q.charge("requests", q.traffic.requests_per_month / 1e6, what="requests (millions)")
    if arch != "x86_64":
        q.assume(f"priced at the x86_64 rows although the function runs on {arch}")
    q.assume("Lambda runs one request per execution environment: every request's duration is billed; "
             "Function URLs add no charge")


PRICING = Pricing(
    Path(__file__).with_name("prices.yaml"),
    {"sagemaker": sagemaker, "sagemaker-serverless": sagemaker_serverless, "lambda": lambda_},
    region_of=lambda stack: stack.location.region,
    refresh=REFRESHER,
)
