from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).parent
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000).fit(X, y)
(HERE / "model").mkdir(exist_ok=True)
from skl2onnx import to_onnx  # noqa: E402

onx = to_onnx(model, X[:1].astype("float32"), options={id(model): {"zipmap": False}})
(HERE / "model" / "model.onnx").write_bytes(onx.SerializeToString())
print("wrote model/model.onnx")
