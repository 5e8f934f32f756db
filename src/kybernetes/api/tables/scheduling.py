"""scheduling.k8s.io and node.k8s.io: priorityclasses and runtimeclasses, following
printPriorityClass and printRuntimeClass in kubernetes pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_int,
    as_str,
    column,
    meta_name,
    name_column,
)


def priorityclass_cells(pc: dict, now: dt.datetime) -> list:
    global_default = pc.get("globalDefault")
    return [
        meta_name(pc),
        as_int(pc.get("value")),
        global_default if isinstance(global_default, bool) else False,
        age(pc, now),
        # Defaulted to PreemptLowerPriority by the server.
        as_str(pc.get("preemptionPolicy")) or "PreemptLowerPriority",
    ]


def runtimeclass_cells(rc: dict, now: dt.datetime) -> list:
    return [meta_name(rc), as_str(rc.get("handler")), age(rc, now)]


TABLES = {
    ("scheduling.k8s.io", "priorityclasses"): TableSpec(
        (
            name_column(),
            column("Value", "Priority of pods using this class; higher is more important.", type="integer"),
            column("Global-Default", "Whether pods without a class get this one.", type="boolean"),
            age_column(),
            column("PreemptionPolicy", "Whether pods of this class may preempt lower-priority pods."),
        ),
        priorityclass_cells,
    ),
    ("node.k8s.io", "runtimeclasses"): TableSpec(
        (name_column(), column("Handler", "The CRI handler that runs pods of this class."), age_column()),
        runtimeclass_cells,
    ),
}
