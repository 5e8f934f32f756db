"""The downward API: a pod's own fields and its containers' resources, as text.

Shared by env vars (``valueFrom.fieldRef`` / ``resourceFieldRef``) and downwardAPI and projected
volumes. The rules are Kubernetes':

    metadata.name | namespace | uid           the value
    metadata.labels['k'] | annotations['k']   one value ("" when absent)
    metadata.labels | metadata.annotations    volumes only: sorted ``k="v"`` lines, Go-quoted
    spec.nodeName | spec.serviceAccountName   the value
    status.podIP | hostIP                     the first address; podIPs | hostIPs: comma-joined

The pod's IPs come from the sandbox the kubelet just made (the pod's status may not carry them
yet), so they are passed in. A resource is a container's limit or request divided by ``divisor``
and rounded up; a limit the container does not set is the node's allocatable, as upstream.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")
SUPPORTED_VOLUME_FIELDS = ("metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels",
                           "metadata.annotations")
RESOURCES = ("limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory",
             "requests.ephemeral-storage")


class DownwardError(ValueError):
    """A field path or resource the downward API does not expose."""


@dataclass(frozen=True)
class PodFacts:
    """What the kubelet knows about the pod beyond its object."""

    pod_ips: tuple[str, ...] = ()
    host_ips: tuple[str, ...] = ()
    node_allocatable: dict[str, str] = field(default_factory=dict)


def format_map(values: dict[str, Any]) -> str:
    """Labels or annotations as a downwardAPI file shows them: sorted ``key="value"`` lines."""
    return "\n".join(f"{k}={json.dumps(str(values[k]), ensure_ascii=False)}" for k in sorted(values))


def field_value(pod: Obj, path: str, facts: PodFacts = PodFacts(), *, whole_maps: bool = False) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1]) or "")
    if path == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "")
    if path in ("status.podIP", "status.podIPs"):
        ips = list(facts.pod_ips) or [ip.get("ip", "") for ip in status.get("podIPs") or []] or \
            ([status["podIP"]] if status.get("podIP") else [])
        return (ips[0] if ips else "") if path == "status.podIP" else ",".join(ips)
    if path in ("status.hostIP", "status.hostIPs"):
        ips = list(facts.host_ips) or [ip.get("ip", "") for ip in status.get("hostIPs") or []] or \
            ([status["hostIP"]] if status.get("hostIP") else [])
        return (ips[0] if ips else "") if path == "status.hostIP" else ",".join(ips)
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if whole_maps and path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".", 1)[1]) or {})
    raise DownwardError(f'unsupported fieldPath: "{path}"')


def _container(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    return None


def _quantity(text: Any, what: str) -> Fraction:
    try:
        return parse_quantity(text).value
    except QuantityError:
        raise DownwardError(f"invalid quantity {text!r} for {what}") from None


def resource_value(pod: Obj, ref: Obj, facts: PodFacts = PodFacts(), *, default_container: str = "") -> str:
    """A resourceFieldRef's value: the quantity divided by the divisor, rounded up."""
    resource = ref.get("resource") or ""
    name = ref.get("containerName") or default_container
    container = _container(pod, name)
    if container is None:
        raise DownwardError(f"container {name!r} not found in the pod")
    if resource not in RESOURCES:
        raise DownwardError(f'unsupported container resource : "{resource}"')
    kind, _, what = resource.partition(".")
    declared = ((container.get("resources") or {}).get(kind) or {}).get(what)
    if declared is None and kind == "limits":
        declared = facts.node_allocatable.get(what)
    value = _quantity(declared, resource) if declared is not None else Fraction(0)
    divisor = _quantity(ref.get("divisor") or "1", "divisor")
    if divisor <= 0:
        raise DownwardError(f"divisor {ref.get('divisor')!r} must be positive")
    if what == "cpu":
        # CPU is counted in millicores first, as upstream, so 250m / 1 is 1 and 250m / 1m is 250.
        return str(math.ceil(math.ceil(value * 1000) / math.ceil(divisor * 1000)))
    return str(math.ceil(math.ceil(value) / math.ceil(divisor)))
