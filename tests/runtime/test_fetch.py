import io
import tarfile
import zipfile

import boto3
import pytest
from mlfn_runtime.fetch import FetchError, UnsafeArchive, fetch, safe_extract
from moto import mock_aws


def make_tar(path, members: list[tuple[str, bytes | None, str | None, str]]):
    """members: (name, data, linkname, kind) with kind file|sym|hard|dev."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, linkname, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "dev": tarfile.CHRTYPE}[kind]
                info.linkname = linkname or ""
                tf.addfile(info)
    return path


def test_safe_tar_extracts(tmp_path):
    archive = make_tar(tmp_path / "model.tar.gz", [("model.joblib", b"x", None, "file"),
                                                   ("sub/inner.txt", b"y", None, "file"),
                                                   ("link", None, "model.joblib", "sym")])
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "model.joblib").read_bytes() == b"x" and (out / "sub" / "inner.txt").exists()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("../evil.txt", b"x", None, "file"), "escapes the target directory"),
        (("/etc/evil", b"x", None, "file"), "has an absolute path"),
        (("a/../../evil", b"x", None, "file"), "escapes the target directory"),
        (("link", None, "/etc/passwd", "sym"), "links outside the target"),
        (("link", None, "../../etc/passwd", "sym"), "links outside the target"),
        (("hard", None, "../outside", "hard"), "links outside the target"),
        (("dev", None, None, "dev"), "is a device or fifo"),
    ],
)
def test_unsafe_tar_members_are_rejected(tmp_path, member, message):
    archive = make_tar(tmp_path / "bad.tar.gz", [member])
    with pytest.raises(UnsafeArchive, match=message):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_zip_slip_rejected(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(UnsafeArchive, match="escapes"):
        safe_extract(path, tmp_path / "out")


def test_local_dir_file_and_archive(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.onnx").write_bytes(b"o")
    assert (fetch(str(src), tmp_path / "a") / "m.onnx").exists()
    assert (fetch(str(src / "m.onnx"), tmp_path / "b") / "m.onnx").exists()
    archive = make_tar(tmp_path / "m.tar.gz", [("m.onnx", b"o", None, "file")])
    assert (fetch(str(archive), tmp_path / "c") / "m.onnx").exists()
    with pytest.raises(FetchError, match="no such file or directory"):
        fetch(str(tmp_path / "nope"), tmp_path / "d")
    with pytest.raises(FetchError, match="unsupported scheme 'ftp'"):
        fetch("ftp://host/m", tmp_path / "e")


@mock_aws
def test_fetch_from_s3_archive_and_prefix(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    archive = make_tar(tmp_path / "model.tar.gz", [("model.joblib", b"x", None, "file"),
                                                   ("mlfn-manifest.json", b"{}", None, "file")])
    s3.upload_file(str(archive), "models", "iris/model.tar.gz")
    out = fetch("s3://models/iris/model.tar.gz", tmp_path / "a")
    assert (out / "model.joblib").read_bytes() == b"x"
    s3.put_object(Bucket="models", Key="plain/model.onnx", Body=b"o")
    s3.put_object(Bucket="models", Key="plain/sub/extra.txt", Body=b"e")
    out = fetch("s3://models/plain/", tmp_path / "b")
    assert (out / "model.onnx").read_bytes() == b"o" and (out / "sub" / "extra.txt").exists()
    with pytest.raises(FetchError, match="no objects under this prefix"):
        fetch("s3://models/empty/", tmp_path / "c")
    with pytest.raises(FetchError, match="download failed"):
        fetch("s3://models/missing.tar.gz", tmp_path / "d")


@mock_aws
def test_fetch_unsafe_archive_from_s3_is_rejected(tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    archive = make_tar(tmp_path / "bad.tar.gz", [("../evil", b"x", None, "file")])
    s3.upload_file(str(archive), "models", "bad.tar.gz")
    with pytest.raises(UnsafeArchive):
        fetch("s3://models/bad.tar.gz", tmp_path / "out")


def test_fetch_cli(tmp_path):
    import subprocess
    import sys

    archive = make_tar(tmp_path / "m.tar.gz", [("m.onnx", b"o", None, "file")])
    p = subprocess.run([sys.executable, "-m", "mlfn_runtime", "fetch", str(archive), str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert p.returncode == 0 and (tmp_path / "out" / "m.onnx").exists()
    bad = make_tar(tmp_path / "bad.tar.gz", [("../x", b"o", None, "file")])
    p = subprocess.run([sys.executable, "-m", "mlfn_runtime", "fetch", str(bad), str(tmp_path / "out2")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "escapes the target directory" in p.stderr


def test_fetch_over_https_like_http(tmp_path):
    """An archive served over HTTP from 127.0.0.1 (the https:// path is the same code)."""
    import functools
    import http.server
    import threading

    (tmp_path / "srv").mkdir()
    make_tar(tmp_path / "srv" / "model.tar.gz", [("m.onnx", b"o", None, "file")])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "srv"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/model.tar.gz"
        assert (fetch(url, tmp_path / "out") / "m.onnx").read_bytes() == b"o"
        with pytest.raises(FetchError, match="download failed"):
            fetch(url.replace("model.tar.gz", "missing.tar.gz"), tmp_path / "out2")
    finally:
        server.shutdown()
