from mlfn_kubernetes.conventions import resources

from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


def test_kubernetes_resources():
    r = resources(c(cpu=2, memory="4Gi", gpu={"type": "a100", "count": 2}))
    assert r == {"requests": {"cpu": "2", "memory": "4096Mi"},
                 "limits": {"memory": "4096Mi", "nvidia.com/gpu": "2"}}
