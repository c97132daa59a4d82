"""Hostile archives: link chains, writes through links, hard links out, bombs (issue #12, items 1-2).

Every attack test plants a file outside the extraction folder and asserts it is unchanged and that
nothing new appeared beside it, whatever the interpreter's tarfile would have done.
"""

import io
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest
from mlfn_runtime.fetch import ArchiveTooLarge, ExtractLimits, UnsafeArchive, fetch, safe_extract


class Tar:
    """Builds a tar member by member, in order (later members may reuse names)."""

    def __init__(self, path, mode="w"):
        self.path = path
        self.tf = tarfile.open(path, mode)  # noqa: SIM115 - closed by close()

    def dir(self, name):
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o777
        self.tf.addfile(info)

    def file(self, name, data: bytes):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        self.tf.addfile(info, io.BytesIO(data))

    def sym(self, name, target):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tf.addfile(info)

    def hard(self, name, target):
        info = tarfile.TarInfo(name)
        info.type, info.linkname = tarfile.LNKTYPE, target
        self.tf.addfile(info)

    def close(self):
        self.tf.close()
        return self.path


@pytest.fixture
def outside(tmp_path):
    """A folder beside the extraction folder with a file an attacker wants to overwrite."""
    flag = tmp_path / "flag"
    flag.write_text("original")
    return tmp_path


def assert_untouched(outside, names=("flag",)):
    assert (outside / "flag").read_text() == "original"
    assert sorted(p.name for p in outside.iterdir()) == sorted({"flag", *names})


def cve_2025_4517_archive(path, dest):
    """The published proof of concept: a chain of links whose full expansion passes PATH_MAX, so a
    resolver that gives up there (os.path.realpath, hence filter="data" before the fix) reads the
    rest by name; the kernel follows it out of the folder."""
    steps = "abcdefghijklmnop"
    max_path = os.pathconf(dest.parent, "PC_PATH_MAX")
    component = "d" * ((max_path - len(str(dest)) - 1) // (len(steps) + 1))
    tar = Tar(path)
    p = ""
    for step in steps:
        tar.dir(os.path.join(p, component))
        tar.sym(os.path.join(p, step), component)
        p = os.path.join(p, component)
    linkpath = os.path.join(*steps, "l" * 254)
    tar.sym(linkpath, os.path.join(*[".."] * len(steps)))
    tar.sym("escape", os.path.join(linkpath, ".."))
    tar.hard("flaglink", os.path.join("escape", "flag"))
    tar.file("flaglink", b"overwrite")
    tar.file("escape/newfile", b"new")
    return tar.close()


def test_cve_2025_4517_link_chain_is_refused(outside):
    dest = outside / "cache"
    archive = cve_2025_4517_archive(outside / "poc.tar", dest)
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, dest)
    assert_untouched(outside, ("poc.tar",))


def test_cve_2025_4517_refused_through_fetch_cli(outside):
    dest = outside / "cache"
    archive = cve_2025_4517_archive(outside / "poc.tar", dest)
    p = subprocess.run([sys.executable, "-m", "mlfn_runtime", "fetch", str(archive), str(dest)],
                       capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    assert_untouched(outside, ("poc.tar",))


def test_link_whose_meaning_changes_later_is_refused(outside):
    """x -> a/.. is inside while a does not exist; a -> . then makes x the folder's parent."""
    tar = Tar(outside / "chain.tar")
    tar.sym("x", "a/..")
    tar.sym("a", ".")
    tar.file("x/flag", b"overwrite")
    tar.file("x/newfile", b"new")
    with pytest.raises(UnsafeArchive, match="links outside the target"):
        safe_extract(tar.close(), outside / "cache")
    assert_untouched(outside, ("chain.tar",))
    assert not (outside / "cache").exists()  # what was made before the refusal is gone


def test_file_written_through_a_link_to_a_directory_is_refused(outside):
    """A link already in the cache (or made by the archive) is never written through."""
    dest = outside / "cache"
    dest.mkdir()
    (dest / "models").symlink_to(outside)
    tar = Tar(outside / "through.tar")
    tar.file("models/flag", b"overwrite")
    with pytest.raises(UnsafeArchive, match="written through 'models', which is a symbolic link"):
        safe_extract(tar.close(), dest)
    assert_untouched(outside, ("through.tar", "cache"))

    tar = Tar(outside / "inside.tar")
    tar.dir("sub")
    tar.sym("d", "sub")  # inside the folder, and still not written through
    tar.file("d/newfile", b"new")
    with pytest.raises(UnsafeArchive, match="which is a symbolic link"):
        safe_extract(tar.close(), outside / "cache2")


def test_hard_link_out_is_refused(outside):
    dest = outside / "cache"
    dest.mkdir()
    (dest / "out").symlink_to(outside)
    tar = Tar(outside / "hard.tar")
    tar.hard("h", "out/flag")
    tar.file("h", b"overwrite")
    with pytest.raises(UnsafeArchive, match="links outside the target"):
        safe_extract(tar.close(), dest)
    assert_untouched(outside, ("hard.tar", "cache"))

    tar = Tar(outside / "hard2.tar")
    tar.hard("h", str(outside / "flag"))
    with pytest.raises(UnsafeArchive, match=r"absolute path|links outside"):
        safe_extract(tar.close(), outside / "cache2")
    assert_untouched(outside, ("hard.tar", "hard2.tar", "cache"))


def test_existing_link_in_the_cache_is_replaced_not_followed(outside):
    dest = outside / "cache"
    dest.mkdir()
    (dest / "model.joblib").symlink_to(outside / "flag")
    tar = Tar(outside / "ok.tar")
    tar.file("model.joblib", b"model")
    safe_extract(tar.close(), dest)
    assert (dest / "model.joblib").read_bytes() == b"model" and not (dest / "model.joblib").is_symlink()
    assert_untouched(outside, ("ok.tar", "cache"))


def test_links_inside_the_folder_still_work(tmp_path):
    tar = Tar(tmp_path / "ok.tar.gz", "w:gz")
    tar.file("blobs/abc", b"weights")
    tar.dir("snap")
    tar.sym("snap/model.bin", "../blobs/abc")
    tar.hard("copy.bin", "snap/model.bin")  # through an inside link, to the real file
    tar.file("run.sh", b"#!/bin/sh\n")
    out = safe_extract(tar.close(), tmp_path / "out")
    assert (out / "snap" / "model.bin").read_bytes() == b"weights"
    assert (out / "copy.bin").read_bytes() == b"weights" and not (out / "copy.bin").is_symlink()


# ---------------------------------------------------------------- bombs

def zeros_zip(path, n_bytes, members=1):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"part{i}.bin", b"\0" * n_bytes)
    return path


