"""Train the model the handler wraps: a scikit-learn classifier of iris flowers."""

from pathlib import Path

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).parent
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
(HERE / "model").mkdir(exist_ok=True)
joblib.dump(model, HERE / "model" / "model.joblib")
print("wrote model/model.joblib")
