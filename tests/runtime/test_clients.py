"""The clients KServe and Triton users call a server with: tritonclient.http (V2) and the kserve
SDK's REST client (V1 and V2), against a real runtime on 127.0.0.1 serving the iris example."""

import asyncio

import numpy as np
import pytest
from runtime_helpers import IRIS_MODEL, ROWS, Server, require

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(IRIS_MODEL, env={"MLFN_MODEL_NAME": "iris"}, log=tmp_path_factory.mktemp("clients") / "server.log")
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def test_tritonclient_http(server):
    httpclient = require("tritonclient.http")
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("iris")
        assert client.get_server_metadata()["name"] == "mlfn-runtime"
        meta = client.get_model_metadata("iris")
        assert meta["name"] == "iris" and meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]

        def request(binary: bool = False):
            tensor = httpclient.InferInput("input-0", [2, 4], "FP64")
            tensor.set_data_from_numpy(np.array(ROWS), binary_data=binary)
            return [tensor]

        result = client.infer("iris", request(), outputs=[httpclient.InferRequestedOutput("label", binary_data=False)])
        assert result.as_numpy("label").tolist() == [0, 2]
        # outputs left out: tritonclient asks for binary outputs, which are answered in JSON, and it reads them
        assert client.infer("iris", request()).as_numpy("predict").tolist() == [0, 2]
        assert client.infer("iris", request(), model_version="1").get_response()["model_version"] == "1"
        with pytest.raises(InferenceServerException, match="binary tensor data extension is not supported"):
            client.infer("iris", request(binary=True))
        with pytest.raises(InferenceServerException, match="model 'other' is not served here"):
            client.infer("other", request())
        huge = httpclient.InferInput("input-0", [1, 4], "FP64")
        huge.set_data_from_numpy(np.full((1, 4), 1e308), binary_data=False)
        with pytest.raises(InferenceServerException, match="non-finite output"):
            client.infer("iris", [huge], parameters={"predict_proba": True})
    finally:
        client.close()


def test_kserve_rest_client_v1_and_v2(server):
    kserve = require("kserve")
    import httpx

    async def calls():
        v1 = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v1", retries=0, timeout=10))
        v2 = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2", retries=0, timeout=10))
        assert await v1.is_server_live(server.url)
        assert await v1.is_model_ready(server.url, "iris")
        assert (await v1.infer(server.url, {"instances": ROWS}, model_name="iris")) == {"predictions": [0, 2]}
        with pytest.raises(httpx.HTTPStatusError, match="expected rows of 4 features"):
            await v1.infer(server.url, {"instances": [[1, 2]]}, model_name="iris")

        assert await v2.is_server_live(server.url) and await v2.is_server_ready(server.url)
        assert await v2.is_model_ready(server.url, "iris")
        tensor = kserve.InferInput("input-0", [2, 4], "FP64")
        tensor.set_data_from_numpy(np.array(ROWS), binary_data=False)
        response = await v2.infer(server.url, kserve.InferRequest("iris", [tensor], request_id="r1"), model_name="iris")
        assert response.id == "r1" and response.outputs[0].as_numpy().tolist() == [0, 2]
        with pytest.raises(httpx.HTTPStatusError, match="datatype 'FP7'"):
            bad = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP7", "data": ROWS[0]}]}
            await v2.infer(server.url, bad, model_name="iris")

    asyncio.run(calls())
