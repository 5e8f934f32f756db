"""policy/v1: poddisruptionbudgets, following printPodDisruptionBudget in kubernetes
pkg/printers/internalversion/printers.go ("N/A" for whichever bound is unset).
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    column,
    dig,
    int_or_string,
    meta_name,
    name_column,
)


def pdb_cells(pdb: dict, now: dt.datetime) -> list:
    spec = as_dict(pdb.get("spec"))
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        meta_name(pdb),
        "N/A" if low is None else int_or_string(low),
        "N/A" if high is None else int_or_string(high),
        as_int(dig(pdb, "status", "disruptionsAllowed")),
        age(pdb, now),
    ]


TABLES = {
    ("policy", "poddisruptionbudgets"): TableSpec(
        (
            name_column(),
            column("Min Available", "The minimum number of pods that must be available."),
            column("Max Unavailable", "The maximum number of pods that may be unavailable."),
            column(
                "Allowed Disruptions",
                "Calculated number of pods that may be disrupted at this time.",
                type="integer",
            ),
            age_column(),
        ),
        pdb_cells,
    ),
}
