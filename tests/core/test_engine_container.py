"""The container engine (``mlfn up --local`` and the ``--local`` verbs) against a fake Docker client:
what it runs (the target's ContainerRun), what it records, when it keeps or replaces the container,
and the one message without Docker. The real image and engine: tests/container/test_up_local.py."""

from __future__ import annotations

import json
import socket
import sys

import pytest
from fake_docker import FakeDocker
from helpers import example_project
from typer.testing import CliRunner

from mlfn.cli import app
from mlfn.engine.base import DestroyResult, EngineOptions, Status
from mlfn.engine.container import ContainerEngine, docker_api
from mlfn.errors import EngineError, MlfnError, StackError
from mlfn.image.local_build import BuiltImage
from mlfn.project import load_project

STACK = "aws-sagemaker"


class FakeBuild:
    """Stands in for mlfn build: one image whose id a test can change."""

    def __init__(self):
        self.image_id = "sha256:" + "a" * 64
        self.base_images: list[str | None] = []
        self.clients: list = []

    def __call__(self, project, base_image, say, client=None):
        self.base_images.append(base_image)
        self.clients.append(client)
        tag = f"mlfn/{project.spec.name}:{project.stack.pulumi_stack}-cpu-{self.image_id[7:19]}"
        return [BuiltImage(tag, self.image_id, 300 * 2**20, "ctx", "cpu")]


@pytest.fixture
def fake():
    client = FakeDocker()
    yield client
    client.close_all()


@pytest.fixture
def build():
    return FakeBuild()


@pytest.fixture
def project(tmp_path):
    return load_project(example_project(tmp_path, (STACK,)), STACK)


def engine(fake, build, ready_timeout: float = 5) -> ContainerEngine:
    return ContainerEngine(connect=lambda: fake, build=build, ready_timeout=ready_timeout)


def test_up_runs_the_stacks_image_the_way_its_target_runs_it(project, fake, build):
    r = engine(fake, build).up(project, EngineOptions(base_image="standin:1"))
    assert r.action == "started" and build.base_images == ["standin:1"]
    (ct,) = fake.runs
    kw = ct.kwargs
    port = r.outputs["port"]
    assert ct.image == r.outputs["image"] and r.url == f"http://127.0.0.1:{port}"
    # SageMaker's contract: `docker run IMAGE serve`, the model read-only at /opt/ml/model, port 8080.
    assert kw["command"] == ["serve"] and "entrypoint" not in kw
    assert kw["ports"] == {"8080/tcp": ("127.0.0.1", port)}
    ((source, mount),) = kw["volumes"].items()
    assert mount == {"bind": "/opt/ml/model", "mode": "ro"}
    from pathlib import Path

    assert sorted(p.name for p in Path(source).iterdir()) == ["mlfn-manifest.json", "model.joblib"]
    assert kw["read_only"] is True and kw["tmpfs"] == {"/tmp": ""}
    assert kw["environment"]["MLFN_MODEL_NAME"] == "iris" and kw["environment"]["MLFN_MODEL_FORMAT"] == "sklearn"
    assert kw["mem_limit"] == "2048m" and kw["nano_cpus"] == 1_000_000_000
    assert kw["labels"] == {"mlfn.project": str(project.dir), "mlfn.stack": STACK}
    state = json.loads((project.dir / ".mlfn" / "container" / f"{STACK}.json").read_text())
    assert state["container_id"] == ct.id and state["port"] == port and state["image_id"] == build.image_id
    assert (project.dir / ".mlfn" / ".gitignore").read_text() == "*\n"


