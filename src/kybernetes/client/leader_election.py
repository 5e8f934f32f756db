"""Leader election on a coordination.k8s.io/v1 Lease (client-go's tools/leaderelection).

Several copies of a component (scheduler, controller-manager) run; one leads, the others wait.
The leader writes ``spec.renewTime`` every ``retry_period``; a candidate takes over when the
lease has not changed for ``lease_duration`` *as measured on its own clock* (the time it last
saw the record change, not the timestamp written in it, so clock skew between machines does not
matter). Every write is a compare-and-swap on the Lease's resourceVersion: of two candidates
racing for an expired lease exactly one wins, the other gets 409 and keeps waiting.

    elector = LeaderElector(client, name="kube-scheduler", namespace="kube-system",
                            identity=f"{host}_{uuid}", on_started_leading=run_scheduler)
    await elector.run()   # returns once leadership is lost (or the leading work ended)

``on_started_leading`` is a coroutine function; its task is cancelled the moment leadership is
lost (the leader failed to renew within ``renew_deadline``, or saw someone else holding the
lease). On a clean stop (``run`` cancelled, or the work returned) the lease is released
(holder emptied, duration 1 s) so a successor need not wait out the full lease duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import LEASES
from kybernetes.client.rest import ApiClient
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2


def micro_time(moment: datetime) -> str:
    """MicroTime as Kubernetes writes it: 2026-11-26T20:55:22.123456Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: ApiClient, *, name: str, identity: str, namespace: str = "kube-system",
                 on_started_leading: Callable[[], Awaitable[Any]],
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 release_on_cancel: bool = True, clock: Clock | None = None):
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not (lease_duration > renew_deadline > JITTER_FACTOR * retry_period > 0):
            raise ValueError("leader election needs lease_duration > renew_deadline > 1.2 * retry_period > 0 "
                             f"(got {lease_duration}, {renew_deadline}, {retry_period})")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self.clock = clock or REAL_CLOCK
        self._observed_spec: dict[str, Any] = {}
        self._observed_at = 0.0  # our clock's time when the record last changed
        self._observed_rv = ""
        self._written: dict[str, Any] | None = None  # the Lease as our last write left it
        self._last_renew = 0.0
        self._leader = ""
        self._is_leader = False

    @property
    def leader(self) -> str:
        """The identity we last saw holding the lease ("" if none)."""
        return self._leader

    def is_leader(self) -> bool:
        return self._is_leader

    # -- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Acquire, lead (running on_started_leading), renew; return when leadership ends."""
        led = False
        try:
            await self._acquire()
            led = True
            work = asyncio.create_task(self.on_started_leading(), name=f"leading {self.name}")
            try:
                await self._renew_while(work)
            finally:
                self._is_leader = False
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
        finally:
            was_holder = self._observed_spec.get("holderIdentity") == self.identity
            if was_holder and self.release_on_cancel:
                await asyncio.shield(self._release())
            self._is_leader = False
            if led:
                if self.on_stopped_leading is not None:
                    await _maybe_await(self.on_stopped_leading())

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await self.clock.sleep(self.retry_period * (1 + random.random() * JITTER_FACTOR))
        self._is_leader = True
        log.info("%s: %s became the leader", self.name, self.identity)

    async def _renew_while(self, work: asyncio.Task[Any]) -> None:
        while not work.done():
            sleep = asyncio.ensure_future(self.clock.sleep(self.retry_period))
            try:
                await asyncio.wait({work, sleep}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleep.cancel()
            if work.done():
                return  # the leading work ended by itself: step down
            if await self._try_acquire_or_renew():
                continue
            if self._leader and self._leader != self.identity:
                log.warning("%s: %s lost the lease to %s", self.name, self.identity, self._leader)
                return
            if self.clock.now() - self._last_renew >= self.renew_deadline:
                log.warning("%s: %s failed to renew within %.1f s; stepping down",
                            self.name, self.identity, self.renew_deadline)
                return

    # -- one attempt -----------------------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> bool:
        try:
            return await self._attempt()
        except ApiError as e:
            log.info("%s: lease attempt by %s failed: %s", self.name, self.identity, e)
            return False

    async def _attempt(self) -> bool:
        now, wall = self.clock.now(), micro_time(self.clock.wall())
        if self._is_leader and self._written is not None and now < self._last_renew + self.lease_duration:
            # The leader's fast path (as client-go's): renew the Lease as we last wrote it, without
            # reading it first; a conflict means someone else wrote it, so read it and decide.
            old = self._written.get("spec") or {}
            try:
                renewed = await self._write(self.client.update(
                    LEASES, {**self._written, "spec": {**old, "renewTime": wall}}, self.namespace))
            except ApiError as e:
                log.info("%s: optimistic renewal by %s failed, reading the lease: %s", self.name, self.identity, e)
                renewed = None
            if renewed is not None:
                return self._observe(renewed, now, renewed=True)
        lease = await self.client.get_or_none(LEASES, self.name, self.namespace)
        if lease is None:
            spec = self._spec(wall, acquire_time=wall, transitions=0)
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
            created = await self._write(self.client.create(LEASES, body, self.namespace))
            return created is not None and self._observe(created, now, renewed=True)
        old = lease.get("spec") or {}
        self._observe(lease, now)
        holder = old.get("holderIdentity") or ""
        if holder and holder != self.identity and now < self._observed_at + self.lease_duration:
            return False  # someone else holds a lease that has not expired
        if holder == self.identity and self._is_leader:
            spec = self._spec(wall, acquire_time=old.get("acquireTime") or wall,
                              transitions=old.get("leaseTransitions") or 0)
        else:
            spec = self._spec(wall, acquire_time=wall, transitions=(old.get("leaseTransitions") or 0) + 1)
        lease = {**lease, "spec": {**old, **spec}}
        updated = await self._write(self.client.update(LEASES, lease, self.namespace))
        return updated is not None and self._observe(updated, now, renewed=True)

    def _spec(self, wall: str, *, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {"holderIdentity": self.identity, "leaseDurationSeconds": max(1, round(self.lease_duration)),
                "acquireTime": acquire_time, "renewTime": wall, "leaseTransitions": transitions}

    async def _write(self, request: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return await request
        except ApiError as e:
            if e.code == 409:  # another candidate wrote first (Conflict or AlreadyExists)
                return None
            raise

    def _observe(self, lease: dict[str, Any], now: float, *, renewed: bool = False) -> bool:
        spec = lease.get("spec") or {}
        rv = (lease.get("metadata") or {}).get("resourceVersion") or ""
        if spec != self._observed_spec or rv != self._observed_rv:
            self._observed_spec, self._observed_rv, self._observed_at = dict(spec), rv, now
        if renewed:
            self._last_renew = now
            self._written = lease
        holder = spec.get("holderIdentity") or ""
        if holder != self._leader:
            self._leader = holder
            if holder and self.on_new_leader is not None:
                try:
                    self.on_new_leader(holder)
                except Exception:
                    log.exception("%s: on_new_leader failed", self.name)
        return True

    async def _release(self) -> None:
        """Empty the holder so a successor may take over at once (only if we still hold it)."""
        try:
            lease = await self.client.get_or_none(LEASES, self.name, self.namespace)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            wall = micro_time(self.clock.wall())
            spec = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1,
                    "acquireTime": wall, "renewTime": wall}
            released = await self._write(self.client.update(LEASES, {**lease, "spec": spec}, self.namespace))
            if released is not None:
                self._observe(released, self.clock.now())
        except ApiError as e:
            log.warning("%s: releasing the lease failed: %s", self.name, e)


async def _maybe_await(result: Any) -> None:
    if inspect.isawaitable(result):
        await result
