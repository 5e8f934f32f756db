"""One pod's way through the scheduler: the scheduling cycle, the binding cycle, and failure.

    schedule_one (synchronous)
        skip pods deleted or already placed meanwhile
        algorithm: filter + score ─► node          │ FitError ─► post-filter (preemption)
        assume on the node, reserve, permit         │           ─► handle_failure
        ─► spawn binding
    bind (a task; at most 256 at once)
        pre-bind ─► bind (POST pods/binding) ─► post-bind ─► "Scheduled" event
        failure: unreserve, forget the assumption, retry after backoff (409: drop the pod)
    handle_failure
        back to the queue (unschedulable, or backoff for errors); then, off the hot path, the
        PodScheduled=False condition (reason Unschedulable, the fit error as message, and
        status.nominatedNodeName after a preemption) and a FailedScheduling Warning event.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import format_rfc3339
from kybernetes.client.resource import PODS
from kybernetes.scheduler.algorithm import SchedulingError
from kybernetes.scheduler.framework import Code, CycleState, FitError, NoNodesError, Status
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.profile import Profile
from kybernetes.scheduler.queue import QueuedPod

if TYPE_CHECKING:
    from kybernetes.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

UNSCHEDULABLE_REASON = "Unschedulable"
SCHEDULER_ERROR_REASON = "SchedulerError"


class SchedulingCycle:
    """Mixed into Scheduler (split out to keep each file one concern)."""

    def schedule_one(self: Scheduler, qp: QueuedPod) -> None:
        pod = qp.pod
        profile = self.profiles.get(pod.scheduler_name)
        current = self.pod_informer.get(pod.key)
        if (profile is None or pod.deleting or current is None or (current.get("spec") or {}).get("nodeName")
                or self.cache.get_pod(pod.key) is not None):
            self.queue.done(pod.key)  # not ours, gone, or placed meanwhile
            return
        self.stats.attempts += 1
        state = CycleState()
        started = (time.perf_counter(), time.thread_time())
        try:
            result = self.algorithm.schedule(profile, state, pod)
        except FitError as fit:
            nominated = self._post_filter(profile, state, pod, fit)
            self._record_decision(started)
            qp.unschedulable_plugins = set(fit.diagnosis.unschedulable_plugins)
            self.handle_failure(qp, str(fit), UNSCHEDULABLE_REASON, nominated=nominated)
            return
        except NoNodesError as e:
            self._record_decision(started)
            qp.unschedulable_plugins = set()
            self.handle_failure(qp, str(e), UNSCHEDULABLE_REASON)
            return
        except SchedulingError as e:
            self.handle_failure(qp, str(e), SCHEDULER_ERROR_REASON, error=True)
            return
        self._record_decision(started)
        assumed = self.cache.assume_pod(pod, result.node)
        self.queue.delete_nominated(pod.key)
        status = profile.run_reserve(state, assumed, result.node) or profile.run_permit(state, assumed, result.node)
        if status is not None:
            profile.run_unreserve(state, assumed, result.node)
            self.cache.forget_pod(pod.key)
            self.handle_failure(qp, status.message, SCHEDULER_ERROR_REASON, error=status.code == Code.ERROR)
            return
        self.stats.scheduled += 1
        self.spawn(self._bind(profile, state, qp, assumed, result.node))

    def _record_decision(self: Scheduler, started: tuple[float, float]) -> None:
        """Wall time and CPU time of one decision (CPU time is what it costs; wall time also
        counts whatever else the machine made us wait for)."""
        took = time.perf_counter() - started[0]
        cpu = time.thread_time() - started[1]
        stats = self.stats
        stats.decision_seconds += took
        stats.decision_cpu_seconds += cpu
        stats.decisions += 1
        if len(stats.decision_samples) < 100_000:
            stats.decision_samples.append(took)
            stats.decision_cpu_samples.append(cpu)

    def _post_filter(self: Scheduler, profile: Profile, state: CycleState, pod: PodInfo,
                     fit: FitError) -> str | None:
        if not profile.points["post_filter"]:
            return None
        nominated, status = profile.run_post_filter(state, pod, fit.diagnosis.node_statuses)
        if status is not None and status.code != Code.SUCCESS and status.message:
            fit.diagnosis.post_filter_message = status.message
        if nominated:
            self.queue.add_nominated(pod, nominated)
        return nominated

    # -- binding ---------------------------------------------------------------------------------

    async def _bind(self: Scheduler, profile: Profile, state: CycleState, qp: QueuedPod, pod: PodInfo,
                    node: str) -> None:
        async with self._binding_slots:
            try:
                status = await profile.run_pre_bind(state, pod, node) or await profile.run_bind(state, pod, node)
            except Exception as e:  # noqa: BLE001 - a connection lost mid-bind: retry the pod
                status = Status(Code.ERROR, f"binding failed: {e}")
        if status is None:
            self.stats.bound += 1
            self.queue.done(pod.key)
            await profile.run_post_bind(state, pod, node)
            self.record_event(pod.pod, "Normal", "Scheduled", f"Successfully assigned {pod.key} to {node}")
            return
        profile.run_unreserve(state, pod, node)
        self.cache.forget_pod(pod.key)
        if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            log.info("binding %s to %s refused (%s): dropping it", pod.key, node, status.message)
            self.queue.done(pod.key)
            return
        self.stats.errors += 1
        self.handle_failure(qp, status.message, SCHEDULER_ERROR_REASON, error=True)

    # -- failures --------------------------------------------------------------------------------

    def handle_failure(self: Scheduler, qp: QueuedPod, message: str, reason: str, *,
                       nominated: str | None = None, error: bool = False) -> None:
        self.stats.unschedulable += 0 if error else 1
        latest = self.pod_informer.get(qp.key)
        if latest is None or (latest.get("spec") or {}).get("nodeName"):
            self.queue.done(qp.key)  # deleted or bound meanwhile: nothing to retry
            return
        if latest is not qp.pod.pod:
            qp.pod = self.pod_info(latest)
        self.queue.add_unschedulable(qp, error=error)
        self.record_event(qp.pod.pod, "Warning", "FailedScheduling", message)
        self.spawn(self._update_condition(qp.pod, message, reason, nominated))

    async def _update_condition(self: Scheduler, pod: PodInfo, message: str, reason: str,
                                nominated: str | None) -> None:
        current = self.pod_informer.get(pod.key) or pod.pod
        status = current.get("status") or {}
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        same = (old is not None and old.get("status") == "False" and old.get("reason") == reason
                and old.get("message") == message)
        nominated_now = status.get("nominatedNodeName") or ""
        if same and (nominated is None or nominated == nominated_now):
            return
        condition: dict[str, Any] = {"type": "PodScheduled", "status": "False", "reason": reason,
                                     "message": message, "lastProbeTime": None}
        if old is None or old.get("status") != "False":
            condition["lastTransitionTime"] = format_rfc3339(self.clock.wall())
        patch: dict[str, Any] = {"status": {"conditions": [condition]}}
        if nominated is not None and nominated != nominated_now:
            patch["status"]["nominatedNodeName"] = nominated
        try:
            await self.client.patch(PODS, pod.name, patch, pod.namespace, patch_type="strategic",
                                    subresource="status")
        except ApiError as e:
            if e.code != 404:
                log.warning("updating the PodScheduled condition of %s failed: %s", pod.key, e)
