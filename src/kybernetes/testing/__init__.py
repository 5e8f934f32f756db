"""kybernetes.testing: the public test kit.

    Cluster         a whole cluster in this process: apiserver, scheduler, controllers and
                    simulated nodes, with a kubeconfig any client can use (cluster.py)
    cluster         the same as a pytest fixture (``from kybernetes.testing import cluster``)
    TestApiServer   the real apiserver in this process, plain HTTP on loopback, in-memory store
    FakeClock       time that moves only when a test says so (re-exported from util.clock)
    eventually      wait for a condition with a deadline

This package may import the apiserver (it starts one) but never the store directly.
"""

from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.cluster import Cluster
from kybernetes.testing.fixtures import cluster
from kybernetes.testing.waiting import eventually
from kybernetes.util.clock import FakeClock

__all__ = ["Cluster", "FakeClock", "TestApiServer", "cluster", "eventually"]
