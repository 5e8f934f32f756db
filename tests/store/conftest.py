"""Fixtures for the store suites: a store of each backend, real etcd members on loopback.

The single-member etcd is shared by the session (each test works under its own key prefix); the
3-member cluster for the failover test is started by that module only.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kybernetes.store import open_store  # noqa: E402
from tests.support.etcd_cluster import EtcdCluster  # noqa: E402

# No background compaction unless a test asks for it.
QUIET = {"compaction_interval": 3600}


@pytest.fixture(scope="session")
def etcd_single():
    with EtcdCluster(size=1) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "etcd"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    return request.getfixturevalue("etcd_single").store_url


@pytest.fixture
async def store(store_url):
    opened = await open_store(store_url, **QUIET)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses (the etcd member is shared by the session)."""
    return f"/t/{uuid.uuid4().hex[:12]}/"
