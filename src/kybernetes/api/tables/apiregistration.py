"""apiregistration.k8s.io: apiservices, following the aggregator's APIService table
(kube-aggregator pkg/registry/apiservice): SERVICE is "Local" or "namespace/name"; AVAILABLE is
the Available condition's status, with its reason in parentheses when not True.
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
    condition,
    meta_name,
    name_column,
)


def apiservice_cells(svc: dict, now: dt.datetime) -> list:
    backend = as_dict(svc.get("spec")).get("service")
    service = "Local"
    if isinstance(backend, dict):
        service = f"{as_str(backend.get('namespace'))}/{as_str(backend.get('name'))}"
    available = "Unknown"
    entry = condition(svc, "Available")
    if entry is not None:
        status, reason = as_str(entry.get("status")), as_str(entry.get("reason"))
        available = f"{status} ({reason})" if status != "True" and reason else status
    return [meta_name(svc), service, available, age(svc, now)]


TABLES = {
    ("apiregistration.k8s.io", "apiservices"): TableSpec(
        (
            name_column(),
            column("Service", "The reference to the service that hosts this API endpoint."),
            column("Available", "Whether this service is available."),
            age_column(),
        ),
        apiservice_cells,
    ),
}
