"""Azure's documented rules, as explicit checks.

No Azure package ships usable models of the current online-endpoint API, so the rules mlfn
depends on are written down here, each with its source, and applied to every planned request.
"""

from __future__ import annotations

import re
from typing import Any

import isodate

from .conventions import CATALOG

#: Managed online endpoint and deployment names: 3-32 characters, a letter first, then letters,
#: digits and '-' (learn.microsoft.com/azure/machine-learning/how-to-manage-quotas, online endpoints).
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
#: request_settings.request_timeout: at most 180 s (the same page: "request timeout" limit).
MAX_REQUEST_TIMEOUT_S = 180
#: Probe settings (reference-yaml-deployment-managed-online#probesettings): period and timeout >= 1 s,
#: failure_threshold >= 1, success_threshold 1 for liveness.
PROBE_MIN_S = 1
AUTH_MODES = ("AADToken", "Key", "AMLToken")
CONTAINERAPPS_GPU_PROFILES = ("Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100")
#: Where Container Apps offers serverless GPUs, by GPU type
#: (learn.microsoft.com/azure/container-apps/gpu-serverless-overview#supported-regions).
CONTAINERAPPS_GPU_REGIONS = {
    "t4": ("westus3", "australiaeast", "swedencentral", "westeurope"),
    "a100": ("westus3", "westus", "australiaeast", "swedencentral"),
}


def duration_s(value: Any, field: str, problems: list[str]) -> float | None:
    """An ISO-8601 duration in seconds, or a problem naming the field."""
    if not isinstance(value, str):
        problems.append(f"{field}: {value!r} is not an ISO-8601 duration such as PT30S")
        return None
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError):
        problems.append(f"{field}: {value!r} is not an ISO-8601 duration such as PT30S")
        return None
    return parsed.total_seconds()


def normal_duration(value: str) -> str:
    """``value`` the way Azure ML writes a duration back: the largest units first, none that is
    zero (PT60S -> PT1M, PT90S -> PT1M30S; .NET's XmlConvert form of a TimeSpan). Sent as given, a
    duration reads back different after a refresh and looks like a change on every up."""
    total = isodate.parse_duration(value).total_seconds()
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    date = f"{int(days)}D" if days else ""
    seconds_text = f"{seconds:g}S" if seconds else ""
    time_part = "".join(f"{int(v)}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v) + seconds_text
    if not date and not time_part:
        return "PT0S"
    return f"P{date}" + (f"T{time_part}" if time_part else "")


def endpoint_problems(name: str, props: dict[str, Any]) -> list[str]:
    problems = []
    if not ENDPOINT_NAME.match(name):
        problems.append(f"endpoint name {name!r}: 3-32 characters, a letter first, letters, digits and '-'")
    if props.get("auth_mode") not in AUTH_MODES:
        problems.append(f"auth_mode: {props.get('auth_mode')!r} is not one of {', '.join(AUTH_MODES)}")
    return problems


def deployment_problems(name: str, props: dict[str, Any]) -> list[str]:
    problems = []
    if not ENDPOINT_NAME.match(name):
        problems.append(f"deployment name {name!r}: 3-32 characters, a letter first, letters, digits and '-'")
    skus = {m.name for m in CATALOG.machines("azureml")}
    if props.get("instance_type") not in skus:
        problems.append(f"instance_type: {props.get('instance_type')!r} is not a managed online endpoint SKU "
                        f"mlfn knows (e.g. {', '.join(sorted(skus)[:3])}, ...)")
    for probe in ("liveness_probe", "readiness_probe"):
        settings = props.get(probe) or {}
        for key in ("initial_delay", "period", "timeout"):
            if key in settings:
                s = duration_s(settings[key], f"{probe}.{key}", problems)
                if s is not None and key != "initial_delay" and s < PROBE_MIN_S:
                    problems.append(f"{probe}.{key}: must be at least {PROBE_MIN_S}s")
        if settings.get("failure_threshold", 1) < 1:
            problems.append(f"{probe}.failure_threshold: must be at least 1")
        if probe == "liveness_probe" and settings.get("success_threshold", 1) != 1:
            problems.append("liveness_probe.success_threshold: must be 1")
    request = props.get("request_settings") or {}
    if "request_timeout" in request:
        s = duration_s(request["request_timeout"], "request_settings.request_timeout", problems)
        if s is not None and not 0 < s <= MAX_REQUEST_TIMEOUT_S:
            problems.append(f"request_settings.request_timeout: {request['request_timeout']} is over Azure ML's "
                            f"limit of {MAX_REQUEST_TIMEOUT_S} s")
    if request.get("max_concurrent_requests_per_instance", 1) < 1:
        problems.append("request_settings.max_concurrent_requests_per_instance: must be at least 1")
    return problems


def container_app_problems(app: dict[str, Any], profiles: list[dict[str, Any]]) -> list[str]:
    problems = []
    names = {p["name"] for p in profiles}
    for p in profiles:
        kind = p["workload_profile_type"]
        if kind != "Consumption" and kind not in CONTAINERAPPS_GPU_PROFILES:
            problems.append(f"workload profile type {kind!r} is not one of Consumption, "
                            f"{', '.join(CONTAINERAPPS_GPU_PROFILES)}")
    if app.get("workload_profile_name") not in names:
        problems.append(f"workload_profile_name {app.get('workload_profile_name')!r} is not a profile of the "
                        "environment")
    scale = app["template"]["scale"]
    if not 0 <= scale["min_replicas"] <= scale["max_replicas"] <= 1000:
        problems.append("scale: 0 <= min_replicas <= max_replicas <= 1000")
    for rule in scale.get("rules", []):
        concurrent = rule.get("http", {}).get("metadata", {}).get("concurrentRequests")
        if concurrent is not None and not (str(concurrent).isdigit() and int(concurrent) >= 1):
            problems.append(f"scale rule {rule['name']}: concurrentRequests must be a whole number >= 1")
    ingress = app["configuration"]["ingress"]
    if not 1 <= ingress["target_port"] <= 65535:
        problems.append("ingress.target_port must be a port number")
    for c in app["template"]["containers"]:
        for probe in c.get("probes", []):
            if probe["type"] not in ("Liveness", "Readiness", "Startup"):
                problems.append(f"probe type {probe['type']!r} is not one of Liveness, Readiness, Startup")
            # pulumi-azure-native's ContainerAppProbeArgs: "Minimum value is 1. Maximum value is 60."
            if "initial_delay_seconds" in probe and not 1 <= probe["initial_delay_seconds"] <= 60:
                problems.append("probe initial_delay_seconds must be 1-60")
            if not 1 <= probe.get("period_seconds", 10) <= 240:
                problems.append("probe period_seconds must be 1-240")
            if not 1 <= probe.get("timeout_seconds", 1) <= 240:
                problems.append("probe timeout_seconds must be 1-240")
            if not 1 <= probe.get("failure_threshold", 3) <= 10:
                problems.append("probe failure_threshold must be 1-10")
    return problems
