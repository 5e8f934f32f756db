"""coordination.k8s.io: leases and lease candidates, following printLease and
printLeaseCandidate in kubernetes pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_str,
    column,
    meta_name,
    name_column,
)


def lease_cells(lease: dict, now: dt.datetime) -> list:
    return [meta_name(lease), as_str(as_dict(lease.get("spec")).get("holderIdentity")), age(lease, now)]


def leasecandidate_cells(candidate: dict, now: dt.datetime) -> list:
    spec = as_dict(candidate.get("spec"))
    return [
        meta_name(candidate),
        as_str(spec.get("leaseName")),
        as_str(spec.get("binaryVersion")),
        as_str(spec.get("emulationVersion")),
        age(candidate, now),
    ]


TABLES = {
    ("coordination.k8s.io", "leases"): TableSpec(
        (name_column(), column("Holder", "Identity of the current holder of the lease."), age_column()),
        lease_cells,
    ),
    ("coordination.k8s.io", "leasecandidates"): TableSpec(
        (
            name_column(),
            column("LeaseName", "The lease the candidate competes for."),
            column("BinaryVersion", "Binary version of the candidate."),
            column("EmulationVersion", "Emulated version of the candidate."),
            age_column(),
        ),
        leasecandidate_cells,
    ),
}
