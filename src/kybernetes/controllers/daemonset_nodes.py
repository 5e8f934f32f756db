"""Which nodes a DaemonSet's pod belongs on, and how its pod is pinned there (daemon/util).

A node is eligible when the pod the DaemonSet would put there fits it:

    spec.template.spec.nodeName      empty, or this node
    nodeSelector + required node affinity   match the node's labels (and metadata.name fields)
    taints                           every NoSchedule / NoExecute taint tolerated

    should_run  = all three hold                      (a pod is wanted here)
    should_keep = name and affinity hold, and only NoSchedule taints are untolerated
                  (a pod already running may stay: NoSchedule does not evict)

Daemon pods tolerate the node-condition taints the node lifecycle controller sets, so a node
under pressure or briefly unreachable keeps its daemons (AddOrUpdateDaemonPodTolerations):
not-ready and unreachable (NoExecute), disk-, memory-, pid-pressure and unschedulable
(NoSchedule), and network-unavailable for host-network pods.

The pod is created with a required node affinity matchFields metadata.name In [<node>]
(replacing any required terms, which the node already satisfied), so the scheduler binds it
there; its target node is read back from spec.nodeName or that term.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.meta import deep_copy

Obj = dict[str, Any]

DAEMON_TOLERATIONS: list[Obj] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
HOST_NETWORK_TOLERATION: Obj = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                                "effect": "NoSchedule"}
NAME_FIELD = "metadata.name"


# -- tolerations -----------------------------------------------------------------------------------

def _same_toleration(a: Obj, b: Obj) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "value", "effect")) and \
        (a.get("operator") or "Equal") == (b.get("operator") or "Equal")


def add_daemon_tolerations(spec: Obj) -> None:
    """Add the daemon tolerations to a pod spec, replacing any equal ones (in place)."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    for toleration in wanted:
        for i, existing in enumerate(tolerations):
            if _same_toleration(existing, toleration):
                tolerations[i] = dict(toleration)
                break
        else:
            tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations


def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for taint in taints:
        if isinstance(taint, dict) and taint.get("effect") in effects and \
                not any(tolerates(t, taint) for t in tolerations if isinstance(t, dict)):
            return taint
    return None


# -- node selectors --------------------------------------------------------------------------------

def _requirement_matches(req: Obj, values: dict[str, str]) -> bool:
    key, op = req.get("key") or "", req.get("operator") or ""
    wanted = [str(v) for v in req.get("values") or []]
    present = key in values
    if op == "In":
        return present and values[key] in wanted
    if op == "NotIn":
        return not present or values[key] not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(wanted) != 1:
            return False
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def _term_matches(term: Obj, labels: dict[str, str], fields: dict[str, str]) -> bool:
    expressions = [e for e in term.get("matchExpressions") or [] if isinstance(e, dict)]
    field_reqs = [e for e in term.get("matchFields") or [] if isinstance(e, dict)]
    if not expressions and not field_reqs:
        return False  # an empty term selects nothing
    if any(f.get("key") != NAME_FIELD or f.get("operator") not in ("In", "NotIn") for f in field_reqs):
        return False
    return all(_requirement_matches(e, labels) for e in expressions) and \
        all(_requirement_matches(f, fields) for f in field_reqs)


def fits_node_affinity(pod_spec: Obj, node: Obj) -> bool:
    """nodeSelector and the required node affinity terms (ORed) both match ``node``."""
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    terms = [t for t in required.get("nodeSelectorTerms") or [] if isinstance(t, dict)]
    fields = {NAME_FIELD: meta.get("name", "")}
    return any(_term_matches(t, labels, fields) for t in terms)


# -- the daemon pod on a node ----------------------------------------------------------------------

def daemon_pod_spec(ds: Obj, node_name: str) -> Obj:
    """The spec the DaemonSet's pod would have on ``node_name`` (for the fit checks)."""
    spec = deep_copy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    spec["nodeName"] = node_name
    add_daemon_tolerations(spec)
    return spec


def node_should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(should_run, should_keep_running) for the DaemonSet's pod on ``node``."""
    node_name = (node.get("metadata") or {}).get("name", "")
    template_node = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeName")
    if template_node and template_node != node_name:
        return False, False
    spec = daemon_pod_spec(ds, node_name)
    if not fits_node_affinity(spec, node):
        return False, False
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    tolerations = spec.get("tolerations") or []
    if untolerated_taint(taints, tolerations, ("NoSchedule", "NoExecute")) is None:
        return True, True
    return False, untolerated_taint(taints, tolerations, ("NoExecute",)) is None


def pin_to_node(affinity: Obj | None, node_name: str) -> Obj:
    """``affinity`` with its required node terms replaced by metadata.name In [node_name]."""
    term = {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}
    out = deep_copy(affinity) if isinstance(affinity, dict) else {}
    node_affinity = out.get("nodeAffinity") if isinstance(out.get("nodeAffinity"), dict) else {}
    out["nodeAffinity"] = node_affinity
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        required = {}
    required["nodeSelectorTerms"] = [term]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    return out


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: spec.nodeName once bound, else its metadata.name term."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in (term or {}).get("matchFields") or []:
            values = (req or {}).get("values") or []
            if req.get("key") == NAME_FIELD and req.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""
