"""The controller-manager: every enabled controller in one process, sharing informers.

Leader-elected on the Lease kube-system/kube-controller-manager: only the leader runs
controllers, so two managers never fight over the same objects. The controllers are listed in
``registry.py`` (name -> class); each gets the same ControllerContext.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from kybernetes.client import ApiClient, LeaderElector, SharedInformerFactory
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

LEASE_NAME = "kube-controller-manager"


class ControllerManager:
    def __init__(self, client: ApiClient, controllers: dict[str, type[Controller]], *,
                 clock: Clock = REAL_CLOCK, leader_elect: bool = True, identity: str = "",
                 options: dict | None = None, sync_timeout: float = 60.0):
        self.client = client
        self.controller_classes = controllers
        self.clock = clock
        self.leader_elect = leader_elect
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.options = options or {}
        self.sync_timeout = sync_timeout
        self.controllers: dict[str, Controller] = {}
        self.started = asyncio.Event()  # set once controllers are running (tests wait on it)

    async def run(self) -> None:
        if not self.leader_elect:
            await self._run_controllers()
            return
        elector = LeaderElector(self.client, name=LEASE_NAME, identity=self.identity,
                                on_started_leading=self._run_controllers, clock=self.clock)
        while True:
            await elector.run()
            log.info("lost the %s lease; waiting to lead again", LEASE_NAME)

    async def _run_controllers(self) -> None:
        informers = SharedInformerFactory(self.client, clock=self.clock)
        ctx = ControllerContext(self.client, informers, self.clock, options=self.options)
        self.controllers = {name: cls(ctx) for name, cls in self.controller_classes.items()}
        informers.start()
        try:
            if not await informers.wait_for_cache_sync(self.sync_timeout):
                raise RuntimeError("informer caches did not sync")
            log.info("controllers running: %s (pid %d)", ", ".join(self.controllers), os.getpid())
            self.started.set()
            async with asyncio.TaskGroup() as tg:
                for controller in self.controllers.values():
                    tg.create_task(controller.run(), name=controller.name)
        finally:
            self.started.clear()
            await informers.shutdown()
