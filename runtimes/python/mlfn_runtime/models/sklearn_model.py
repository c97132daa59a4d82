"""scikit-learn models: joblib/pickle files, or skops files (``.skops``) loaded with trusted types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from . import BaseModel


class SklearnModel(BaseModel):
    def __init__(self, estimator: Any):
        self.estimator = estimator
        self.n_features = getattr(estimator, "n_features_in_", None)
        self._predict = estimator.predict
        self._proba = getattr(estimator, "predict_proba", None)

    def run(self, x: Any, parameters: dict[str, Any]) -> Any:
        if parameters.get("predict_proba"):
            if self._proba is None:
                raise InvalidInput("this model has no predict_proba")
            return self._proba(x)
        return self._predict(x)


def load(path: Path) -> SklearnModel:
    if path.suffix.lower() == ".skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
        # The file came with the deployment the user built; its types are trusted like a pickle's.
        return SklearnModel(sio.load(path, trusted=untrusted))
    import joblib

    return SklearnModel(joblib.load(path))
