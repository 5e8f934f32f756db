"""Fixtures: a real in-process apiserver, a client, and a running scheduler."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.scheduler.scheduler import Scheduler
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
async def running(scheduler):
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(scheduler.started.wait(), 10)
        yield scheduler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def scheduler(srv):
    async with srv.client() as c, running(Scheduler(c)) as s:
        yield s
