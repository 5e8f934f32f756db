"""Pure helpers of the Deployment controller (Kubernetes' deployment/util): no I/O here.

    template_hash(template, collision_count)   the pod-template-hash label: FNV-32a over the
                                               template's canonical JSON, written with the
                                               alphabet of generated names (SafeEncodeString)
    equal_ignore_hash(t1, t2)                  "is this ReplicaSet's template the Deployment's?"
    resolve_fenceposts / max_surge / max_unavailable   maxSurge rounds up, maxUnavailable down
    revision / max_revision / annotations      deployment.kubernetes.io/* bookkeeping
    conditions                                 Progressing, Available, ReplicaFailure
    deployment_complete / _progressing / _timed_out   what the Progressing condition says
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import orjson

from kybernetes.api.meta import GENERATE_NAME_ALPHABET, format_rfc3339, parse_rfc3339

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# -- the template hash -----------------------------------------------------------------------------

def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Map each character onto consonants and digits, so the result never spells words."""
    return "".join(GENERATE_NAME_ALPHABET[ord(c) % len(GENERATE_NAME_ALPHABET)] for c in text)


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    data = orjson.dumps(_semantic(template) or {}, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += int(collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))


def _semantic(value: Any) -> Any:
    """Drop empty maps and lists (and nulls): Kubernetes compares nil and empty as equal."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _without_hash(template: Obj | None) -> Any:
    t = _semantic(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict) and HASH_LABEL in labels:
        labels = {k: v for k, v in labels.items() if k != HASH_LABEL}
        t["metadata"] = {**t["metadata"], "labels": labels}
    return _semantic(t)


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    return _without_hash(t1) == _without_hash(t2)


# -- numbers ---------------------------------------------------------------------------------------

def replicas_of(obj: Obj | None) -> int:
    value = ((obj or {}).get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString (3 or "25%") against ``total``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    try:
        return int(text)
    except ValueError:
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from None


def is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods; both 0 would deadlock, so unavailable becomes 1."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    desired = replicas_of(d)
    if not is_rolling(d) or desired == 0:
        return 0
    return min(resolve_fenceposts(d)[1], desired)


def has_progress_deadline(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and int(value) != MAX_INT32


# -- revisions and annotations ---------------------------------------------------------------------

def annotations(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def revision(obj: Obj | None) -> int:
    try:
        return int(annotations(obj or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    ann = annotations(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copy the Deployment's annotations, raise the revision (keeping the old one in
    revision-history), and for a new ReplicaSet set desired/max replicas. True if changed."""
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in annotations(d).items():
        if key not in NOT_COPIED and ann.get(key) != value:
            ann[key] = value
            changed = True
    old = ann.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION] = new_revision
        changed = True
        if old:
            history = ann.get(REVISION_HISTORY) or ""
            entries = history.split(",") if history else []
            total = len(history) + len(old) + 1
            while total > MAX_REVISION_HISTORY_CHARS and entries:
                total -= len(entries.pop(0)) + 1
            if total <= MAX_REVISION_HISTORY_CHARS:
                ann[REVISION_HISTORY] = ",".join([*entries, old])
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


# -- conditions ------------------------------------------------------------------------------------

def get_condition(status: Obj, cond_type: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == cond_type:
            return cond
    return None


def new_condition(cond_type: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_rfc3339(now)
    return {"type": cond_type, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(status: Obj, cond: Obj) -> None:
    """Replace the condition of that type, unless status and reason are unchanged; keep the
    transition time when only the reason changed."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime", cond["lastTransitionTime"])}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, cond_type: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != cond_type]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def deployment_complete(d: Obj, status: Obj) -> bool:
    desired = replicas_of(d)
    return (int(status.get("updatedReplicas") or 0) == desired and int(status.get("replicas") or 0) == desired
            and int(status.get("availableReplicas") or 0) == desired
            and int(status.get("observedGeneration") or 0) >= int((d.get("metadata") or {}).get("generation") or 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}

    def n(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    return (n(status, "updatedReplicas") > n(old, "updatedReplicas")
            or n(status, "replicas") - n(status, "updatedReplicas") < n(old, "replicas") - n(old, "updatedReplicas")
            or n(status, "readyReplicas") > n(old, "readyReplicas")
            or n(status, "availableReplicas") > n(old, "availableReplicas"))


def progress_deadline_at(d: Obj, status: Obj) -> datetime | None:
    """When the Progressing condition runs out of time (None: no deadline applies)."""
    if not has_progress_deadline(d):
        return None
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    try:
        since = parse_rfc3339(cond.get("lastUpdateTime") or "")
    except ValueError:
        return None
    return since + timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"]))


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    cond = get_condition(status, PROGRESSING)
    if not has_progress_deadline(d) or cond is None:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    deadline = progress_deadline_at(d, status)
    return deadline is not None and deadline < now


# -- sorting ReplicaSets ---------------------------------------------------------------------------

def _created(rs: Obj) -> str:
    return (rs.get("metadata") or {}).get("creationTimestamp") or ""


def by_creation(rss: list[Obj], newest_first: bool = False) -> list[Obj]:
    key = [(_created(rs), (rs.get("metadata") or {}).get("name", ""), i) for i, rs in enumerate(rss)]
    order = sorted(range(len(rss)), key=lambda i: key[i][:2], reverse=newest_first)
    return [rss[i] for i in order]


def by_revision(rss: list[Obj]) -> list[Obj]:
    return sorted(rss, key=lambda rs: (revision(rs), _created(rs), (rs.get("metadata") or {}).get("name", "")))


def by_size(rss: list[Obj], newer_first: bool) -> list[Obj]:
    """Largest first; equal sizes newer first (scaling up) or older first (scaling down)."""
    ordered = by_creation(rss, newest_first=newer_first)
    return sorted(ordered, key=lambda rs: -replicas_of(rs))


def active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def sum_spec(rss: list[Obj | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def sum_status(rss: list[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (ignoring the hash label)."""
    template = (d.get("spec") or {}).get("template")
    for rs in by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None
