"""Cluster: a whole Kybernetes cluster inside the test's event loop.

    async with Cluster(nodes=3) as cluster:
        async with cluster.client() as client:
            await client.create(DEPLOYMENTS, {...})
        subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig, "get", "pods"])

The real apiserver (over a private SQLite store, plain HTTP on 127.0.0.1, every request treated as
system:masters), the real scheduler and controller-manager, and ``nodes`` simulated nodes on the
fake runtime — the same code `kyb up --sim-nodes` runs, here as tasks of one event loop. It
writes a kubeconfig any client can use (kubectl, the official Python client, lightkube), and
everything is stopped and removed when the block exits, also on failure.

``clock=FakeClock()`` drives the scheduler, controllers and nodes on a fake clock (backoffs,
CronJobs, tolerationSeconds fast-forwarded with ``await clock.advance(s)``); the apiserver's own
timestamps stay on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kybernetes.client.rest import ApiClient
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.registry import CONTROLLERS
from kybernetes.kubelet.simulated import SimulationConfig, build_simulation
from kybernetes.scheduler.runner import SchedulerRunner
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0


class Cluster:
    __test__ = False

    def __init__(self, *, nodes: int = 1, node_cpu: str = "4", node_memory: str = "16Gi",
                 controllers: dict[str, Any] | None = None, scheduler: bool = True,
                 clock: Clock | None = None, controller_options: dict[str, Any] | None = None,
                 store_url: str = "sqlite://:memory:"):
        self.node_count = nodes
        self.node_cpu = node_cpu
        self.node_memory = node_memory
        self.controller_classes = CONTROLLERS if controllers is None else controllers
        self.run_scheduler = scheduler
        self.clock = clock or REAL_CLOCK
        self.controller_options = {"cluster_cidr": "10.42.0.0/16", **(controller_options or {})}
        self.apiserver = TestApiServer(store_url=store_url)
        self.kubeconfig: Path | None = None
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._clients: list[ApiClient] = []
        self.manager: ControllerManager | None = None

    # -- lifetime ------------------------------------------------------------------------------

    async def start(self) -> Cluster:
        try:
            await self.apiserver.start()
            self.url = self.apiserver.url
            self._tmp = tempfile.TemporaryDirectory(prefix="kyb-cluster-")
            self.kubeconfig = Path(self._tmp.name) / "kubeconfig"
            self.kubeconfig.write_text(yaml.safe_dump(self._kubeconfig_doc()))
            if self.controller_classes:
                self.manager = ControllerManager(self._component_client("kyb-controller-manager"),
                                                 dict(self.controller_classes), clock=self.clock,
                                                 leader_elect=False, options=self.controller_options)
                self._spawn(self.manager.run(), "controller-manager")
            if self.run_scheduler:
                runner = SchedulerRunner(self._component_client("kyb-scheduler"), leader_elect=False,
                                         clock=self.clock)
                self._spawn(runner.run(), "scheduler")
            if self.node_count:
                client = self._component_client("kyb-simulate-nodes")
                config = SimulationConfig(count=self.node_count, name_prefix="node-", cpu=self.node_cpu,
                                          memory=self.node_memory, stop_seconds=0.1)
                group = await build_simulation(client, config, clock=self.clock)
                self._spawn(group.run(), "nodes")
                await asyncio.wait_for(group.wait_registered(), START_TIMEOUT)
            if self.manager is not None:
                await asyncio.wait_for(self.manager.started.wait(), START_TIMEOUT)
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for client in self._clients:
            await client.close()
        self._clients.clear()
        await self.apiserver.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> Cluster:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- use -----------------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> ApiClient:
        """A client for the test (closed with the cluster if the test forgets)."""
        kwargs.setdefault("qps", 0)
        client = ApiClient(self.url, clock=self.clock, **kwargs)
        self._clients.append(client)
        return client

    def _component_client(self, user_agent: str) -> ApiClient:
        return self.client(user_agent=user_agent)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"cluster {name}")
        task.add_done_callback(_log_failure)
        self._tasks.append(task)

    def _kubeconfig_doc(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": "kybernetes-test",
            "clusters": [{"name": "kybernetes-test", "cluster": {"server": self.url}}],
            "users": [{"name": "test-admin", "user": {}}],
            "contexts": [{"name": "kybernetes-test",
                          "context": {"cluster": "kybernetes-test", "user": "test-admin"}}],
        }


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %s", task.get_name(), task.exception())
