"""PyTorch models: ``torch.export`` programs (``.pt2``) first, TorchScript (``.pt``) too; CUDA when present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import BaseModel


class TorchModel(BaseModel):
    def __init__(self, module: Any, device: str):
        import torch

        self.torch = torch
        self.dtype = "float32"
        self.module = module
        self.device = device

    def run(self, x: Any, parameters: dict[str, Any]) -> Any:
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