def test_the_mounted_model_is_readable_by_the_containers_non_root_user(project, fake, build):
    """A model saved 0600 reaches the container as a platform's store hands it over: readable by any user."""
    import stat
    from pathlib import Path

    model = project.dir / project.spec.model.uri
    for p in [model, *model.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    engine(fake, build).up(project, EngineOptions(base_image="standin:1"))
    ((source, _),) = fake.runs[0].kwargs["volumes"].items()
    for p in [Path(source), *Path(source).rglob("*")]:
        wanted = 0o555 if p.is_dir() else 0o444
        assert stat.S_IMODE(p.stat().st_mode) & wanted == wanted, p


def test_up_again_with_nothing_changed_keeps_the_container(project, fake, build):
    first = engine(fake, build).up(project, EngineOptions())
    again = engine(fake, build).up(project, EngineOptions())
    assert again.action == "unchanged" and again.outputs == first.outputs
    assert len(fake.runs) == 1 and fake.removed == []


def test_a_changed_image_replaces_the_container_on_the_same_port(project, fake, build):
    first = engine(fake, build).up(project, EngineOptions())
    build.image_id = "sha256:" + "b" * 64
    second = engine(fake, build).up(project, EngineOptions())
    assert second.action == "replaced" and second.outputs["port"] == first.outputs["port"]
    old, new = fake.runs
    assert fake.removed == [old.name] and old.stopped_with == 30  # SageMaker: SIGKILL 30 s after SIGTERM
    assert new.id in fake.store and second.outputs["container"] == new.name
    assert f"replaced the container {old.name} (a new image): {new.image}" in second.notes


def test_a_changed_model_replaces_the_container_and_drops_the_old_copy(project, fake, build):
    engine(fake, build).up(project, EngineOptions())
    (old_source,) = fake.runs[0].kwargs["volumes"]
    (project.dir / "model" / "labels.txt").write_text("setosa versicolor virginica\n")
    r = engine(fake, build).up(project, EngineOptions())
    (new_source,) = fake.runs[1].kwargs["volumes"]
    assert r.action == "replaced" and new_source != old_source
    assert any("(a new model)" in n for n in r.notes)
    from pathlib import Path

    assert not Path(old_source).exists() and (Path(new_source) / "labels.txt").exists()


def test_a_container_gone_since_is_started_again(project, fake, build):
    engine(fake, build).up(project, EngineOptions())
    fake.runs[0].remove(force=True)
    r = engine(fake, build).up(project, EngineOptions())
    assert r.action == "recovered" and len(fake.runs) == 2


def test_a_container_that_exits_before_it_is_ready_shows_its_logs_and_leaves_nothing(project, fake, build):
    fake.start_ok = False
    with pytest.raises(EngineError, match=r"exited .* before it was ready(.|\n)*Traceback: no model found"):
        engine(fake, build).up(project, EngineOptions())
    assert fake.store == {} and not (project.dir / ".mlfn" / "container" / f"{STACK}.json").exists()


def test_a_container_that_never_answers_its_health_route_times_out(project, fake, build):
    fake.ready = False
    with pytest.raises(EngineError, match="did not answer /ping within 1s"):
        engine(fake, build, ready_timeout=1).up(project, EngineOptions())
    assert fake.store == {}


def test_the_engine_refusing_the_container_is_one_message(project, fake, build):
    fake.refuse = True
    with pytest.raises(EngineError, match=r"could not start mlfn/iris:.*port is already allocated"):
        engine(fake, build).up(project, EngineOptions())


def test_a_busy_port_named_by_port_is_an_error(project, fake, build):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(MlfnError, match=f"--port {busy} is busy"):
            engine(fake, build).up(project, EngineOptions(port=busy))


def test_status_logs_invoke_and_destroy_act_on_the_container(project, fake, build):
    eng = engine(fake, build)
    up = eng.up(project, EngineOptions())
    st = eng.status(project, EngineOptions())
    assert isinstance(st, Status) and (st.running, st.ready, st.url) == (True, True, up.url)
    assert st.target == "sagemaker" and st.details["container"] == up.outputs["container"]
    logs = eng.logs(project, EngineOptions(), lines=1)
    assert logs.where == f"docker logs {up.outputs['container']}" and logs.lines == ('{"message": "listening"}',)
    follow = eng.follow(project, EngineOptions())
    assert [next(follow), next(follow)] == ['{"message": "model loaded"}', '{"message": "listening"}']
    r = eng.invoke(project, EngineOptions(), b'{"instances": [[1, 2, 3, 4]]}', "application/json")
    sent = json.loads(r.body)
    assert r.status == 200 and sent["path"] == "/invocations" and sent["body"] == '{"instances": [[1, 2, 3, 4]]}'
    d = eng.destroy(project, EngineOptions())
    assert isinstance(d, DestroyResult) and d.destroyed and up.outputs["container"] in d.message
    assert fake.store == {} and not (project.dir / ".mlfn" / "container" / f"{STACK}.json").exists()
    assert eng.status(project, EngineOptions()).running is False
    again = eng.destroy(project, EngineOptions())
    assert not again.destroyed and again.message == "nothing to destroy: no local container"


def test_status_of_a_container_that_died(project, fake, build):
    eng = engine(fake, build)
    eng.up(project, EngineOptions())
    fake.runs[0].status, fake.runs[0].attrs = "exited", {"State": {"ExitCode": 137}}
    st = eng.status(project, EngineOptions())
    assert (st.running, st.ready, st.details["state"], st.details["exit_code"]) == (False, False, "exited", 137)


@pytest.mark.parametrize("verb", ["up", "status", "logs", "destroy"])
def test_a_cloud_local_stack_has_no_container_with_or_without_docker(tmp_path, verb):
    def no_docker():
        raise AssertionError("asked Docker about a stack that cannot have a container")

    project = load_project(example_project(tmp_path, ()), "local")
    eng = ContainerEngine(connect=no_docker, build=FakeBuild())
    with pytest.raises(StackError, match="stack local is cloud local: it runs no image"):
        getattr(eng, verb)(project, EngineOptions())


def test_a_target_without_a_container_says_so(tmp_path, fake, build):
    from helpers import ROOT

    d = example_project(tmp_path, ())
    (d / "stacks" / "f.yaml").write_text((ROOT / "tests" / "fake_adapter" / "stacks" / "fake-serverless.yaml")
                                         .read_text())
    with pytest.raises(MlfnError, match="target serverless of cloud fake has no container to run locally"):
        engine(fake, build).up(load_project(d, "f"), EngineOptions())
    assert not list((d / ".mlfn" / "container").glob("f-model-*")) and fake.runs == []


# -- without Docker: one message, how to install and start it ---------------------------------------------

def test_without_the_docker_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)
    with pytest.raises(EngineError) as e:
        docker_api.connect()
    assert str(e.value) == (
        "--local runs the stack's container with the Docker engine, and the docker Python package is not "
        "installed: install Docker (https://docs.docker.com/engine/install/) and start it (`sudo systemctl start "
        "docker`, or open Docker Desktop); pip install 'mlfn[local]' (the docker Python package)")


