"""e2e fixtures: one `kyb up` per test session (see cluster.py)."""

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
