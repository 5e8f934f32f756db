"""The descriptor tables are consistent: every entry parses and every referenced type exists."""

from __future__ import annotations

import pytest

from kybernetes.api.protobuf import supported_kinds
from kybernetes.api.protobuf.messages import KINDS, MESSAGES
from kybernetes.api.protobuf.schema import SCALARS, WELL_KNOWN, SchemaError, message_spec, parse_field

REQUIRED_KINDS = {
    ("v1", k) for k in ("ConfigMap", "Secret", "Namespace", "Service", "ServiceAccount", "ResourceQuota")
} | {
    ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"), ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress"), ("authentication.k8s.io/v1", "TokenRequest"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
}


def test_every_kind_kubectl_create_sends_is_covered() -> None:
    assert REQUIRED_KINDS <= set(supported_kinds())


def test_message_fields_parse_and_reference_known_types() -> None:
    for name in MESSAGES:
        spec = message_spec(name)
        assert bool(spec.fields) == bool(MESSAGES[name].strip()), name  # empty marker structs exist
        for field in spec.fields:
            assert field.type in SCALARS or field.type in WELL_KNOWN or field.type in MESSAGES, (name, field)
            assert not (field.inline and not field.is_message), (name, field)
            assert not (field.repeated and field.is_map), (name, field)


def test_every_kind_points_at_a_message_with_metadata() -> None:
    for (api_version, kind), name in KINDS.items():
        spec = message_spec(name)
        assert spec.by_number[1].json_name == "metadata", (api_version, kind)


def test_message_graph_has_no_cycles() -> None:
    # Depth is then bounded by the tables, not by the bytes a client sends.
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name in done:
            return
        for field in message_spec(name).fields:
            if field.is_message:
                visit(field.type, (*path, name))
        done.add(name)

    for name in MESSAGES:
        visit(name, ())


@pytest.mark.parametrize("entry", ["x:name:s", "1::s", "1:-:Foo", "1:name:^", "1:name:"])
def test_malformed_entries_are_rejected(entry: str) -> None:
    with pytest.raises(SchemaError):
        parse_field(entry)


def test_flags_parse() -> None:
    field = parse_field("7:extra:{[s]}")
    assert field.is_map and field.is_wrapper and field.type == "s"
    field = parse_field("1:-:ProbeHandler^")
    assert field.inline and field.json_name == ""
    field = parse_field("1:replicas:i32?")
    assert field.pointer and not field.always
