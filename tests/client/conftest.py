"""Fixtures: a real in-process apiserver (TestApiServer) and a client for it."""

from __future__ import annotations

import pytest

from kybernetes.testing.apiserver import TestApiServer


@pytest.fixture
async def srv():
    async with TestApiServer() as server:
        yield server


@pytest.fixture
async def client(srv):
    async with srv.client() as c:
        yield c
