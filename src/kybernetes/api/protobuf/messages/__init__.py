"""Descriptor tables for the Kubernetes API messages, one module per API group.

Each module holds ``MESSAGES`` (message name -> field list) and, where it defines top-level kinds,
``KINDS`` ((apiVersion, kind) -> message name). The field lists use a compact notation read by
``kybernetes.api.protobuf.schema``; one entry per field, space separated::

    NUMBER:JSON_NAME:TYPE[FLAGS]

TYPE is a scalar (``s`` string, ``b`` bytes, ``bool``, ``i32``, ``i64``, ``u32``, ``u64``, ``f32``,
``f64``), a well-known type (``Time``, ``MicroTime``, ``Duration``, ``Quantity``, ``IntOrString``,
``RawExtension``, ``FieldsV1``), another message's name, ``{T}`` for a map with string keys, or
``[T]`` for a named-slice wrapper message (``{1: repeated T}`` on the wire, a plain list in JSON).
FLAGS: ``*`` repeated; ``?`` a Go pointer (emitted whenever present, even when zero); ``!`` a Go
field without omitempty (emitted even when zero); ``^`` an embedded struct whose fields JSON
inlines into the parent (its JSON_NAME is ``-``).

Field numbers and names are those of the k8s.io/api and apimachinery Go types (their protobuf
struct tags); JSON names and pointer/omitempty flags come from the same Go fields, so the decoder
can reproduce what encoding/json would have written for the same object.
"""

from __future__ import annotations

from kybernetes.api.protobuf.messages import (
    apps,
    auth,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    core_pod,
    core_volumes,
    meta,
    networking,
    policy,
    rbac,
    scheduling,
)

_MODULES = (meta, core, core_pod, core_volumes, apps, batch, rbac, policy, networking, scheduling, auth,
            autoscaling, certificates, coordination)


def _merge_messages() -> dict[str, str]:
    merged: dict[str, str] = {}
    for module in _MODULES:
        for name, spec in module.MESSAGES.items():
            if name in merged:
                raise RuntimeError(f"protobuf message {name!r} is defined twice ({module.__name__})")
            merged[name] = spec
    return merged


def _merge_kinds() -> dict[tuple[str, str], str]:
    merged: dict[tuple[str, str], str] = {}
    for module in _MODULES:
        merged.update(getattr(module, "KINDS", {}))
    return merged


MESSAGES: dict[str, str] = _merge_messages()
KINDS: dict[tuple[str, str], str] = _merge_kinds()
