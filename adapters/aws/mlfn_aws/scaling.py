"""Autoscaling around an endpoint update: its registration (an instance type change) and its count.

SageMaker refuses UpdateEndpoint when it would change the instance type of a variant registered
with Application Auto Scaling: the variant must be deregistered first and registered again after
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). A Pulumi graph
cannot say "before the endpoint's update" for a resource that must be created after the
endpoint, so the Endpoint carries resource hooks: ``before_update`` deregisters the variant when
the new config changes an instance type, ``after_update`` (and the error hook, when the update
failed and SageMaker kept the old config) registers it again with the same target and policy.
A change of model alone is allowed by SageMaker and leaves autoscaling as it is.

Autoscaling's count. Each new EndpointConfig says ``InitialInstanceCount: scaling.min``, and
UpdateEndpoint without ``RetainAllVariantProperties`` (pulumi-aws's Endpoint cannot send it) uses
"the variant properties specified in a new EndpointConfig"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html): a new model
would drop a variant that autoscaling had raised under load back to ``scaling.min``. With it,
variants are "updated with the most recent DesiredInstanceCount from the response from the call to
DescribeEndpoint" (endpoint-scaling-update.html, above). The hooks reach the same end state:
``remember_count`` reads that DesiredInstanceCount before the update, ``restore_count`` sets it
again after with UpdateEndpointWeightsAndCapacities, clamped to the new min/max, and waits for
InService (after hooks run once the provider's own update has waited for InService:
terraform-provider-aws, internal/service/sagemaker/endpoint.go, resourceEndpointUpdate). That
page's own procedure calls UpdateEndpointWeightsAndCapacities with the variant still registered
(deregistering is needed only for an instance type change or a removed variant), and Application
Auto Scaling scales through the same call (its service-linked role's policy,
https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSApplicationAutoscalingSageMakerEndpointPolicy.html).
Not after an instance type change (the count was what the other type needed: autoscaling,
registered again, sizes the new one), not after a failed update (SageMaker keeps the old fleet and
its count), not to or from serverless (no instance type, no count; a serverless endpoint has no
hooks). What hooks cannot do: the new fleet of a blue/green update starts at
``InitialInstanceCount``, and autoscaling is blocked while an update is in progress (same page),
so the count comes back when the update ends, not during it. Both hooks are best effort
(``ignore_errors``: a warning, not a failed ``up``): autoscaling raises the count again itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass
class Registration:
    """One variant's scalable target and its target-tracking policy, as the API takes them."""

    region: str
    resource_id: str
    min_capacity: int
    max_capacity: int
    policy_name: str
    policy: Mapping[str, Any]
    #: Set by ``before_update`` when it deregistered, so ``after_update`` knows to register again.
    deregistered: bool = field(default=False, compare=False)
    #: Set by ``remember_count``: the variant's DesiredInstanceCount before the update.
    count: int | None = field(default=None, compare=False)

    @property
    def endpoint_name(self) -> str:
        return self.resource_id.split("/")[1]

    @property
    def variant_name(self) -> str:
        return self.resource_id.split("/")[3]

    def _client(self, service: str):
        import boto3

        return boto3.client(service, region_name=self.region)

    def instance_types(self, config_name: str | None) -> dict[str, str]:
        if not config_name:
            return {}
        config = self._client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
        return {v["VariantName"]: v.get("InstanceType", "") for v in config["ProductionVariants"]}

    def desired_count(self) -> int:
        """The variant's DesiredInstanceCount (DescribeEndpoint's ProductionVariantSummary)."""
        endpoint = self._client("sagemaker").describe_endpoint(EndpointName=self.endpoint_name)
        (variant,) = [v for v in endpoint["ProductionVariants"] if v["VariantName"] == self.variant_name]
        return int(variant["DesiredInstanceCount"])

    def is_registered(self) -> bool:
        found = self._client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[self.resource_id], ScalableDimension=DIMENSION)
        return bool(found["ScalableTargets"])

    def deregister(self) -> None:
        """Deregister the variant (which deletes its scaling policies too)."""
        if self.is_registered():
            self._client("application-autoscaling").deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=self.resource_id, ScalableDimension=DIMENSION)
        self.deregistered = True

    def register(self) -> None:
        client = self._client("application-autoscaling")
        client.register_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=self.resource_id, ScalableDimension=DIMENSION,
            MinCapacity=self.min_capacity, MaxCapacity=self.max_capacity)
        client.put_scaling_policy(
            PolicyName=self.policy_name, ServiceNamespace=NAMESPACE, ResourceId=self.resource_id,
            ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=dict(self.policy))
        self.deregistered = False

    # -- the hooks ---------------------------------------------------------------------------------

    def before_update(self, args) -> None:
        old = (args.old_inputs or {}).get("endpointConfigName")
        new = (args.new_inputs or {}).get("endpointConfigName")
        if old == new:
            return
        if self.instance_types(old) != self.instance_types(new):
            self.deregister()

    def after_update(self, args) -> None:
        if self.deregistered:
            self.register()

    def remember_count(self, args) -> None:
        self.count = None
        old = (args.old_inputs or {}).get("endpointConfigName")
        new = (args.new_inputs or {}).get("endpointConfigName")
        if self.instance_types(old) == self.instance_types(new):  # a serverless variant's type is ""
            self.count = self.desired_count()

    def restore_count(self, args) -> None:
        count, self.count = self.count, None
        if count is None:
            return
        wanted = min(max(count, self.min_capacity), self.max_capacity)
        if self.desired_count() >= wanted:
            return  # kept (an update rolled back by an alarm), or the new config's count is higher
        sagemaker = self._client("sagemaker")
        sagemaker.update_endpoint_weights_and_capacities(EndpointName=self.endpoint_name, DesiredWeightsAndCapacities=[
            {"VariantName": self.variant_name, "DesiredInstanceCount": wanted}])
        # InService again before the up ends: a next update or delete is refused while it is Updating.
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=self.endpoint_name)

    def on_error(self, args) -> bool:
        """The update failed: SageMaker keeps the endpoint on its old config; scale it again. No retry."""
        if self.deregistered and getattr(args, "failed_operation", "") == "update":
            self.register()
        return False


def hooks(name: str, registration: Registration):
    """The Endpoint's ``ResourceOptions.hooks`` for ``registration`` (hook names: ``<name>-...``)."""
    import pulumi

    # An after hook's error would fail the up although the update succeeded; keeping the count only warns.
    best_effort = pulumi.ResourceHookOptions(ignore_errors=True)
    return pulumi.ResourceHookBinding(
        before_update=[pulumi.ResourceHook(f"{name}-deregister-scaling", registration.before_update),
                       pulumi.ResourceHook(f"{name}-remember-count", registration.remember_count, best_effort)],
        after_update=[pulumi.ResourceHook(f"{name}-register-scaling", registration.after_update),
                      pulumi.ResourceHook(f"{name}-restore-count", registration.restore_count, best_effort)],
        on_error=[pulumi.ErrorHook(f"{name}-register-scaling-on-error", registration.on_error)],
    )
