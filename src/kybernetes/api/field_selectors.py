"""Field selectors: ``?fieldSelector=`` with =, == and != on the few fields a kind indexes.

Each kind allows only the fields the real server allows (``kubectl get pods --field-selector
spec.nodeName=n1`` works; ``status.hostIP`` does not), with the same error wording: kinds with
their own list say ``field label not supported: <field>``, the rest accept only metadata.name and
metadata.namespace. Values compare as the strings the real server indexes (booleans "true"/"false",
integers in decimal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

Getter = Callable[[dict[str, Any]], str | list[str]]


def _path(*keys: str) -> Getter:
    def get(obj: dict[str, Any]) -> str | list[str]:
        value: Any = obj
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return get


def _bool_path(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: inner(obj) or "false"


def _int_path(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: inner(obj) or "0"


def _pod_ips(obj: dict[str, Any]) -> list[str]:
    ips = [p.get("ip", "") for p in (obj.get("status") or {}).get("podIPs") or [] if isinstance(p, dict)]
    return ips or [""]


_META = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}

_CORE_EVENT = {
    **{f"involvedObject.{f}": _path("involvedObject", f)
       for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
    **_META,
}

_EVENTS_V1 = {
    **{f"regarding.{f}": _path("regarding", f)
       for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": _path("reason"),
    "reportingController": _path("reportingController"),
    "type": _path("type"),
    **_META,
}

# (group, resource) -> selectable fields, for kinds with their own list. The real server says
# "field label not supported" for these and "is not a known field selector" for all others.
SELECTABLE_FIELDS: dict[tuple[str, str], dict[str, Getter]] = {
    ("", "pods"): {
        **_META,
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _bool_path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.podIPs": _pod_ips,
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "nodes"): {"metadata.name": _META["metadata.name"], "spec.unschedulable": _bool_path("spec", "unschedulable")},
    ("", "replicationcontrollers"): {**_META, "status.replicas": _int_path("status", "replicas")},
    ("", "events"): _CORE_EVENT,
    ("", "namespaces"): {"metadata.name": _META["metadata.name"], "status.phase": _path("status", "phase")},
    ("", "secrets"): {**_META, "type": _path("type")},
    ("", "services"): {**_META, "spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
    ("apps", "replicasets"): {**_META, "status.replicas": _int_path("status", "replicas")},
    ("batch", "jobs"): {**_META, "status.successful": _int_path("status", "successful")},
    ("certificates.k8s.io", "certificatesigningrequests"): {
        "metadata.name": _META["metadata.name"], "spec.signerName": _path("spec", "signerName"),
    },
    ("events.k8s.io", "events"): _EVENTS_V1,
}

# Old clients send spec.host for a pod's node.
_ALIASES = {("", "pods"): {"spec.host": "spec.nodeName"}}


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str
    getter: Getter

    def matches(self, obj: dict[str, Any]) -> bool:
        have = self.getter(obj)
        hit = self.value in have if isinstance(have, list) else have == self.value
        return hit if self.operator == "=" else not hit

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{self.value}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def exact_name(self) -> str | None:
        """The name this selector pins with metadata.name=X (kubectl get X -w / wait), if any."""
        for r in self.requirements:
            if r.field == "metadata.name" and r.operator == "=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def _split_term(term: str) -> tuple[str, str, str] | None:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
        i += 1
    return None


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: {value[i:i + 2]}")
            out.append(value[i + 1])
            i += 2
            continue
        if c in ",=":
            raise bad_request(f"invalid field selector: unescaped character: {c}")
        out.append(c)
        i += 1
    return "".join(out)


def _getter_for(field: str, group: str, resource: str) -> Getter:
    field = _ALIASES.get((group, resource), {}).get(field, field)
    own = SELECTABLE_FIELDS.get((group, resource))
    if own is not None:
        if field not in own:
            raise bad_request(f"field label not supported: {field}")
        return own[field]
    if field not in _META:
        raise bad_request(f'"{field}" is not a known field selector: only "metadata.name", "metadata.namespace"')
    return _META[field]


def parse_field_selector(text: str | None, group: str, resource: str) -> FieldSelector:
    """Parse ``fieldSelector`` for a resource; raise a 400 BadRequest ApiError if it is not usable."""
    if not text:
        return FieldSelector()
    requirements = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = split
        field = _unescape(lhs)
        aliased = _ALIASES.get((group, resource), {}).get(field, field)
        requirements.append(FieldRequirement(aliased, "!=" if op == "!=" else "=", _unescape(rhs),
                                             _getter_for(field, group, resource)))
    return FieldSelector(tuple(requirements))
