"""PyTorch models: ``torch.export`` programs (``.pt2``) first, TorchScript (``.pt``) too; CUDA when present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import BaseModel, as_matrix


class TorchModel(BaseModel):
    def __init__(self, module: Any, device: str):
        import torch

        self.torch = torch
        self.module = module
        self.device = device

    def predict(self, instances: Any, parameters: dict[str, Any]) -> Any:
        x = as_matrix(instances, dtype="float32")
        self.check_rows(x)
        with self.torch.inference_mode():
            out = self.module(self.torch.from_numpy(x).to(self.device))
        if isinstance(out, tuple | list):
            out = out[0]
        return out.detach().cpu().numpy()


def load(path: Path) -> TorchModel:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if path.suffix.lower() == ".pt2":
        program = torch.export.load(str(path))
        module = program.module()
        module.to(device)
        return TorchModel(module, device)
    module = torch.jit.load(str(path), map_location=device)
    module.eval()
    return TorchModel(module, device)
