"""The runtime's extras for each model format: what an image (or a local environment) installs.

The build context itself (Dockerfiles, the runtime's wheel, the baked model) is written by the core,
``mlfn.image``: the runtime keeps only what runs inside the image.
"""

from __future__ import annotations

FORMAT_EXTRAS = {"sklearn": ("sklearn", "skops"), "onnx": ("onnx",), "pytorch": ("pytorch",),
                 "xgboost": ("xgboost",), "custom": ()}
