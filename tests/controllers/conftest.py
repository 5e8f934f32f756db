"""Fixtures shared by the controller tests."""

from __future__ import annotations

import pytest

from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient


@pytest.fixture
async def client():
    """A RecordingClient on a fresh in-process apiserver (reconcile steps assert its actions)."""
    async with TestApiServer() as srv:
        c = RecordingClient(srv.url, qps=0)
        try:
            yield c
        finally:
            await c.close()
