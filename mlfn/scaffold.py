"""``mlfn init``: a runnable project in one command, never at the cost of the user's files.

Writes ``mlfn.yaml``, ``stacks/local.yaml`` (the default) and one stack per installed cloud, a
``.gitignore`` for ``.mlfn/``, and a ``train.py`` that it runs once so ``model/`` holds a real
model and ``mlfn up`` works straight away. ``--from-model PATH`` writes the project around the
user's own model instead. ``init`` never replaces a file: in a folder that is not empty it
refuses, and ``--force`` only adds the files that are missing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import MlfnError

INIT_FORMATS = ("sklearn", "onnx", "pytorch", "xgboost", "custom")
#: What each demo's train.py imports, and how to install it (torch from its CPU index: the default
#: index gives a multi-GB CUDA build).
TRAIN_NEEDS = {
    "sklearn": (("sklearn", "joblib"), "pip install scikit-learn joblib"),
    "onnx": (("sklearn", "skl2onnx", "onnxruntime"), "pip install scikit-learn skl2onnx 'mlfn-runtime[onnx]'"),
    "pytorch": (("torch",), "pip install torch --index-url https://download.pytorch.org/whl/cpu"),
    "xgboost": (("sklearn", "xgboost"), "pip install scikit-learn 'mlfn-runtime[xgboost]'"),
    "custom": ((), ""),
}
#: Files in a folder that do not make it "not empty" for init.
IGNORED = {".git", ".gitignore", ".DS_Store", ".mlfn", "__pycache__", ".venv", "venv", ".idea", ".vscode"}

SPEC = """\
# What to serve, on any cloud. Reference: mlfn schema (JSON Schema for your editor).
name: {name}
model:
  uri: {uri}
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
    "xgboost": _IRIS + """\
from xgboost import XGBClassifier  # noqa: E402

booster = XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
booster.save_model(HERE / "model" / "model.ubj")
print("wrote model/model.ubj")
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
    #: Whether model/ holds a servable model (trained now, already there, or the user's own).
    servable: bool
    message: str
    #: Files that were there and were kept as they were.
    kept: tuple[str, ...] = ()


def _name_from(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"model-{name}".strip("-")
    return name[:40].rstrip("-")


def _contents(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir() if p.name not in IGNORED)


def _model_files(root: Path) -> list[Path]:
    from mlfn_runtime.contract import MANIFEST_FILE, infer_format

    found = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == MANIFEST_FILE or any(part in IGNORED for part in p.relative_to(root).parts):
            continue
        if infer_format(p) is not None and p.suffix != ".json":
            found.append(p)
    return found


def _missing_modules(fmt: str) -> list[str]:
    import importlib.util

    return [m for m in TRAIN_NEEDS[fmt][0] if importlib.util.find_spec(m) is None]


def init(directory: str | Path = ".", fmt: str | None = None, name: str | None = None, train: bool = True,
         force: bool = False, from_model: str | Path | None = None) -> InitResult:
    """Scaffold a runnable project in ``directory``; never replace a file that is there.

    ``from_model``: write the project around the user's own model file or folder (its format
    inferred from the file name unless ``fmt`` says), with no demo model and no train.py.
    ``force``: in a folder that is not empty, add only the files that are missing."""
    if fmt is not None and fmt not in INIT_FORMATS:
        raise MlfnError(f"--format {fmt!r} is not one of {', '.join(INIT_FORMATS)}")
    root = Path(directory)
    if (root / "mlfn.yaml").exists():
        raise MlfnError(f"{root / 'mlfn.yaml'} already exists: this folder is an mlfn project already "
                        "(edit mlfn.yaml, or run mlfn init in another folder)")
    present = _contents(root)
    if present and not force and from_model is None:
        models = _model_files(root)
        hint = ""
        if models:
            rel = models[0].relative_to(root)
            hint = f"; to serve your own model: mlfn init {root} --from-model {rel}"
        raise MlfnError(
            f"{root} is not empty ({', '.join(present[:5])}{', ...' if len(present) > 5 else ''}): mlfn init "
            f"writes its demo project only into an empty folder and never replaces your files{hint}; "
            "--force adds only the files that are missing"
        )
    name = name or _name_from(root)
    from .spec import Spec

    try:
        Spec.model_validate({"name": name, "model": {"uri": "./model", "format": "sklearn"}})
    except ValueError:
        raise MlfnError(f"{name!r} is not a valid deployment name: pass --name with lowercase letters, "
                        "digits and '-'") from None
    if from_model is not None:
        return _init_from_model(root, Path(from_model), fmt, name)
    fmt = fmt or "sklearn"
    handler = "  handler: predictor:Predictor\n" if fmt == "custom" else ""
    files = {"mlfn.yaml": SPEC.format(name=name, format=fmt, uri="./model", handler=handler), "train.py": TRAIN[fmt]}
    if fmt == "custom":
        files["model/predictor.py"] = PREDICTOR
    written, kept = _write(root, files, name)
    existing_model = [p for p in _model_files(root / "model")] if (root / "model").is_dir() else []
    if fmt == "custom" or existing_model:
        servable = True
        message = f"created {name} in {root}" + ("; kept the model already in model/" if existing_model else "")
        if fmt == "custom" and not existing_model and train:
            servable = _train(root, fmt)[0]
        return InitResult(root, tuple(sorted(written)), servable, message, tuple(sorted(kept)))
    message = f"created {name} in {root}"
    servable = False
    if train:
        missing = _missing_modules(fmt)
        if missing:
            message += (f"; could not train its {fmt} model: {', '.join(missing)} not installed. "
                        f"Install: {TRAIN_NEEDS[fmt][1]}, then run python train.py")
        else:
            servable, detail = _train(root, fmt)
            message += "; trained its model (model/)" if servable else (
                f"; train.py failed ({detail}): install what it imports ({TRAIN_NEEDS[fmt][1]}), "
                "then run python train.py")
    return InitResult(root, tuple(sorted(written)), servable, message, tuple(sorted(kept)))


def _init_from_model(root: Path, model: Path, fmt: str | None, name: str) -> InitResult:
    from mlfn_runtime.contract import find_model_file, infer_format

    path = model if model.is_absolute() else root / model
    if not path.exists():
        raise MlfnError(f"--from-model {model}: no such file or folder in {root}")
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        raise MlfnError(f"--from-model {model}: the model must be inside the project folder {root} "
                        "(copy it there, or run mlfn init in the folder that holds it)") from None
    model_file = find_model_file(path) if path.is_dir() else path
    inferred = infer_format(model_file) if model_file is not None else None
    fmt = fmt or inferred
    if fmt is None:
        raise MlfnError(f"--from-model {model}: cannot tell the model's format from its file name: pass --format "
                        f"({', '.join(INIT_FORMATS)})")
    if fmt == "custom":
        raise MlfnError("--from-model with --format custom needs a handler: write mlfn.yaml's model.handler yourself")
    uri = "./" + rel.as_posix()
    files = {"mlfn.yaml": SPEC.format(name=name, format=fmt, uri=uri, handler="")}
    written, kept = _write(root, files, name)
    return InitResult(root, tuple(sorted(written)), True,
                      f"created {name} in {root} around your model {uri} (format {fmt}; your files are untouched)",
                      tuple(sorted(kept)))


def _write(root: Path, files: dict[str, str], name: str) -> tuple[list[str], list[str]]:
    """Write each file that is missing; keep every file that is there."""
    for stack, text in stack_templates().items():
        files[f"stacks/{stack}.yaml"] = text.format(name=name)
    written, kept = [], []
    for rel, text in files.items():
        path = root / rel
        if path.exists():
            kept.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(rel)
    gitignore = root / ".gitignore"
    existing = gitignore.read_text() if gitignore.exists() else ""
    if ".mlfn/" not in existing:
        gitignore.write_text(existing + ("" if existing.endswith("\n") or not existing else "\n") + GITIGNORE)
        written.append(".gitignore")
    return written, kept


def _train(root: Path, fmt: str) -> tuple[bool, str]:
    proc = subprocess.run([sys.executable, "train.py"], cwd=root, capture_output=True, text=True)
    if proc.returncode == 0:
        return True, ""
    return False, (proc.stderr.strip().splitlines() or ["failed"])[-1]
