"""flowcontrol.apiserver.k8s.io: flowschemas and prioritylevelconfigurations, following
printFlowSchema and printPriorityLevelConfiguration in kubernetes
pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    dig,
    meta_name,
    name_column,
)

GROUP = "flowcontrol.apiserver.k8s.io"


def flowschema_cells(fs: dict, now: dt.datetime) -> list:
    spec = as_dict(fs.get("spec"))
    method = spec.get("distinguisherMethod")
    dangling = "?"
    for entry in as_list(dig(fs, "status", "conditions")):
        entry = as_dict(entry)
        if entry.get("type") == "Dangling":
            dangling = as_str(entry.get("status"))
            break
    return [
        meta_name(fs),
        as_str(dig(spec, "priorityLevelConfiguration", "name")),
        as_int(spec.get("matchingPrecedence")),
        as_str(as_dict(method).get("type")) if isinstance(method, dict) else "<none>",
        age(fs, now),
        dangling,
    ]


def prioritylevel_cells(pl: dict, now: dt.datetime) -> list:
    spec = as_dict(pl.get("spec"))
    shares = queues = hand_size = queue_length = "<none>"
    limited = spec.get("limited")
    if isinstance(limited, dict):
        shares = as_int(limited.get("nominalConcurrencyShares"))
        queuing = dig(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues = as_int(queuing.get("queues"))
            hand_size = as_int(queuing.get("handSize"))
            queue_length = as_int(queuing.get("queueLengthLimit"))
    return [meta_name(pl), as_str(spec.get("type")), shares, queues, hand_size, queue_length, age(pl, now)]


TABLES = {
    (GROUP, "flowschemas"): TableSpec(
        (
            name_column(),
            column("PriorityLevel", "The priority level requests of this schema go to."),
            column("MatchingPrecedence", "Lower values are matched first."),
            column("DistinguisherMethod", "How requests are split into flows."),
            age_column(),
            column("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
        ),
        flowschema_cells,
    ),
    (GROUP, "prioritylevelconfigurations"): TableSpec(
        (
            name_column(),
            column("Type", "Limited or Exempt."),
            column("NominalConcurrencyShares", "Share of the server's concurrency limit."),
            column("Queues", "Number of queues."),
            column("HandSize", "Queues considered per flow (shuffle sharding)."),
            column("QueueLengthLimit", "Maximum requests waiting in one queue."),
            age_column(),
        ),
        prioritylevel_cells,
    ),
}
