"""pytest fixtures over kybernetes.testing (import them into a conftest.py or a test module).

    from kybernetes.testing import cluster      # noqa: F401  (the fixture)

    async def test_my_operator(cluster):
        async with cluster.client() as client: ...

Needs pytest-asyncio (asyncio_mode = "auto", or mark the test). Parametrise the cluster with
``@pytest.mark.kyb_cluster(nodes=3)``.
"""

from __future__ import annotations

import pytest

from kybernetes.testing.cluster import Cluster

try:
    import pytest_asyncio

    _fixture = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - pytest-asyncio is how async fixtures run
    _fixture = pytest.fixture


@_fixture
async def cluster(request):
    marker = request.node.get_closest_marker("kyb_cluster")
    options = dict(marker.kwargs) if marker else {}
    async with Cluster(**options) as running:
        yield running
