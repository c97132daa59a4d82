"""A fake of the docker package's client surface that the container engine uses
(``ping``, ``containers.run/get``, a container's ``reload/logs/stop/remove``, ``api.build``, ``images.get``).

Each "container" is a small HTTP server on the published 127.0.0.1 port: GET on the health route
answers 200 once ``ready`` is set, every POST answers ``{"path", "body", "headers"}`` so a test
sees what ``invoke`` sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docker


class FakeContainer:
    def __init__(self, client: FakeDocker, image: str, kwargs: dict):
        self.client, self.image, self.kwargs = client, image, kwargs
        self.id = uuid.uuid4().hex
        self.name = kwargs["name"]
        self.status = "running" if client.start_ok else "exited"
        self.attrs = {"State": {"ExitCode": 0 if client.start_ok else 3}}
        self.stopped_with: int | None = None
        self.log_lines = [b'{"message": "model loaded"}', b'{"message": "listening"}'] if client.start_ok \
            else [b"Traceback: no model found"]
        ((_container_port, (host, port)),) = kwargs["ports"].items()
        self.server = None
        if client.start_ok:
            self.server = ThreadingHTTPServer((host, port), _handler(self))
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reload(self) -> None:
        if self.id not in self.client.store:
            raise docker.errors.NotFound("No such container")

    def logs(self, tail=None, stream=False, follow=False, since=None):
        lines = self.log_lines if tail in (None, "all") else self.log_lines[-tail:]
        if stream:
            return iter([b"\n".join(lines[:1]) + b"\n", b"\n".join(lines[1:]) + b"\n"])
        return b"\n".join(lines) + b"\n"

    def stop(self, timeout: int = 10) -> None:
        self.stopped_with = timeout
        self._halt()

    def _halt(self) -> None:
        self.status = "exited"
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def remove(self, force: bool = False) -> None:
        if self.id not in self.client.store:
            raise docker.errors.NotFound("No such container")
        self._halt()
        del self.client.store[self.id]
        self.client.removed.append(self.name)


def _handler(container: FakeContainer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200 if container.client.ready else 503)
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            data = json.dumps({"path": self.path, "body": body,
                               "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(data)

    return Handler


class FakeContainers:
    def __init__(self, client: FakeDocker):
        self.client = client

    def run(self, image: str, **kwargs) -> FakeContainer:
        if self.client.refuse:
            raise docker.errors.APIError("driver failed programming external connectivity: port is already allocated")
        container = FakeContainer(self.client, image, kwargs)
        self.client.store[container.id] = container
        self.client.runs.append(container)
        return container

    def get(self, container_id: str) -> FakeContainer:
        try:
            return self.client.store[container_id]
        except KeyError:
            raise docker.errors.NotFound(f"No such container: {container_id}") from None


class FakeDocker:
    def __init__(self):
        self.store: dict[str, FakeContainer] = {}
        self.runs: list[FakeContainer] = []
        self.removed: list[str] = []
        self.ready = True
        self.start_ok = True
        self.refuse = False
        self.containers = FakeContainers(self)
        #: Builds: each call's arguments, the images made, an error the next build fails with.
        self.builds: list[dict] = []
        self.built: dict[str, FakeImage] = {}
        self.build_error: str | None = None
        self.images = FakeImages(self)
        self.api = FakeAPI(self)

    def ping(self) -> bool:
        return True

    def close_all(self) -> None:
        for c in list(self.store.values()):
            c._halt()


class FakeImage:
    def __init__(self, image_id: str, size: int):
        self.id, self.attrs = image_id, {"Id": image_id, "Size": size}


class FakeImages:
    def __init__(self, client: FakeDocker):
        self.client = client

    def get(self, tag: str) -> FakeImage:
        try:
            return self.client.built[tag]
        except KeyError:
            raise docker.errors.ImageNotFound(f"No such image: {tag}") from None


class FakeAPI:
    """The low-level client's streaming build (``APIClient.build(..., decode=True)``): the engine's JSON
    messages, ``{"stream": ...}`` lines then ``{"aux": {"ID": ...}}``, or ``{"error": ...}``."""

    def __init__(self, client: FakeDocker):
        self.client = client

    def build(self, **kwargs):
        self.client.builds.append(kwargs)
        yield {"stream": "Step 1/2 : FROM " + kwargs["buildargs"].get("BASE_IMAGE", "python:3.11-slim") + "\n"}
        yield {"stream": " ---> 0123456789ab\n"}
        if self.client.build_error:
            yield {"error": self.client.build_error, "errorDetail": {"message": self.client.build_error}}
            return
        image_id = "sha256:" + uuid.uuid4().hex * 2
        self.client.built[kwargs["tag"]] = FakeImage(image_id, 500 * 2**20)
        yield {"aux": {"ID": image_id}}
        yield {"stream": f"Successfully tagged {kwargs['tag']}\n"}
