"""e2e fixtures: one control-plane-only `kyb up` per test session (see cluster.py), and ``rc``:
one `kyb up` with its real node per module that asks for it (real_node_support.py)."""

from __future__ import annotations

import pytest

from .cluster import KybCluster


@pytest.fixture(scope="session")
def kyb_cluster():
    cluster = KybCluster.start_new()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def rc(tmp_path_factory, request):
    from .real_node_support import real_cluster

    with real_cluster(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])) as cluster:
        yield cluster
