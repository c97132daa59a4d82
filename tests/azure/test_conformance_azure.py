"""The adapter conformance suite (mlfn.testing.AdapterConformance) on the Azure adapter: reference
stacks plan tagged with typed outputs, overrides are typed, unhonourable specs are rejected naming
what to change, and each target's lifecycle (plan v1 -> v2) rolls out what changed and keeps what
holds data or a URL."""

from helpers import EXAMPLES, ROOT

from mlfn.testing import AdapterConformance, Lifecycle

ML = "azure-native:machinelearningservices:"
APP = "azure-native:app:"
KEPT = ("azure-native:resources:ResourceGroup", "azure-native:containerregistry:Registry",
        "random:index/randomId:RandomId")


#: The inputs that hold an Azure resource's name (what "stays" must keep).
AZURE_NAMES = ("name", "accountName", "registryName", "vaultName", "workspaceName", "endpointName",
               "resourceGroupName", "containerAppName", "environmentName", "deploymentName", "autoscaleSettingName")


class TestAzureConformance(AdapterConformance):
    cloud = "azure"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = tuple(ROOT / "stacks" / f"{s}.yaml" for s in (
        "azure-azureml", "azure-azureml-gpu", "azure-containerapps", "azure-containerapps-gpu"))
    taggable = ("azure-native:resources:ResourceGroup", "azure-native:containerregistry:Registry",
                f"{APP}ContainerApp", f"{APP}ManagedEnvironment", f"{ML}OnlineEndpoint", f"{ML}OnlineDeployment",
                f"{ML}Workspace", "azure-native:storage:StorageAccount", "azure-native:keyvault:Vault")
    bad_overrides = (
        ({"log_retention_days": "a month"}, "log_retention_days"),
        ({"log_retention_days": 3}, "log_retention_days"),
        ({"request_timeout": "PT10M"}, "request_timeout"),
        ({"request_timeout": "ten seconds"}, "request_timeout"),
        ({"instance_type": "Standard_Bogus_v9"}, "instance_type"),
        ({"sku": "P1"}, "sku"),
    )
    unhonourable = (
        ("cloud: azure\ntarget: azureml\nlocation: eastus\n", "", "set scaling.min: 1"),
        ("cloud: azure\ntarget: azureml\nlocation: eastus\nscaling: {min: 1, max: 2}\n",
         "endpoint: {auth: public}\n", "set endpoint.auth: key or private"),
        ("cloud: azure\ntarget: containerapps\nlocation: westus3\ncompute: {cpu: 4, memory: 16Gi, gpu: {type: l4}}\n",
         "", "compute.gpu.type 'l4' is not offered"),
        ("cloud: azure\ntarget: containerapps\nlocation: westus3\ncompute: {cpu: 4, memory: 16Gi, gpu: {type: t4, "
         "count: 2}}\n", "", "set compute.gpu.count: 1"),
        ("cloud: azure\ntarget: containerapps\nlocation: eastus\ncompute: {cpu: 8, memory: 16Gi}\n", "",
         "lower compute.cpu/compute.memory"),
    )
    lifecycle = {
        "azureml": Lifecycle(
            "azure-azureml",
            name_inputs=AZURE_NAMES,
            changes={"model": [f"{ML}OnlineDeployment"], "requirements": [f"{ML}OnlineDeployment"],
                     "compute": [f"{ML}OnlineDeployment"]},
            # A new instance type is a new deployment (an update cannot change it), and its autoscale
            # setting (whose target cannot change) goes with it.
            replaced={"model": [f"{ML}ModelVersion"], "requirements": [f"{ML}EnvironmentVersion"],
                      "compute": [f"{ML}OnlineDeployment", "azure-native:monitor:AutoscaleSetting"]},
            stays=[*KEPT, f"{ML}Workspace", f"{ML}OnlineEndpoint",
                   "azure-native:storage:StorageAccount",
                   "azure-native:keyvault:Vault"],
        ),
        "containerapps": Lifecycle(
            "azure-containerapps",
            name_inputs=AZURE_NAMES,
            changes={"model": [f"{APP}ContainerApp"], "requirements": [f"{APP}ContainerApp"],
                     "compute": [f"{APP}ContainerApp"]},
            stays=[*KEPT, f"{APP}ContainerApp", f"{APP}ManagedEnvironment"],
        ),
    }
