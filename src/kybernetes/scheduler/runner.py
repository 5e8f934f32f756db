"""Running a scheduler for real: leader election around a fresh Scheduler per term.

Only the holder of the Lease kube-system/kube-scheduler schedules, so two copies never place the
same pod. Each term builds a new Scheduler (new caches, listed afresh): what an old term
remembered may be stale. A scheduler for another schedulerName uses its own lease (named after
it) so it does not compete with the default one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from typing import Any

from kybernetes.client import ApiClient, LeaderElector
from kybernetes.scheduler.podinfo import DEFAULT_SCHEDULER
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
DEFAULT_LEASE_NAME = "kube-scheduler"


def lease_name_for(scheduler_names: list[str]) -> str:
    return DEFAULT_LEASE_NAME if not scheduler_names or DEFAULT_SCHEDULER in scheduler_names else scheduler_names[0]


class SchedulerRunner:
    def __init__(self, client: ApiClient, *, scheduler_names: list[str] | None = None, leader_elect: bool = True,
                 identity: str = "", lease_name: str = "", clock: Clock = REAL_CLOCK,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 **scheduler_options: Any):
        self.client = client
        self.scheduler_names = scheduler_names or [DEFAULT_SCHEDULER]
        self.leader_elect = leader_elect
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.lease_name = lease_name or lease_name_for(self.scheduler_names)
        self.clock = clock
        self.lease_timing = (lease_duration, renew_deadline, retry_period)
        self.scheduler_options = scheduler_options
        self.scheduler: Scheduler | None = None
        self.leading = asyncio.Event()
        self.elector: LeaderElector | None = None

    async def run(self) -> None:
        if not self.leader_elect:
            await self._lead()
            return
        duration, deadline, retry = self.lease_timing
        self.elector = LeaderElector(self.client, name=self.lease_name, namespace=LEASE_NAMESPACE,
                                     identity=self.identity, on_started_leading=self._lead, clock=self.clock,
                                     lease_duration=duration, renew_deadline=deadline, retry_period=retry)
        while True:
            await self.elector.run()
            log.warning("scheduler %s lost the %s lease; waiting to lead again", self.identity, self.lease_name)

    async def _lead(self) -> None:
        self.scheduler = Scheduler(self.client, scheduler_names=self.scheduler_names, clock=self.clock,
                                   **self.scheduler_options)
        self.leading.set()
        try:
            await self.scheduler.run()
        finally:
            self.leading.clear()
