"""Fixtures shared by the proxy tests: the real-traffic test network, one per module."""

from __future__ import annotations

import pytest

from tests.proxy.netlab import NetLab


@pytest.fixture(scope="module")
def lab():
    """Network namespaces as pods on a bridge of their own (netlab.py); needs root."""
    net = NetLab()
    net.open()
    try:
        yield net
    finally:
        net.close()
