"""ONNX models through onnxruntime (CUDA provider first when it is available)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from . import BaseModel

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
    return OnnxModel(ort.InferenceSession(str(path), providers=providers))
