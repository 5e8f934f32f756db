"""runc runs from a fully sealed in-memory copy of itself (sealed_binary.py)."""

from __future__ import annotations

import fcntl
import os
import subprocess

import pytest

from kybernetes.kubelet.runtime.runc import conmon, sealed_binary


def test_the_copy_is_sealed_against_every_change_and_runs():
    path = sealed_binary.executable(conmon.RUNC)
    assert path.startswith(f"/proc/{os.getpid()}/fd/")
    assert sealed_binary.executable(conmon.RUNC) == path  # one copy per process
    fd = os.open(path, os.O_RDONLY)
    try:
        assert fcntl.fcntl(fd, sealed_binary.F_GET_SEALS) == sealed_binary.FULLY_SEALED
    finally:
        os.close(fd)
    fd = os.open(path, os.O_WRONLY)
    try:
        with pytest.raises(PermissionError):
            os.write(fd, b"#!/bin/sh")  # F_SEAL_WRITE: not even root may write it
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)  # F_SEAL_SHRINK
    finally:
        os.close(fd)
    with open(conmon.RUNC, "rb") as original, open(path, "rb") as copy:
        assert original.read() == copy.read()
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("runc version")


def test_a_binary_that_cannot_be_read_runs_from_its_own_path(tmp_path):
    missing = str(tmp_path / "no-such-runc")
    assert sealed_binary.executable(missing) == missing
