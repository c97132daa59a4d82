"""KServe's V1 protocol and the Open Inference Protocol (V2).

The model routes answer only for the served model's name; any other name is a 404.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from .. import contract as c
from ..dataplane import DataPlane, InferenceRequest
from ..errors import InvalidInput, NotFound, NotReady, UnsupportedMediaType
from ..models import reject_infinity
from ..settings import Settings
from .common import Routes, endpoint, json_response, parameters_from, parse_json, read_body, require_json

#: What a client that sends tensors in binary (tritonclient's default) is told.
BINARY_UNSUPPORTED = (
    "the binary tensor data extension is not supported by this server: send tensors as JSON "
    "(tritonclient.http: set_data_from_numpy(..., binary_data=False))"
)

#: V2 datatype -> numpy dtype.
V2_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}
_NUMPY_TO_V2 = {np.dtype(v).kind + str(np.dtype(v).itemsize): k for k, v in V2_DTYPES.items() if v is not object}


def v2_datatype(arr: np.ndarray) -> str:
    if arr.dtype.kind in "OUS":
        return "BYTES"
    return _NUMPY_TO_V2.get(arr.dtype.kind + str(arr.dtype.itemsize), "FP64")


def _flatten(data: Any, depth: int) -> list:
    """The values of a V2 ``data`` field, flat or nested, without recursion; at most ``depth``
    levels of lists (the tensor's rank), so hostile nesting is a 422, never a RecursionError."""
    if not isinstance(data, list):
        return [data]
    out: list = []
    stack = [(iter(data), 1)]
    while stack:
        items, level = stack[-1]
        for item in items:
            if isinstance(item, list):
                if level >= depth:
                    raise InvalidInput(f"data is nested deeper than the shape's {depth} dimensions")
                stack.append((iter(item), level + 1))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def decode_v2_input(tensor: Any) -> np.ndarray:
    """One V2 input tensor -> a numpy array of its shape and datatype (422 on any mismatch)."""
    if not isinstance(tensor, dict):
        raise InvalidInput("each V2 input must be an object with name, shape, datatype and data")
    if "binary_data_size" in parameters_from(tensor, "V2 input parameters"):
        raise UnsupportedMediaType(f"V2 input {tensor.get('name')!r}: {BINARY_UNSUPPORTED}")
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in tensor]
    if missing:
        raise InvalidInput(f"V2 input is missing {', '.join(missing)}")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str):
        raise InvalidInput("V2 input name must be a string")
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                            for d in shape)):
        raise InvalidInput(f"V2 input {name!r}: shape must be a list of non-negative integers")
    if not isinstance(datatype, str) or datatype not in V2_DTYPES:
        raise InvalidInput(f"V2 input {name!r}: datatype {datatype!r} is not one of {', '.join(V2_DTYPES)}")
    flat = _flatten(tensor["data"], max(len(shape), 1))
    if len(flat) != math.prod(shape):
        raise InvalidInput(f"V2 input {name!r}: shape {shape} needs {math.prod(shape)} values, got {len(flat)}")
    try:
        arr = _to_array(name, datatype, flat)
    except OverflowError as e:
        raise InvalidInput(f"V2 input {name!r}: a value is outside {datatype}'s range: {e}") from e
    return arr.reshape(shape)


def _to_array(name: str, datatype: str, flat: list) -> np.ndarray:
    if datatype == "BYTES":
        arr = np.array([v if isinstance(v, str) else str(v) for v in flat], dtype=object)
    elif datatype == "BOOL":
        if not all(isinstance(v, bool) for v in flat):
            raise InvalidInput(f"V2 input {name!r}: BOOL data must be true/false")
        arr = np.array(flat, dtype=np.bool_)
    else:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in flat):
            raise InvalidInput(f"V2 input {name!r}: {datatype} data must be numbers")
        dtype = np.dtype(V2_DTYPES[datatype])
        if dtype.kind in "iu":
            if not all(isinstance(v, int) or float(v).is_integer() for v in flat):
                raise InvalidInput(f"V2 input {name!r}: {datatype} data must be integers")
            info = np.iinfo(dtype)
            if flat and (min(flat) < info.min or max(flat) > info.max):
                raise InvalidInput(f"V2 input {name!r}: a value is outside {datatype}'s range "
                                   f"[{info.min}, {info.max}]")
            arr = np.array(flat, dtype=dtype)
        else:
            with np.errstate(over="ignore"):
                arr = np.array(flat, dtype=dtype)
            reject_infinity(arr, f"V2 input {name!r} ({datatype})")
    return arr


def encode_v2_output(name: str, predictions: Any) -> dict[str, Any]:
    arr = np.asarray(predictions)
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    data = arr.reshape(-1)
    return {
        "name": name,
        "shape": list(arr.shape),
        "datatype": v2_datatype(arr),
        "data": data.astype(str).tolist() if arr.dtype.kind in "US" else data,
    }


