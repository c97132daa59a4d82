"""Limits on request heads and slow clients, over real sockets (issue #12, item 5)."""

import contextlib
import json
import socket
import time

import httpx
import pytest
from mlfn_runtime.settings import Settings, SettingsError

pytestmark = pytest.mark.slow


def raw(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a new connection; everything the server sends until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(data)  # refused mid-send: the answer is still readable
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


def status_and_body(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def server(models, serve):
    return serve(models["sklearn"], env={"MLFN_HEADER_TIMEOUT_SECONDS": "1"})


def test_too_many_headers_is_431(server):
    def get(n: int) -> bytes:
        lines = b"".join(b"x-h%d: v\r\n" % i for i in range(n))
        return raw(server.url, b"GET /ping HTTP/1.1\r\nhost: x\r\n" + lines + b"connection: close\r\n\r\n")

    assert get(90).startswith(b"HTTP/1.1 200")
    status, body = status_and_body(get(5000))
    assert status == 431 and "MLFN_MAX_HEADERS" in body["detail"]


def test_huge_header_is_431(server):
    status, body = status_and_body(raw(server.url, b"GET /ping HTTP/1.1\r\nx-big: " + b"a" * (1 << 20) + b"\r\n\r\n"))
    assert status == 431 and "MLFN_MAX_HEADER_BYTES" in body["detail"]
    ok = raw(server.url, b"GET /ping HTTP/1.1\r\nx-big: " + b"a" * 30_000 + b"\r\nconnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200")


def test_unfinished_huge_header_is_refused_without_waiting_for_its_end(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nx-big: ")
        sent = 0
        with pytest.raises((BrokenPipeError, ConnectionResetError)):  # sending until refused
            for _ in range(32 * 16):  # up to 32 MiB, never finished
                s.sendall(b"a" * 65536)
                sent += 65536
        assert sent < 8 << 20


def test_slow_and_silent_clients_are_timed_out(server):
    start = time.monotonic()
    status, body = status_and_body(raw(server.url, b"GET /ping HTTP/1.1\r\nhost: x\r\n"))  # never ends its head
    assert status == 408 and "MLFN_HEADER_TIMEOUT_SECONDS" in body["detail"]
    assert raw(server.url, b"") == b""  # connected, sent nothing: closed
    assert time.monotonic() - start < 8
    assert httpx.get(server.url + "/ping").status_code == 200  # the server is fine


def test_request_id_is_echoed_only_when_short_and_safe(server):
    rows = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    ok = httpx.post(server.url + "/invocations", json=rows, headers={"x-request-id": "abc.DEF_1-2"})
    assert ok.headers["x-request-id"] == "abc.DEF_1-2"
    for bad in ("a" * 129, "a/b", "x" * 20_000, "a b"):
        r = httpx.post(server.url + "/invocations", json=rows, headers={"x-request-id": bad})
        assert r.status_code == 200 and r.headers["x-request-id"] != bad
        assert len(r.headers["x-request-id"]) == 32
    r = httpx.post(server.url + "/invocations", content=b"{nope", headers={"x-request-id": "z" * 500,
                                                                       "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["request_id"] != "z" * 500


@pytest.mark.parametrize(("name", "value"), [("MLFN_HEADER_TIMEOUT_SECONDS", "0"),
                                             ("MLFN_KEEP_ALIVE_SECONDS", "soon"),
                                             ("MLFN_MAX_HEADERS", "0"), ("MLFN_MAX_HEADER_BYTES", "10")])
def test_bad_limits_stop_the_start(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