def zeros_tgz(path, n_bytes, members=1):
    tar = Tar(path, "w:gz")
    for i in range(members):
        tar.file(f"part{i}.bin", b"\0" * n_bytes)
    return tar.close()


@pytest.mark.parametrize("make", [zeros_zip, zeros_tgz])
def test_bomb_over_the_byte_limit_is_refused_and_removed(tmp_path, make):
    archive = make(tmp_path / ("bomb.zip" if make is zeros_zip else "bomb.tar.gz"), 512 * 1024, members=8)
    assert archive.stat().st_size < 64 * 1024  # 4 MiB of zeros
    with pytest.raises(ArchiveTooLarge, match="expands to more than 1048576 bytes"):
        safe_extract(archive, tmp_path / "out", ExtractLimits(max_bytes=1024 * 1024))
    assert not (tmp_path / "out").exists()
    # The ratio to the archive's size alone refuses it too; the same archive fits bigger limits.
    with pytest.raises(ArchiveTooLarge, match="MLFN_MAX_EXTRACT_RATIO=10"):
        safe_extract(archive, tmp_path / "out", ExtractLimits(ratio=10, floor_bytes=0))
    out = safe_extract(archive, tmp_path / "out", ExtractLimits(ratio=0))
    assert sum(p.stat().st_size for p in out.iterdir()) == 8 * 512 * 1024


def test_partial_output_is_removed_but_what_was_there_stays(tmp_path):
    dest = tmp_path / "cache"
    dest.mkdir()
    (dest / "keep.txt").write_text("keep")
    archive = zeros_tgz(tmp_path / "bomb.tar.gz", 600 * 1024, members=2)
    with pytest.raises(ArchiveTooLarge):
        safe_extract(archive, dest, ExtractLimits(max_bytes=1024 * 1024))
    assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("make", [zeros_zip, zeros_tgz])
def test_too_many_members_is_refused(tmp_path, make):
    archive = make(tmp_path / ("many.zip" if make is zeros_zip else "many.tgz"), 1, members=50)
    with pytest.raises(ArchiveTooLarge, match="more than 10 members"):
        safe_extract(archive, tmp_path / "out", ExtractLimits(max_members=10))
    assert not (tmp_path / "out").exists()


def test_limits_from_the_environment_reach_the_fetch_command(tmp_path):
    archive = zeros_tgz(tmp_path / "bomb.tar.gz", 2 * 1024 * 1024)
    env = {**os.environ, "MLFN_MAX_EXTRACT_BYTES": "1048576"}
    p = subprocess.run([sys.executable, "-m", "mlfn_runtime", "fetch", str(archive), str(tmp_path / "out")],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1 and "expands to more than 1048576 bytes" in p.stderr
    assert not (tmp_path / "out").exists()
    p = subprocess.run([sys.executable, "-m", "mlfn_runtime", "fetch", str(archive), str(tmp_path / "out")],
                       capture_output=True, text=True, env={**env, "MLFN_MAX_EXTRACT_BYTES": "lots"})
    assert p.returncode == 2 and "MLFN_MAX_EXTRACT_BYTES='lots' is not an integer" in p.stderr


def test_fetch_passes_limits_on(tmp_path):
    archive = zeros_tgz(tmp_path / "bomb.tar.gz", 2 * 1024 * 1024)
    with pytest.raises(ArchiveTooLarge):
        fetch(str(archive), tmp_path / "out", ExtractLimits(max_bytes=1024 * 1024))
