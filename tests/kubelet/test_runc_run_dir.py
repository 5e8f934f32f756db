"""The node's run directory gets a tmpfs of its own where it is not on one (root, real mounts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.kubelet.runtime.runc import linux, run_dir


@pytest.fixture
def directory(tmp_path):
    path = tmp_path / "run"
    try:
        yield path
    finally:
        while linux.umount(str(path)):
            pass


def _tmpfs_sources(path: Path) -> list[str]:
    return [line.split(" - ")[1].split()[1] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4] == str(path) and line.split(" - ")[1].split()[0] == "tmpfs"]


def test_an_empty_directory_on_disk_gets_a_tmpfs_and_loses_it_when_empty_again(directory):
    assert not run_dir.on_tmpfs(directory.parent)  # pytest's tmp_path is on the disk here
    assert run_dir.ensure_tmpfs(directory)
    assert _tmpfs_sources(directory) == [run_dir.SOURCE]
    assert run_dir.on_tmpfs(directory / "runc" / "some-container")
    assert not run_dir.ensure_tmpfs(directory)  # already one: a restarted kubelet mounts nothing
    (directory / "ns" / "net").mkdir(parents=True)
    (directory / "exits").mkdir()
    (directory / "exits" / "abc").write_text("0")
    assert not run_dir.release(directory)  # a file: something may still need it
    assert _tmpfs_sources(directory) == [run_dir.SOURCE]
    (directory / "exits" / "abc").unlink()
    assert run_dir.release(directory)
    assert _tmpfs_sources(directory) == []
    assert list(directory.iterdir()) == []


def test_a_directory_holding_state_is_never_covered(directory):
    directory.mkdir()
    (directory / "runc").mkdir()
    assert not run_dir.ensure_tmpfs(directory)
    assert _tmpfs_sources(directory) == []
    assert (directory / "runc").is_dir()


def test_release_leaves_a_tmpfs_it_did_not_mount(directory):
    directory.mkdir()
    linux.mount("someone-else", str(directory), "tmpfs", 0)
    assert run_dir.on_tmpfs(directory)
    assert not run_dir.ensure_tmpfs(directory)
    assert not run_dir.release(directory)
    assert _tmpfs_sources(directory) == ["someone-else"]
