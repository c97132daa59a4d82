"""ONNX models through onnxruntime (CUDA provider first when it is available).

onnxruntime falls back to CPU without an error when the CUDA provider cannot start (CPU
``onnxruntime`` installed instead of ``onnxruntime-gpu``, or a CUDA/cuDNN library it cannot load), so
the providers the session actually uses (``InferenceSession.get_providers()``) are logged, with a
warning when this worker was given a GPU and CUDA is not among them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..workers import visible_gpus
from . import BaseModel

log = logging.getLogger("mlfn_runtime")

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


class OnnxModel(BaseModel):
    def __init__(self, session: Any):
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        self.dtype = _DTYPES.get(inp.type, "float32")
        shape = inp.shape
        self.n_features = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
        self.output_names = [o.name for o in session.get_outputs()]

    def run(self, x: Any, parameters: dict[str, Any]) -> Any:
        outputs = self.session.run(None, {self.input_name: x})
        if parameters.get("predict_proba"):
            if len(outputs) < 2:
                raise InvalidInput("this model has no probability output")
            return _plain(outputs[1])
        return _plain(outputs[0])


def _plain(value: Any) -> Any:
    # skl2onnx's ZipMap output is a list of {label: probability} dicts.
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [{str(k): float(v) for k, v in row.items()} for row in value]
    return value


def load(path: Path) -> OnnxModel:
    import onnxruntime as ort

    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = ort.InferenceSession(str(path), providers=providers)
    report_providers(session.get_providers(), available, os.environ)
    return OnnxModel(session)


def report_providers(used: list[str], available: list[str], env: Any) -> None:
    """Log the execution providers a session uses; warn when a GPU is visible and CUDA is not used."""
    log.info("ONNX session execution providers: %s (available: %s)", ", ".join(used), ", ".join(available))
    gpus = visible_gpus(env)
    if not gpus or "CUDAExecutionProvider" in used:
        return
    raw = env.get("CUDA_VISIBLE_DEVICES")
    where = f"CUDA_VISIBLE_DEVICES={raw}" if raw is not None else ", ".join(f"/dev/nvidia{g}" for g in gpus)
    why = ("onnxruntime-gpu's CUDAExecutionProvider did not start: check that the CUDA 12 and cuDNN 9 "
           "libraries load and the driver is >= 525.60.13"
           if "CUDAExecutionProvider" in available else
           "this onnxruntime has no CUDAExecutionProvider (CPU onnxruntime is installed): install "
           "onnxruntime-gpu (mlfn's GPU image does) instead of onnxruntime")
    log.warning("a GPU is visible (%s) but the ONNX session runs on %s only: %s; predictions run on the CPU",
                where, ", ".join(used), why)