@pytest.mark.parametrize("verb", [["up", "--base-image", "x"], ["status"], ["logs"], ["logs", "-f"],
                                  ["invoke", "--data", "{}"], ["destroy"], ["outputs"]])
def test_every_local_verb_without_a_docker_engine_fails_with_one_message(tmp_path, monkeypatch, verb):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    d = example_project(tmp_path, (STACK,))
    r = CliRunner().invoke(app, [*verb, "--project", str(d), "--stack", STACK, "--local"])
    assert r.exit_code == 1, r.output
    # up says which target first, as always; then the one error.
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("stack aws-sagemaker: cloud aws")]
    assert len(lines) == 1 and lines[0].startswith("error: --local runs the stack's container with the Docker "
                                                   "engine, and the Docker engine does not answer (")
    assert "https://docs.docker.com/engine/install/" in lines[0]
    assert "pip install" not in lines[0]  # the package is there: installing it again would not help


def test_cli_up_local_prints_the_url_and_the_verbs(tmp_path, monkeypatch, fake, build):
    import mlfn.engine.container as container

    monkeypatch.setattr(docker_api, "connect", lambda: fake)
    monkeypatch.setattr(container, "build_image", build)
    d = example_project(tmp_path, (STACK,))
    args = ["--project", str(d), "--stack", STACK, "--local"]
    r = CliRunner().invoke(app, ["up", *args, "--base-image", "standin:1"])
    assert r.exit_code == 0, r.output
    (ct,) = fake.runs
    port = ct.kwargs["ports"]["8080/tcp"][1]
    first, invoke_line, verbs = r.stdout.splitlines()
    assert first == (f"iris started: http://127.0.0.1:{port} (container {ct.name}, target sagemaker, "
                     f"image {ct.image})")
    assert invoke_line.startswith(f"  mlfn invoke --project {d} --stack {STACK} --local --data ")
    assert verbs == (f"  logs: mlfn logs --project {d} --stack {STACK} --local   status: mlfn status --project {d} "
                     f"--stack {STACK} --local   stop: mlfn destroy --project {d} --stack {STACK} --local")
    assert build.base_images == ["standin:1"] and build.clients == [fake]  # one client builds and runs
    r = CliRunner().invoke(app, ["status", *args, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["running"] is True
    r = CliRunner().invoke(app, ["invoke", *args, "--data", '{"instances": [[1, 2, 3, 4]]}'])
    assert r.exit_code == 0 and json.loads(r.stdout)["path"] == "/invocations"
    r = CliRunner().invoke(app, ["destroy", *args])  # no confirmation: nothing in a cloud is touched
    assert r.exit_code == 0 and r.stdout.startswith(f"removed the local container {ct.name}")
    r = CliRunner().invoke(app, ["status", *args])
    assert r.exit_code == 0 and r.stdout == f"stack {STACK}: not running (mlfn up --local starts it)\n"


def test_a_gpu_stack_gets_its_gpus_and_no_more_cpus_than_this_machine_has(tmp_path, fake, build):
    import os

    d = example_project(tmp_path, ("aws-sagemaker-gpu",))
    engine(fake, build).up(load_project(d, "aws-sagemaker-gpu"), EngineOptions())
    kw = fake.runs[0].kwargs
    assert kw["device_requests"] == [{"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]}]
    spec_cpus = load_project(d, "aws-sagemaker-gpu").spec.compute.cpu
    assert kw["nano_cpus"] == int(min(spec_cpus, os.cpu_count()) * 1e9)


def test_state_files_are_written_whole_and_damaged_ones_say_what_to_do(tmp_path):
    """Both local engines keep their state through mlfn.engine.statefile: atomic writes, a .gitignore."""
    from dataclasses import dataclass

    from mlfn.engine import statefile
    from mlfn.errors import EngineError

    @dataclass(frozen=True)
    class S:
        port: int
        api_key: str | None = None

    folder = statefile.ensure_dir(tmp_path / ".mlfn" / "container")
    assert (tmp_path / ".mlfn" / ".gitignore").read_text() == "*\n"
    path = folder / "s.json"
    assert statefile.read(path, S, "x") is None
    statefile.write(path, S(8080, "k"))
    assert statefile.read(path, S, "x") == S(8080, "k") and not path.with_suffix(".tmp").exists()
    path.write_text("{broken")
    with pytest.raises(EngineError, match=r"is damaged .*: delete it"):
        statefile.read(path, S, "delete it")
    assert statefile.masked({"api_key": "k", "url": "u"}, reveal=False) == {"api_key": "[secret]", "url": "u"}
    assert statefile.masked({"api_key": "k"}, reveal=True) == {"api_key": "k"}


def test_turning_on_the_api_key_replaces_a_container_started_without_one(project, fake, build, monkeypatch):
    """#17: endpoint.auth: private -> key changes no run setting (the key is drawn at start), so the
    fingerprint must carry it. The model folder's digest (the whole description today) is pinned here so
    that the fingerprint alone has to tell."""
    import mlfn.engine.container as container

    monkeypatch.setattr(container, "deployed_hash", lambda project: "0" * 64)
    eng = engine(fake, build)
    first = eng.up(project, EngineOptions())
    assert "MLFN_API_KEYS" not in fake.runs[0].kwargs["environment"] and "api_key" not in first.outputs
    spec = project.dir / "mlfn.yaml"
    spec.write_text(spec.read_text().replace("auth: private", "auth: key"))
    keyed = load_project(project.dir, STACK)
    second = eng.up(keyed, EngineOptions())
    assert second.action == "replaced" and len(fake.runs) == 2
    key = second.outputs["api_key"]
    assert fake.runs[1].kwargs["environment"]["MLFN_API_KEYS"] == key
    assert any("(the API key was turned on)" in n for n in second.notes), second.notes
    assert eng.up(keyed, EngineOptions()).action == "unchanged"  # the key is kept, not drawn again


def test_a_stopped_container_with_nothing_changed_is_said_to_have_stopped(project, fake, build):
    """#17: not "a new way to run it": the container had exited, with its exit code."""
    eng = engine(fake, build)
    eng.up(project, EngineOptions())
    old = fake.runs[0]
    old.status, old.attrs = "exited", {"State": {"ExitCode": 137}}
    r = eng.up(project, EngineOptions())
    assert r.action == "replaced" and len(fake.runs) == 2
    assert r.notes == (f"replaced the container {old.name} (the container had stopped (exit code 137)): "
                       f"{fake.runs[1].image}",)


# -- which engine: the Docker CLI's current context (Docker Desktop, Colima, OrbStack) ---------------------

def _context(home, name: str, host: str, current: bool = True) -> None:
    """A Docker CLI context as `docker context create NAME --docker host=HOST` writes it, under a fake HOME:
    contexts/meta/<sha256 of the name>/meta.json (https://docs.docker.com/engine/manage-resources/contexts/;
    the layout docker-py's docker/context/config.py reads)."""
    import hashlib

    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if current:
        (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": name}))


@pytest.fixture
def fake_engine():
    """A Docker engine's /version and /_ping on a unix socket (as Colima's or OrbStack's): its path."""
    import shutil
    import socketserver
    import tempfile
    import threading
    from http.server import BaseHTTPRequestHandler

    class Engine(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"ApiVersion": "1.43", "Version": "24.0.0"}' if self.path.endswith("/version") else b"OK"
            self.send_response(200 if self.path.endswith(("/version", "/_ping")) else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

        def get_request(self):  # BaseHTTPRequestHandler wants a (host, port) client address
            conn, _ = super().get_request()
            return conn, ("local", 0)

    folder = tempfile.mkdtemp(prefix="mlfn-eng-", dir="/tmp")  # a unix socket path has at most 107 bytes
    server = Server(f"{folder}/docker.sock", Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"{folder}/docker.sock"
    server.shutdown()
    server.server_close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for var in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(var, raising=False)
    return home


def test_the_current_docker_context_is_the_engine_when_docker_host_is_unset(home, fake_engine, monkeypatch):
    """#17: Docker Desktop/Colima/OrbStack leave /var/run/docker.sock alone and name their socket in the
    current context; the CLI follows it, docker.from_env (docker < 7.2) does not (docker/docker-py#3146)."""
    _context(home, "colima", f"unix://{fake_engine}")
    assert docker_api.current_context() == "colima"
    client = docker_api.connect()
    assert client.api.base_url == "http+docker://localhost" and client.api._custom_adapter.socket_path == fake_engine


def test_docker_host_and_docker_context_win_over_the_configs_current_context(home, fake_engine, monkeypatch):
    _context(home, "colima", "unix:///nowhere/colima.sock")
    _context(home, "orbstack", f"unix://{fake_engine}", current=False)
    monkeypatch.setenv("DOCKER_CONTEXT", "orbstack")
    assert docker_api.current_context() == "orbstack"
    assert docker_api.connect().api._custom_adapter.socket_path == fake_engine
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fake_engine}")
    assert docker_api.current_context() is None  # as the CLI: DOCKER_HOST overrides every context
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert docker_api.current_context() is None


def test_a_context_whose_engine_is_down_or_missing_says_which(home, tmp_path):
    _context(home, "colima", f"unix://{tmp_path}/gone.sock")
    with pytest.raises(EngineError, match=rf"does not answer at unix://{tmp_path}/gone.sock \(Docker context colima\)"):
        docker_api.connect()
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "desktop-linux"}))
    with pytest.raises(EngineError, match=r"context 'desktop-linux' .* does not exist .*docker context ls"):
        docker_api.connect()
    _context(home, "broken", "unix:///x.sock")
    import hashlib

    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(b"broken").hexdigest() / "meta.json"
    meta.write_text("{not json")  # docker's ContextAPI raises a bare Exception here: still one message
    with pytest.raises(EngineError, match=r"the Docker context 'broken' cannot be read"):
        docker_api.connect()


# -- the build: the Docker Engine API too (no CLI needed) --------------------------------------------------

def test_build_goes_through_the_engine_api_and_streams_its_log(project, fake, monkeypatch, tmp_path):
    """#17: README says --local uses the Engine API, not the CLI: the build does too. With no docker CLI
    on PATH the build still works, and every line the engine streams reaches progress."""
    from mlfn.image import local_build

    monkeypatch.setenv("PATH", str(tmp_path))  # no docker CLI
    monkeypatch.setattr(docker_api, "connect", lambda purpose=docker_api.LOCAL: fake)
    said: list[str] = []
    (image,) = local_build.build(project, base_image="standin:1", on_progress=said.append)
    (kw,) = fake.builds
    assert kw["platform"] == "linux/amd64" and kw["rm"] is True and kw["decode"] is True
    assert kw["buildargs"] == {"BASE_IMAGE": "standin:1"} and kw["tag"] == image.tag
    assert kw["path"] == image.context and kw["dockerfile"].endswith("/Dockerfile")
    assert image.image_id == fake.built[image.tag].id and image.size_bytes == 500 * 2**20
    assert "Step 1/2 : FROM standin:1" in said and f"Successfully tagged {image.tag}" in said
    fake.build_error = "The command '/bin/sh -c pip install ...' returned a non-zero code: 1"
    with pytest.raises(EngineError, match=r"the build of .* failed: The command .* non-zero code: 1\n"
                                          r"(.|\n)*Step 1/2 : FROM python:3.11-slim"):
        local_build.build(project)


def test_build_without_the_docker_package_uses_the_cli_and_without_both_says_so(project, monkeypatch, tmp_path):
    from mlfn.image import local_build

    monkeypatch.setitem(sys.modules, "docker", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError) as e:
        local_build.build(project)
    # Not "needs a running engine": what is missing is a way to talk to it.
    assert str(e.value).startswith("mlfn build talks to the Docker engine through the docker Python package "
                                   "or the docker CLI, and neither is installed: pip install 'mlfn[local]'")
    cli = tmp_path / "docker"
    cli.write_text("#!/bin/sh\necho \"$@\" >> " + str(tmp_path / "calls") + "\nexit 1\n")
    cli.chmod(0o755)
    with pytest.raises(EngineError, match="the Docker engine does not answer"):
        local_build.build(project)
    assert (tmp_path / "calls").read_text().startswith("info")


def test_a_function_without_a_health_route_is_never_called_ready(tmp_path, fake, build, monkeypatch):
    """#17: a Lambda container has no health route (the RIE documents none): running is all that can be told,
    so status says ready: unknown instead of true, and up says the first invoke is what tells."""
    import mlfn.engine.container as container

    d = example_project(tmp_path, ("aws-lambda",))
    lam = load_project(d, "aws-lambda")
    up = engine(fake, build).up(lam, EngineOptions())
    assert fake.runs[0].kwargs["user"] == "61000:61000"  # not root, as Lambda
    assert any("no health route" in n and "mlfn invoke" in n for n in up.notes), up.notes
    st = engine(fake, build).status(lam, EngineOptions())
    assert st.running is True and st.ready is None
    assert st.details["ready_note"] == "unknown: a function has no health route; `mlfn invoke --local` tells"
    monkeypatch.setattr(docker_api, "connect", lambda purpose=docker_api.LOCAL: fake)
    monkeypatch.setattr(container, "build_image", build)
    r = CliRunner().invoke(app, ["status", "--project", str(d), "--stack", "aws-lambda", "--local"])
    assert r.exit_code == 0, r.output
    assert "ready: unknown: a function has no health route; `mlfn invoke --local` tells" in r.stdout.splitlines()
    assert "ready_note" not in r.stdout


def test_another_port_replaces_the_container_and_says_so(project, fake, build):
    from mlfn.engine.local.process import first_free_port

    eng = engine(fake, build)
    first = eng.up(project, EngineOptions())
    other = first_free_port(first.outputs["port"] + 1)
    r = eng.up(project, EngineOptions(port=other))
    assert r.action == "replaced" and r.outputs["port"] == other
    assert r.notes[0].startswith(f"replaced the container {fake.runs[0].name} (another port was asked for)")
