"""rbac.authorization.k8s.io/v1: rolebindings and clusterrolebindings, following
printRoleBinding and printClusterRoleBinding in kubernetes
pkg/printers/internalversion/printers.go. Roles and ClusterRoles have no printer upstream and
use the default table (NAME, CREATED AT; see __init__).
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_list,
    as_str,
    column,
    meta_name,
    name_column,
)


def subjects_by_kind(subjects: list) -> tuple[list[str], list[str], list[str]]:
    """(users, groups, service accounts as namespace/name), like rbac.SubjectsStrings."""
    users, groups, accounts = [], [], []
    for subject in subjects:
        subject = as_dict(subject)
        kind, name = subject.get("kind"), as_str(subject.get("name"))
        if kind == "ServiceAccount":
            accounts.append(f"{as_str(subject.get('namespace'))}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return users, groups, accounts


def binding_cells(binding: dict, now: dt.datetime) -> list:
    ref = as_dict(binding.get("roleRef"))
    users, groups, accounts = subjects_by_kind(as_list(binding.get("subjects")))
    return [
        meta_name(binding),
        f"{as_str(ref.get('kind'))}/{as_str(ref.get('name'))}",
        age(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _binding_columns(kind: str) -> tuple[dict, ...]:
    return (
        name_column(),
        column("Role", "The role the binding grants (kind/name)."),
        age_column(),
        column("Users", f"Users in the {kind}", priority=1),
        column("Groups", f"Groups in the {kind}", priority=1),
        column("ServiceAccounts", f"ServiceAccounts in the {kind}", priority=1),
    )


TABLES = {
    ("rbac.authorization.k8s.io", "rolebindings"): TableSpec(_binding_columns("roleBinding"), binding_cells),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): TableSpec(
        _binding_columns("clusterRoleBinding"), binding_cells
    ),
}
