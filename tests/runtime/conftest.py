"""Real models of every format, made once per session in a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlfn_runtime.contract import Manifest
from runtime_helpers import ROWS, Server

HANDLERS = '''
import json, time
from pathlib import Path


class Echo:
    def load(self, model_dir):
        self.weights = json.loads((Path(model_dir) / "weights.json").read_text())

    def predict(self, instances, parameters):
        return [sum(w * v for w, v in zip(self.weights, row)) for row in instances]


class Broken:
    def load(self, model_dir):
        pass

    def predict(self, instances):
        if len(instances) and list(instances[0]) == [666]:
            raise RuntimeError("the model fell over")
        return [0 for _ in instances]


class Slow:
    def predict(self, instances, parameters):
        time.sleep(float(parameters.get("sleep", 1.0)))
        return ["done" for _ in instances]


class FailsToLoad:
    def load(self, model_dir):
        raise ValueError("weights are corrupt")
'''


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


@pytest.fixture(scope="session")
def models(tmp_path_factory, iris):
    """{name: model directory} for every format and handler."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    root = tmp_path_factory.mktemp("models")
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    out = {}

    def new(name: str) -> Path:
        d = root / name
        d.mkdir()
        out[name] = d
        return d

    joblib.dump(clf, new("sklearn") / "model.joblib")
    Manifest(name="iris", format="sklearn", model_file="model.joblib").write(out["sklearn"])
    joblib.dump(clf, new("sklearn-bare") / "model.joblib")

    import skops.io as sio

    sio.dump(clf, new("skops") / "model.skops")

    from skl2onnx import to_onnx

    onx = to_onnx(clf, x[:1].astype(np.float32), options={id(clf): {"zipmap": False}})
    (new("onnx") / "model.onnx").write_bytes(onx.SerializeToString())

    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3))
    net.eval()
    prog = torch.export.export(net, (torch.randn(2, 4),), dynamic_shapes=({0: torch.export.Dim("b", min=1, max=1024)},))
    torch.export.save(prog, new("pt2") / "model.pt2")
    torch.jit.script(net).save(str(new("torchscript") / "model.pt"))
    with torch.no_grad():
        out_expected = net(torch.tensor(ROWS, dtype=torch.float32)).numpy()
    (root / "torch_expected.json").write_text(json.dumps(out_expected.tolist()))

    import xgboost as xgb

    booster = xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(x, label=y), num_boost_round=5)
    booster.save_model(str(new("xgb-json") / "model.json"))
    booster.save_model(str(new("xgb-ubj") / "model.ubj"))

    for name, cls in [("echo", "Echo"), ("broken", "Broken"), ("slow", "Slow"), ("fails-to-load", "FailsToLoad")]:
        d = new(name)
        (d / "handlers.py").write_text(HANDLERS)
        (d / "weights.json").write_text("[1, 2, 3, 4]")
        Manifest(name=name, format="custom", handler=f"handlers:{cls}").write(d)
    return out


@pytest.fixture(scope="session")
def sklearn_model(iris):
    import joblib  # noqa: F401
    from sklearn.linear_model import LogisticRegression

    x, y = iris
    return LogisticRegression(max_iter=1000).fit(x, y)


@pytest.fixture
def serve():
    servers = []

    def start(model_dir: Path, env: dict[str, str] | None = None, argv: list[str] | None = None, ready=True):
        s = Server(model_dir, env, argv)
        servers.append(s)
        if ready:
            s.wait_ready()
        return s

    yield start
    for s in servers:
        s.stop()
