"""Fixtures: a real in-process apiserver, a client, and simulated nodes running against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kybernetes.client import ApiClient
from kybernetes.kubelet.node_group import NodeGroup
from kybernetes.kubelet.simulated import SimulationConfig, build_simulation
from kybernetes.testing.apiserver import TestApiServer


@pytest.fixture
async def srv():
    async with TestApiServer() as server:
        yield server


@pytest.fixture
async def client(srv):
    async with srv.client() as c:
        yield c


@contextlib.asynccontextmanager
async def running(client: ApiClient, **options) -> AsyncIterator[NodeGroup]:
    """Simulated nodes (``SimulationConfig`` options) running until the block ends."""
    clock = options.pop("clock", None)
    options.setdefault("count", 2)
    options.setdefault("stop_seconds", 0.05)
    group = await build_simulation(client, SimulationConfig(**options), clock=clock)
    task = asyncio.create_task(group.run())
    try:
        assert await group.wait_registered(10), "simulated nodes did not register"
        yield group
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
