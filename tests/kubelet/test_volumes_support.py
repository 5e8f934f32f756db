"""Support for the volume tests (no tests here): a kubelet root dir that is always cleaned up (mounts
included), a VolumeManager against a TestApiServer, and pod builders."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.client.resource import NAMESPACES, SERVICEACCOUNTS
from kybernetes.kubelet.volumes import VolumeManager, fs
from kybernetes.testing import TestApiServer

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting tmpfs and binds needs root")


@contextlib.contextmanager
def kubelet_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="kyb-volumes-"))
    try:
        yield root
    finally:
        fs.unmount_all_under(root)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def cluster(namespace: str = "") -> AsyncIterator[tuple]:
    """(client, namespace) on a fresh apiserver, the namespace and its default ServiceAccount made."""
    namespace = namespace or f"vol-{uuid.uuid4().hex[:6]}"
    async with TestApiServer() as srv, srv.client() as client:
        await client.create(NAMESPACES, {"metadata": {"name": namespace}})
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "default"}}, namespace)
        yield client, namespace


@contextlib.asynccontextmanager
async def manager(client, **options) -> AsyncIterator[VolumeManager]:
    with kubelet_root() as root:
        options.setdefault("ttl", 0.0)
        yield VolumeManager(client, root, **options)


def make_pod(namespace: str, volumes: list, *, containers: list | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}", "namespace": namespace, "uid": str(uuid.uuid4()),
                         "labels": {"app": "web"}},
            "spec": {"containers": containers or [{"name": "c", "image": "busybox"}], "volumes": volumes,
                     "automountServiceAccountToken": False, **spec}}
