from mlfn.manifest import model_files


def test_model_files_are_stable_skip_caches_and_the_old_manifest(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.joblib").write_bytes(b"m")
    (tmp_path / "sub" / "vocab.txt").write_bytes(b"v")
    (tmp_path / "mlfn-manifest.json").write_text("{}")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"c")
    files = model_files(tmp_path)
    assert [files.relative(p) for p in files.files] == ["model.joblib", "sub/vocab.txt"]
    assert model_files(tmp_path).digest == files.digest
    (tmp_path / "sub" / "vocab.txt").write_bytes(b"w")
    assert model_files(tmp_path).digest != files.digest


def test_a_single_model_file(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"o")
    files = model_files(tmp_path / "m.onnx")
    assert files.root == tmp_path and [files.relative(p) for p in files.files] == ["m.onnx"]
