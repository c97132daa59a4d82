from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).parent
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
(HERE / "model").mkdir(exist_ok=True)
import joblib  # noqa: E402

joblib.dump(model, HERE / "model" / "model.joblib")
print("wrote model/model.joblib")
