"""``mlfn init``: a runnable project in one command.

Writes ``mlfn.yaml``, ``stacks/local.yaml`` (the default) and one stack per cloud that differs
only in ``cloud:`` and its location settings, a ``.gitignore`` for ``.mlfn/``, and a ``train.py``
that it runs once so ``model/`` holds a real model and ``mlfn up`` works straight away.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import MlfnError

INIT_FORMATS = ("sklearn", "onnx", "pytorch", "custom")

SPEC = """\
# What to serve, on any cloud. Reference: mlfn schema (JSON Schema for your editor).
name: {name}
model:
  uri: ./model
  format: {format}
{handler}compute:
  cpu: 1
  memory: 2Gi
scaling:
  min: 0            # 0 = scale to zero where the cloud can
  max: 2
  concurrency: 8
endpoint:
  auth: private     # private | key | public
"""

LOCAL_STACK = "cloud: local\n"


def stack_templates() -> dict[str, str]:
    """The stack files ``init`` writes: local, and one per installed (not hidden) adapter, from its
    ``stack_template``."""
    from .registry import adapter_for, installed

    out = {"local": LOCAL_STACK}
    for cloud in sorted(installed()):
        try:
            adapter = adapter_for(cloud)
        except MlfnError:
            continue  # a broken adapter is reported by `mlfn targets` and `mlfn doctor`
        if not adapter.hidden and adapter.stack_template:
            out[cloud] = adapter.stack_template
    return out

_IRIS = """\
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).parent
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
(HERE / "model").mkdir(exist_ok=True)
"""

TRAIN = {
    "sklearn": _IRIS + """\
import joblib  # noqa: E402

joblib.dump(model, HERE / "model" / "model.joblib")
print("wrote model/model.joblib")
""",
    "onnx": _IRIS + """\
from skl2onnx import to_onnx  # noqa: E402

onx = to_onnx(model, X[:1].astype("float32"), options={id(model): {"zipmap": False}})
(HERE / "model" / "model.onnx").write_bytes(onx.SerializeToString())
print("wrote model/model.onnx")
""",
    "pytorch": """\
from pathlib import Path

import torch

HERE = Path(__file__).parent
torch.manual_seed(0)
x = torch.randn(256, 4)
y = (x.sum(dim=1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for _ in range(200):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
model.eval()
(HERE / "model").mkdir(exist_ok=True)
program = torch.export.export(model, (torch.randn(2, 4),),
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
torch.export.save(program, HERE / "model" / "model.pt2")
print("wrote model/model.pt2")
""",
    "custom": """\
import json
from pathlib import Path

HERE = Path(__file__).parent
# A tiny linear model whose weights live in a JSON file: no ML library needed to serve it.
(HERE / "model").mkdir(exist_ok=True)
(HERE / "model" / "weights.json").write_text(json.dumps({"weights": [0.5, -0.25, 1.0, 2.0], "bias": 0.1}))
print("wrote model/weights.json")
""",
}

PREDICTOR = '''\
"""A custom handler: mlfn imports it from the model directory (model.handler: predictor:Predictor)."""

import json
from pathlib import Path


class Predictor:
    def load(self, model_dir):
        data = json.loads((Path(model_dir) / "weights.json").read_text())
        self.weights, self.bias = data["weights"], data["bias"]

    def preprocess(self, instances):
        return [[float(v) for v in row] for row in instances]

    def predict(self, instances):
        return [sum(w * v for w, v in zip(self.weights, row)) + self.bias for row in instances]

    def postprocess(self, predictions):
        return [{"score": round(p, 6), "label": int(p > 0)} for p in predictions]
'''

GITIGNORE = ".mlfn/\n__pycache__/\n"


@dataclass(frozen=True)
class InitResult:
    directory: Path
    files: tuple[str, ...]
    trained: bool
    message: str


def _name_from(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"model-{name}".strip("-")
    return name[:40].rstrip("-")


def init(directory: str | Path = ".", fmt: str = "sklearn", name: str | None = None, train: bool = True) -> InitResult:
    """Scaffold a runnable project in ``directory`` (created if missing; existing files are kept)."""
    if fmt not in INIT_FORMATS:
        raise MlfnError(f"--format {fmt!r} is not one of {', '.join(INIT_FORMATS)}")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "mlfn.yaml").exists():
        raise MlfnError(f"{root / 'mlfn.yaml'} already exists: mlfn init would overwrite it")
    name = name or _name_from(root)
    from .spec import Spec

    try:
        Spec.model_validate({"name": name, "model": {"uri": "./model", "format": "sklearn"}})
    except ValueError:
        raise MlfnError(f"{name!r} is not a valid deployment name: pass --name with lowercase letters, "
                        "digits and '-'") from None
    handler = "  handler: predictor:Predictor\n" if fmt == "custom" else ""
    files = {"mlfn.yaml": SPEC.format(name=name, format=fmt, handler=handler), "train.py": TRAIN[fmt]}
    for stack, text in stack_templates().items():
        files[f"stacks/{stack}.yaml"] = text.format(name=name)
    if fmt == "custom":
        files["model/predictor.py"] = PREDICTOR
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(rel)
    gitignore = root / ".gitignore"
    existing = gitignore.read_text() if gitignore.exists() else ""
    if ".mlfn/" not in existing:
        gitignore.write_text(existing + ("" if existing.endswith("\n") or not existing else "\n") + GITIGNORE)
        written.append(".gitignore")
    trained = False
    message = f"created {name} in {root}"
    if train:
        proc = subprocess.run([sys.executable, "train.py"], cwd=root, capture_output=True, text=True)
        if proc.returncode == 0:
            trained = True
            message += "; trained its model (model/)"
        else:
            last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            message += f"; train.py failed ({last}): install what it imports, then run python train.py"
    return InitResult(root, tuple(sorted(written)), trained, message)
