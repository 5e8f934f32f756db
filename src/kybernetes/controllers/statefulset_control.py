"""One StatefulSet sync: make the pods match the set, in order (stateful_set_control).

    pods ──► replicas[ordinal - start]   ordinals start .. start+replicas-1 (missing ones are
         │                               stand-ins made from the right revision)
         └─► condemned                   ordinals out of range, highest first

    1. every replica, lowest ordinal first: a Failed/Succeeded pod is deleted (re-created next
       sync); a missing one is created (claims first); identity and storage are restored.
       OrderedReady ("monotonic") stops at the first pod that is not yet Running, Ready and
       available, so web-1 is created only once web-0 is ready. Parallel does them all at once
       (slow-start batches) and never waits.
    2. claims of condemned pods get the owners the retention policy wants.
    3. condemned pods are deleted, highest ordinal first; OrderedReady deletes one at a time and
       only while every other pod is healthy.
    4. RollingUpdate: from the highest ordinal down to the partition, pods not at the update
       revision are deleted (step 1 re-creates them at the new revision), at most
       maxUnavailable (default 1) pods unavailable at a time. OnDelete: never; a pod is updated
       when somebody deletes it.

The status counts are kept as things happen and returned even when a step fails, so the set
always says where it stands.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from kybernetes.controllers import podutil
from kybernetes.controllers import statefulset_pods as sp
from kybernetes.controllers.statefulset_podcontrol import StatefulPodControl
from kybernetes.controllers.statefulset_status import count_pods

Obj = dict[str, Any]

MAX_BATCH = 500


class SyncError(Exception):
    """A step failed; ``status`` is what the set looked like when it did."""

    def __init__(self, error: Exception, status: Obj):
        super().__init__(str(error))
        self.error = error
        self.status = status


def max_unavailable(sts: Obj, replicas: int) -> int:
    """maxUnavailable of the rolling update: an int, or a percentage of replicas rounded down;
    never below 1."""
    value = ((sp.update_strategy(sts).get("rollingUpdate") or {}).get("maxUnavailable"))
    if value is None:
        return 1
    if isinstance(value, str) and value.endswith("%"):
        try:
            number = math.floor(float(value[:-1]) * replicas / 100)
        except ValueError:
            number = 1
    else:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 1
    return max(number, 1)


async def _run_for_all(count: int, step: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
    """Run ``step`` for 0..count-1: in order, stopping when it says so (monotonic), or in
    slow-start batches of 1, 2, 4, ... (burst). True when the sync should stop here."""
    if monotonic:
        for i in range(count):
            if await step(i):
                return True
        return False
    done = 0
    size = 1
    while done < count:
        batch = min(size, count - done, MAX_BATCH)
        results = await asyncio.gather(*(step(i) for i in range(done, done + batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            first = failures[0]
            raise first if isinstance(first, Exception) else RuntimeError(str(first))
        done += batch
        size *= 2
    return False


class StatefulSetSync:
    """One pass over one set; ``run`` returns the status to store (or raises SyncError)."""

    def __init__(self, control: StatefulPodControl, sts: Obj, current_set: Obj, update_set: Obj,
                 current_revision: str, update_revision: str, collision_count: int, pods: list[Obj],
                 now: datetime):
        self.control = control
        self.sts = sts
        self.current_set = current_set
        self.update_set = update_set
        self.current_revision = current_revision
        self.update_revision = update_revision
        self.now = now
        self.min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        self.status: Obj = {"observedGeneration": (sts.get("metadata") or {}).get("generation") or 0,
                            "currentRevision": current_revision, "updateRevision": update_revision,
                            "collisionCount": collision_count}
        count_pods(self.status, pods, self.min_ready, now)
        self.pods = pods
        self.replicas: list[Obj] = []
        self.condemned: list[Obj] = []

    def _recount(self) -> None:
        count_pods(self.status, self.replicas + self.condemned, self.min_ready, self.now)

    def _unavailable(self, pod: Obj) -> bool:
        return sp.is_unavailable(pod, self.min_ready, self.now)

    async def run(self) -> Obj:
        try:
            await self._run()
        except Exception as e:
            raise SyncError(e, self.status) from e
        return self.status

    async def _run(self) -> None:
        sts = self.sts
        start, end = sp.start_ordinal(sts), sp.end_ordinal(sts)
        slots: list[Obj | None] = [None] * max(end - start + 1, 0)
        for pod in self.pods:
            ordinal = sp.ordinal_of(pod)
            if start <= ordinal <= end:
                slots[ordinal - start] = pod
            elif ordinal >= 0:
                self.condemned.append(pod)
        self.replicas = [pod if pod is not None else sp.new_versioned_pod(
            self.current_set, self.update_set, self.current_revision, self.update_revision, start + i)
            for i, pod in enumerate(slots)]
        self.condemned.sort(key=sp.ordinal_of, reverse=True)

        first_unhealthy: Obj | None = None
        for pod in self.replicas + self.condemned[::-1]:
            if self._unavailable(pod):
                first_unhealthy = pod
                break

        if (sts.get("metadata") or {}).get("deletionTimestamp"):
            return  # being deleted: report, change nothing
        monotonic = not sp.allows_burst(sts)

        async def replica_step(i: int) -> bool:
            return await self._process_replica(monotonic, i)

        if await _run_for_all(len(self.replicas), replica_step, monotonic):
            self._recount()
            return

        async def fix_claims(i: int) -> bool:
            pod = self.condemned[i]
            if not self.control.claims_match_policy(self.update_set, pod):
                await self.control.update_claims_for_policy(self.update_set, pod)
            return False

        if await _run_for_all(len(self.condemned), fix_claims, monotonic):
            self._recount()
            return

        async def condemned_step(i: int) -> bool:
            return await self._process_condemned(monotonic, first_unhealthy, i)

        try:
            stop = await _run_for_all(len(self.condemned), condemned_step, monotonic)
        finally:
            self._recount()
        if stop:
            return
        if sp.update_strategy(sts).get("type", sp.ROLLING_UPDATE) == sp.ON_DELETE:
            return
        await self._rolling_update()

    async def _process_replica(self, monotonic: bool, i: int) -> bool:
        pod = self.replicas[i]
        if sp.phase(pod) in ("Failed", "Succeeded"):
            # A finished pod is replaced, whatever its exit code: deleted now, created next sync.
            if not podutil.is_terminating(pod):
                await self.control.delete_pod(self.sts, pod)
            return True
        if not sp.is_created(pod):
            if self.control.claim_is_stale(self.sts, pod):
                return True
            await self.control.create_pod(self.sts, pod)
            if monotonic:
                return True
            return False
        if sp.phase(pod) == "Pending":
            await self.control.create_missing_claims(self.sts, pod)
        if podutil.is_terminating(pod) and monotonic:
            return True
        if monotonic and not sp.is_running_and_ready(pod):
            return True
        if monotonic and not sp.is_available(pod, self.min_ready, self.now):
            return True
        if podutil.is_terminating(pod):
            return False
        if (sp.identity_matches(self.sts, pod) and sp.storage_matches(self.sts, pod)
                and self.control.claims_match_policy(self.update_set, pod)):
            return False
        await self.control.update_pod(self.update_set, pod)
        return False

    async def _process_condemned(self, monotonic: bool, first_unhealthy: Obj | None, i: int) -> bool:
        pod = self.condemned[i]
        if podutil.is_terminating(pod):
            return monotonic  # OrderedReady waits for it to go before the next one
        if monotonic and pod is not first_unhealthy and not sp.is_running_and_ready(pod):
            return True
        if monotonic and pod is not first_unhealthy and not sp.is_available(pod, self.min_ready, self.now):
            return True
        await self.control.delete_pod(self.sts, pod)
        return True

    async def _rolling_update(self) -> None:
        """Delete pods not at the update revision, highest ordinal first, down to the partition,
        keeping at most maxUnavailable pods unavailable."""
        replica_count = sp.replicas_of(self.sts)
        lowest = sp.partition(self.sts)
        limit = max_unavailable(self.sts, replica_count)
        unavailable = sum(1 for pod in self.replicas if self._unavailable(pod))
        if unavailable >= limit:
            return
        budget = limit - unavailable
        for target in range(len(self.replicas) - 1, lowest - 1, -1):
            if budget <= 0:
                break
            pod = self.replicas[target]
            if sp.pod_revision(pod) != self.update_revision and not podutil.is_terminating(pod):
                await self.control.delete_pod(self.sts, pod)
                budget -= 1
                self.status["currentReplicas"] -= 1
