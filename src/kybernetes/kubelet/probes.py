"""Probes: whether a container is started (startupProbe) and ready (readinessProbe).

The pod worker asks a ``Prober`` about each running container; the answer says the result now
and, while it may still change, when to ask again. Real nodes will run exec, HTTP, TCP and gRPC
probes on each container's period (issue 5); simulated nodes answer from the clock:

- no probe: started and ready as soon as the container runs (as Kubernetes does);
- a startupProbe passes at startedAt + initialDelaySeconds (its first probe);
- a readinessProbe passes at its first probe after the container started, at
  startedAt + initialDelaySeconds, and never while the pod is annotated
  ``sim.kybernetes.io/ready: "false"`` (to hold a pod unready: PDBs, endpoints, rollouts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Obj = dict[str, Any]

SIM_READY = "sim.kybernetes.io/ready"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    recheck_in: float | None = None  # seconds until the answer may change; None: it will not


class Prober(Protocol):
    def started(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult: ...

    def ready(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult: ...


def _initial_delay(probe: Obj) -> float:
    try:
        return max(float(probe.get("initialDelaySeconds") or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


class SimulatedProber:
    def started(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult:
        probe = container.get("startupProbe")
        if not probe:
            return ProbeResult(True)
        delay = _initial_delay(probe)
        return ProbeResult(True) if running_for >= delay else ProbeResult(False, delay - running_for)

    def ready(self, pod: Obj, container: Obj, running_for: float) -> ProbeResult:
        if container.get("restartPolicy") == "Always" and not container.get("readinessProbe"):
            return self.started(pod, container, running_for)  # a sidecar without a probe: ready once started
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(SIM_READY, "")).lower() == "false":
            return ProbeResult(False)  # a pod update (the annotation removed) syncs the pod again
        probe = container.get("readinessProbe")
        started = self.started(pod, container, running_for)
        if not probe:
            return started
        if not started.ok:
            return started
        delay = _initial_delay(probe)
        return ProbeResult(True) if running_for >= delay else ProbeResult(False, delay - running_for)
