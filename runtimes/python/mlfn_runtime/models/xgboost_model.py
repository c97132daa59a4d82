"""XGBoost models saved in the native JSON or UBJ format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import BaseModel


class XGBoostModel(BaseModel):
    def __init__(self, booster: Any):
        import xgboost

        self.xgb = xgboost
        self.booster = booster
        self.dtype = "float32"
        n = booster.num_features()
        self.n_features = n if n > 0 else None

    def run(self, x: Any, parameters: dict[str, Any]) -> Any:
        return self.booster.inplace_predict(x)


def load(path: Path) -> XGBoostModel:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(path))
    return XGBoostModel(booster)
