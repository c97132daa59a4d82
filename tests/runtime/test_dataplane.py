"""The data plane: concurrent requests batched into one model call, each answered with its own rows."""

import asyncio

import numpy as np
import pytest
from mlfn_runtime.dataplane import DataPlane, InferenceRequest
from mlfn_runtime.errors import InvalidInput, ModelFailure
from mlfn_runtime.models import BaseModel, LoadedModel, load


class Recorder(BaseModel):
    """Doubles each row's sum; fails on a row holding 666; records every call's batch size."""

    n_features = 2

    def __init__(self):
        self.calls = []

    def run(self, x, parameters):
        self.calls.append(x.shape[0])
        if (x == 666).any():
            raise RuntimeError("bad row")
        return x.sum(axis=1) * parameters.get("scale", 2)


def plane_with(model) -> DataPlane:
    plane = DataPlane()
    plane.set_model(LoadedModel("m", "sklearn", model, None, 0.0))
    plane._avg_predict_s = 0.0  # measured fast: inline, batched
    return plane


async def many(plane, bodies):
    return await asyncio.gather(
        *(plane.infer(InferenceRequest(rows, params, f"r{i}")) for i, (rows, params) in enumerate(bodies)),
        return_exceptions=True,
    )


def test_concurrent_requests_share_one_model_call_and_get_their_own_rows():
    model = Recorder()
    plane = plane_with(model)
    bodies = [([[i, 1], [i, 2]], {}) for i in range(10)]
    results = asyncio.run(many(plane, bodies))
    for i, r in enumerate(results):
        assert r.predictions.tolist() == [2 * (i + 1), 2 * (i + 2)]
    assert model.calls == [20]


def test_different_parameters_are_separate_batches():
    model = Recorder()
    plane = plane_with(model)
    results = asyncio.run(many(plane, [([[1, 1]], {}), ([[1, 1]], {"scale": 10}), ([[2, 2]], {})]))
    assert [r.predictions.tolist() for r in results] == [[4], [20], [8]]
    assert sorted(model.calls) == [1, 2]


def test_one_bad_request_does_not_fail_the_batch():
    model = Recorder()
    plane = plane_with(model)
    results = asyncio.run(many(plane, [([[1, 1]], {}), ([[666, 1]], {}), ([[2, 2]], {}), ([[1, 2, 3]], {})]))
    assert results[0].predictions.tolist() == [4]
    assert isinstance(results[1], ModelFailure) and "bad row" in results[1].detail
    assert results[2].predictions.tolist() == [8]
    assert isinstance(results[3], InvalidInput)  # rejected before it could join a batch


def test_batching_off_calls_the_model_per_request():
    model = Recorder()
    plane = plane_with(model)
    plane.batching = False
    asyncio.run(many(plane, [([[1, 1]], {}) for _ in range(4)]))
    assert model.calls == [1, 1, 1, 1]


def test_slow_models_run_on_a_thread_not_in_batches(models):
    loaded = load(models["sklearn"], None, None, None)
    plane = DataPlane()
    plane.set_model(loaded)  # starts in thread mode until measured fast
    results = asyncio.run(many(plane, [([[5.1, 3.5, 1.4, 0.2]], {})] * 3))
    assert [np.asarray(r.predictions).tolist() for r in results] == [[0], [0], [0]]


@pytest.mark.parametrize("name", ["sklearn", "onnx", "pt2", "xgb-json"])
def test_batched_results_equal_unbatched_for_every_builtin_format(models, name):
    loaded = load(models[name], None, None, None)
    rng = np.random.default_rng(1)
    bodies = [(rng.uniform(0, 7, size=(3, 4)).round(2).tolist(), {}) for _ in range(8)]
    plane = plane_with(loaded.model)
    batched = asyncio.run(many(plane, bodies))
    for (rows, params), got in zip(bodies, batched, strict=True):
        alone = loaded.model.predict(rows, params)
        np.testing.assert_allclose(np.asarray(got.predictions, dtype=float), np.asarray(alone, dtype=float),
                                   rtol=1e-5)
