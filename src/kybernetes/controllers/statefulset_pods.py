"""A StatefulSet's pods and claims: stable identity, ordinals and storage (stateful_set_utils).

Every pod of set "web" is named "web-<ordinal>" for ordinals start .. start+replicas-1
(spec.ordinals.start, default 0), and keeps that identity across re-creation:

    metadata.name       web-2          labels  statefulset.kubernetes.io/pod-name: web-2
    spec.hostname       web-2                  apps.kubernetes.io/pod-index: "2"
    spec.subdomain      spec.serviceName       controller-revision-hash: <revision name>
    volumes             one per volumeClaimTemplate, claim "<template>-web-2"

PersistentVolumeClaims outlive pods; who owns them follows
spec.persistentVolumeClaimRetentionPolicy (whenDeleted / whenScaled, Retain by default):

    Retain / Retain   no owner: claims stay forever
    whenDeleted=Delete  the set controls the claim: the garbage collector removes it with the set
    whenScaled=Delete   a pod scaled away (ordinal out of range) controls its claim, so the
                        claim goes with that pod

Everything here is pure: objects in, objects or answers out.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api.meta import deep_copy
from kybernetes.controllers import podutil
from kybernetes.controllers.controllerrevision import REVISION_HASH_LABEL

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN, DELETE = "Retain", "Delete"
PARALLEL = "Parallel"
ROLLING_UPDATE, ON_DELETE = "RollingUpdate", "OnDelete"

_ORDINAL_NAME = re.compile(r"^(.*)-([0-9]+)$")


# -- names and ordinals ----------------------------------------------------------------------------

def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """("web", 2) for "web-2"; ("", -1) for a name that is not "<set>-<number>"."""
    match = _ORDINAL_NAME.match((pod.get("metadata") or {}).get("name") or "")
    if match is None:
        return "", -1
    ordinal = int(match.group(2))
    return match.group(1), (ordinal if ordinal < 2**31 else -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def is_member_of(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod)[0] == (sts.get("metadata") or {}).get("name")


def replicas_of(sts: Obj) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def start_ordinal(sts: Obj) -> int:
    ordinals = (sts.get("spec") or {}).get("ordinals") or {}
    return int(ordinals.get("start") or 0)


def end_ordinal(sts: Obj) -> int:
    return start_ordinal(sts) + replicas_of(sts) - 1


def in_ordinal_range(pod: Obj, sts: Obj) -> bool:
    return start_ordinal(sts) <= ordinal_of(pod) <= end_ordinal(sts)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{(sts.get('metadata') or {}).get('name', '')}-{ordinal}"


def claim_name(sts: Obj, template: Obj, ordinal: int) -> str:
    return f"{(template.get('metadata') or {}).get('name', '')}-{(sts.get('metadata') or {}).get('name', '')}-{ordinal}"


def pod_revision(pod: Obj) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_HASH_LABEL, "")


def allows_burst(sts: Obj) -> bool:
    return (sts.get("spec") or {}).get("podManagementPolicy") == PARALLEL


def update_strategy(sts: Obj) -> Obj:
    return (sts.get("spec") or {}).get("updateStrategy") or {}


def partition(sts: Obj) -> int:
    rolling = update_strategy(sts).get("rollingUpdate") or {}
    return int(rolling.get("partition") or 0)


# -- pod states ------------------------------------------------------------------------------------

def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_created(pod: Obj) -> bool:
    """The apiserver has it (a pod we are about to create has no phase yet)."""
    return phase(pod) != ""


def is_running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and podutil.is_pod_ready(pod)


def is_available(pod: Obj, min_ready_seconds: int, now: Any) -> bool:
    return podutil.is_pod_available(pod, min_ready_seconds, now)


def is_unavailable(pod: Obj, min_ready_seconds: int, now: Any) -> bool:
    return not is_available(pod, min_ready_seconds, now) or podutil.is_terminating(pod)


# -- identity and storage --------------------------------------------------------------------------

def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    meta, smeta = pod.get("metadata") or {}, sts.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (ordinal >= 0 and parent == smeta.get("name") and meta.get("name") == pod_name(sts, ordinal)
            and meta.get("namespace") == smeta.get("namespace") and labels.get(POD_NAME_LABEL) == meta.get("name")
            and labels.get(POD_INDEX_LABEL) == str(ordinal))


def update_identity(sts: Obj, pod: Obj) -> None:
    ordinal = ordinal_of(pod)
    meta = pod.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    if (sts.get("metadata") or {}).get("namespace"):
        meta["namespace"] = sts["metadata"]["namespace"]
    labels = meta.get("labels") or {}
    meta["labels"] = labels
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def claim_templates(sts: Obj) -> list[Obj]:
    return [t for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def storage_matches(sts: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or [] if isinstance(v, dict)}
    for template in claim_templates(sts):
        volume = volumes.get((template.get("metadata") or {}).get("name"))
        source = (volume or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim_name(sts, template, ordinal):
            return False
    return True


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """The claims a pod of ``ordinal`` uses, by template name: each template under its pod-specific
    name, labelled with the template's labels and the set's matchLabels."""
    smeta = sts.get("metadata") or {}
    match_labels = (((sts.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    claims: dict[str, Obj] = {}
    for template in claim_templates(sts):
        claim = deep_copy(template)
        claim.pop("status", None)
        meta = claim.get("metadata") or {}
        claim["metadata"] = meta
        tname = meta.get("name", "")
        meta["name"] = claim_name(sts, template, ordinal)
        if smeta.get("namespace"):
            meta["namespace"] = smeta["namespace"]
        meta["labels"] = {**(meta.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims[tname] = claim
    return claims


def update_storage(sts: Obj, pod: Obj) -> None:
    """Point the pod's claim volumes at its claims; other volumes stay, after them."""
    spec = pod.setdefault("spec", {})
    current = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    claims = claims_for(sts, ordinal_of(pod))
    volumes = [{"name": tname, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
               for tname, claim in claims.items()]
    volumes.extend(v for v in current if v.get("name") not in claims)
    if volumes:
        spec["volumes"] = volumes


def new_pod(sts: Obj, ordinal: int, revision: str) -> Obj:
    """The pod of ``ordinal`` for ``sts`` (as the revision's template has it), not yet created."""
    ref = podutil.new_controller_ref(sts, "apps/v1", "StatefulSet")
    pod = podutil.pod_from_template((sts.get("spec") or {}).get("template") or {}, sts, ref)
    pod["metadata"]["name"] = pod_name(sts, ordinal)
    update_identity(sts, pod)
    pod["metadata"]["labels"][REVISION_HASH_LABEL] = revision
    spec = pod["spec"]
    spec["hostname"] = pod["metadata"]["name"]
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    update_storage(sts, pod)
    return pod


def new_versioned_pod(current_set: Obj, update_set: Obj, current_revision: str, update_revision: str,
                      ordinal: int) -> Obj:
    """Below the partition (or, with no rollingUpdate block, below currentReplicas) a re-created
    pod keeps the current revision; above it the pod is made at the update revision."""
    strategy = update_strategy(current_set)
    start = start_ordinal(current_set)
    rolling = strategy.get("rollingUpdate")
    keep_current = False
    if strategy.get("type", ROLLING_UPDATE) == ROLLING_UPDATE:
        if rolling is None:
            current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
            keep_current = ordinal < start + current_replicas
        else:
            keep_current = ordinal < start + int(rolling.get("partition") or 0)
    if keep_current:
        return new_pod(current_set, ordinal, current_revision)
    return new_pod(update_set, ordinal, update_revision)


# -- claim ownership under the retention policy ----------------------------------------------------

def retention_policy(sts: Obj) -> tuple[str, str]:
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _refs(obj: Obj) -> list[Obj]:
    return [r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]


def _matches_ref(ref: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    return (ref.get("apiVersion") == api_version and ref.get("kind") == kind
            and ref.get("name") == (obj.get("metadata") or {}).get("name"))


def _uid(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("uid") or ""


def _has_ref(claim: Obj, owner: Obj) -> bool:
    uid = _uid(owner)
    return bool(uid) and any(r.get("uid") == uid for r in _refs(claim))


def _is_set_ref(ref: Obj, sts: Obj) -> bool:
    return _matches_ref(ref, sts, "apps/v1", "StatefulSet")


def _is_pod_ref(ref: Obj, pod: Obj) -> bool:
    return _matches_ref(ref, pod, "v1", "Pod")


def _has_stale_ref(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """A ref naming our set or pod with another uid: an earlier incarnation manages the claim."""
    for ref in _refs(claim):
        if _is_set_ref(ref, sts):
            return ref.get("uid") != _uid(sts)
    for ref in _refs(claim):
        if _is_pod_ref(ref, pod):
            return ref.get("uid") != _uid(pod)
    return False


def _has_unexpected_controller(claim: Obj, sts: Obj, pod: Obj) -> bool:
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False  # with Retain, another controller managing the claim is no concern of ours
    for ref in _refs(claim):
        if _is_set_ref(ref, sts):
            if ref.get("uid") != _uid(sts):
                return True
            continue
        if _is_pod_ref(ref, pod):
            if ref.get("uid") != _uid(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def claim_owner_up_to_date(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """Do the claim's ownerReferences already say what the retention policy wants?"""
    if _has_stale_ref(claim, sts, pod):
        return True  # leave it to the garbage collector
    if _has_unexpected_controller(claim, sts, pod):
        return not (_has_ref(claim, sts) or _has_ref(claim, pod))
    for ref in _refs(claim):
        if ref.get("uid") in (_uid(sts), _uid(pod)) and ref.get("uid") and not ref.get("controller"):
            return False
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    want_set = when_deleted == DELETE and not (when_scaled == DELETE and scaled_down)
    want_pod = when_scaled == DELETE and scaled_down
    return _has_ref(claim, sts) == want_set and _has_ref(claim, pod) == want_pod


def claim_owner_refs(claim: Obj, sts: Obj, pod: Obj) -> list[Obj]:
    """The claim's ownerReferences as the retention policy wants them."""
    unexpected = _has_unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim) if not (_is_set_ref(r, sts) or _is_pod_ref(r, pod))]
    if unexpected:
        return refs
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == DELETE and scaled_down and _uid(pod):
        refs.append(podutil.new_controller_ref(pod, "v1", "Pod"))
    elif when_deleted == DELETE and not (when_scaled == DELETE and scaled_down):
        refs.append(podutil.new_controller_ref(sts, "apps/v1", "StatefulSet"))
    return refs