def register(routes: Routes, plane: DataPlane, settings: Settings) -> None:
    def model_or_404(request: Request):
        name = request.path_params["name"]
        loaded = plane.require()
        if name != loaded.name:
            raise NotFound(f"model {name!r} is not served here (this server serves {loaded.name!r})")
        return loaded

    def version_of(request: Request) -> dict[str, str]:
        version = request.path_params.get("version")
        return {} if version is None else {"model_version": version}

    # ---- V1
    async def v1_live(request: Request, request_id: str) -> Response:
        return json_response({"status": "alive"}, request_id)

    async def v1_models(request: Request, request_id: str) -> Response:
        return json_response({"models": [plane.require().name]}, request_id)

    async def v1_model(request: Request, request_id: str) -> Response:
        loaded = model_or_404(request)
        return json_response({"name": loaded.name, "ready": True}, request_id)

    async def v1_predict(request: Request, request_id: str) -> Response:
        model_or_404(request)
        require_json(request)
        data = parse_json(await read_body(request, settings.max_body_bytes))
        if not isinstance(data, dict) or not isinstance(data.get("instances"), list):
            raise InvalidInput('V1 requests are {"instances": [...]}')
        out = await plane.infer(InferenceRequest(data["instances"], parameters_from(data), request_id))
        return json_response({"predictions": out.predictions}, request_id)

    # ---- V2
    async def v2_server(request: Request, request_id: str) -> Response:
        return json_response({"name": "mlfn-runtime", "version": __version__, "extensions": []}, request_id)

    async def v2_live(request: Request, request_id: str) -> Response:
        return json_response({"live": True}, request_id)

    async def v2_ready(request: Request, request_id: str) -> Response:
        if not plane.ready:
            raise NotReady("the model is still loading")
        return json_response({"ready": True}, request_id)

    async def v2_model(request: Request, request_id: str) -> Response:
        loaded = model_or_404(request)
        return json_response(
            {"name": loaded.name, "versions": [], "platform": loaded.format, "inputs": model_inputs(loaded),
             "outputs": []},
            request_id,
        )

    async def v2_model_ready(request: Request, request_id: str) -> Response:
        loaded = model_or_404(request)
        return json_response({"name": loaded.name, "ready": True}, request_id)

    async def v2_infer(request: Request, request_id: str) -> Response:
        loaded = model_or_404(request)
        if "inference-header-content-length" in request.headers:
            raise UnsupportedMediaType(BINARY_UNSUPPORTED)
        require_json(request)
        data = parse_json(await read_body(request, settings.max_body_bytes))
        if not isinstance(data, dict) or not isinstance(data.get("inputs"), list) or not data["inputs"]:
            raise InvalidInput('V2 requests are {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
        params = parameters_from(data)
        output_name = requested_output(data.get("outputs"))
        arrays = [decode_v2_input(t) for t in data["inputs"]]
        if len(arrays) == 1:
            instances: Any = arrays[0]
        else:
            instances = {t["name"]: a for t, a in zip(data["inputs"], arrays, strict=True)}
        rid = str(data.get("id") or request_id)
        out = await plane.infer(InferenceRequest(instances, params, rid))
        return json_response(
            {"model_name": loaded.name, **version_of(request), "id": rid,
             "outputs": [encode_v2_output(output_name, out.predictions)]},
            request_id,
        )

    add = routes.add
    add(c.V1_LIVE, endpoint("v1_live", settings, v1_live), methods=["GET"])
    add(c.V1_MODELS, endpoint("v1_models", settings, v1_models), methods=["GET"])
    add(c.V1_PREDICT, endpoint("v1_predict", settings, v1_predict, protected=True), methods=["POST"])
    add(c.V1_MODEL, endpoint("v1_model", settings, v1_model), methods=["GET"])
    add(c.V2_SERVER, endpoint("v2_server", settings, v2_server), methods=["GET"])
    add(c.V2_LIVE, endpoint("v2_live", settings, v2_live), methods=["GET"])
    add(c.V2_READY, endpoint("v2_ready", settings, v2_ready), methods=["GET"])
    add(c.V2_MODEL_READY, endpoint("v2_model_ready", settings, v2_model_ready), methods=["GET"])
    add(c.V2_INFER, endpoint("v2_infer", settings, v2_infer, protected=True), methods=["POST"])
    add(c.V2_MODEL_VERSION_READY, endpoint("v2_model_ready", settings, v2_model_ready), methods=["GET"])
    add(c.V2_INFER_VERSION, endpoint("v2_infer", settings, v2_infer, protected=True), methods=["POST"])
    add(c.V2_MODEL_VERSION, endpoint("v2_model", settings, v2_model), methods=["GET"])
    add(c.V2_MODEL, endpoint("v2_model", settings, v2_model), methods=["GET"])


def model_inputs(loaded) -> list[dict[str, Any]]:
    """V2 metadata for the input, when the model knows its width (built-in formats)."""
    n = getattr(loaded.model, "n_features", None)
    if not isinstance(n, int):
        return []
    dtype = getattr(loaded.model, "dtype", None) or "float64"
    return [{"name": "input-0", "datatype": _NUMPY_TO_V2.get(np.dtype(dtype).kind + str(np.dtype(dtype).itemsize),
                                                             "FP64"), "shape": [-1, n]}]


def requested_output(outputs: Any) -> str:
    """The name of the one output a V2 request asks for ("predict" when it names none). Requests
    for binary outputs (``binary_data``) are answered in JSON, which tritonclient reads as well."""
    if outputs is None:
        return "predict"
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                for o in outputs):
        raise InvalidInput('V2 outputs must be a list of {"name": ...} objects')
    if len(outputs) > 1:
        raise InvalidInput(f"this model has one output; the request asks for {len(outputs)}")
    for o in outputs:
        parameters_from(o, f"V2 output {o['name']!r}: parameters")
    return outputs[0]["name"] if outputs else "predict"
