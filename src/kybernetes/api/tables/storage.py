"""storage.k8s.io/v1: storageclasses, csidrivers, csinodes, volumeattachments,
csistoragecapacities and volumeattributesclasses, following printStorageClass, printCSIDriver,
printCSINode, printVolumeAttachment, printCSIStorageCapacity and printVolumeAttributesClass in
kubernetes pkg/printers/internalversion/printers.go.

A default StorageClass prints its name with " (default)" appended. Unset optional fields print
their defaults (reclaim Delete, binding Immediate, attachRequired true, ...), as upstream does.
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
    dig,
    meta_name,
    name_column,
)
from kybernetes.api.tables.quantity_text import canonical_quantity

_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_DEFAULT_ATTRIBUTES_CLASS = (
    "storage.kubernetes.io/is-default-class",
    "storage.beta.kubernetes.io/is-default-class",
)


def _flag(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _marked_default(obj: dict, annotations_keys: tuple[str, ...]) -> bool:
    annotations = as_dict(dig(obj, "metadata", "annotations"))
    return any(annotations.get(key) == "true" for key in annotations_keys)


def storageclass_cells(sc: dict, now: dt.datetime) -> list:
    name = meta_name(sc) + (" (default)" if _marked_default(sc, _DEFAULT_CLASS) else "")
    return [
        name,
        as_str(sc.get("provisioner")),
        as_str(sc.get("reclaimPolicy")) or "Delete",
        as_str(sc.get("volumeBindingMode")) or "Immediate",
        _flag(sc.get("allowVolumeExpansion"), False),
        age(sc, now),
    ]


def volumeattributesclass_cells(vac: dict, now: dt.datetime) -> list:
    name = meta_name(vac) + (" (default)" if _marked_default(vac, _DEFAULT_ATTRIBUTES_CLASS) else "")
    return [name, as_str(vac.get("driverName")), age(vac, now)]


def csidriver_cells(driver: dict, now: dt.datetime) -> list:
    spec = as_dict(driver.get("spec"))
    modes = ",".join(as_str(m) for m in as_list(spec.get("volumeLifecycleModes"))) or "<none>"
    token_requests = "<unset>"
    if isinstance(spec.get("tokenRequests"), list):
        token_requests = ",".join(as_str(as_dict(t).get("audience")) for t in spec["tokenRequests"])
    return [
        meta_name(driver),
        _flag(spec.get("attachRequired"), True),
        _flag(spec.get("podInfoOnMount"), False),
        _flag(spec.get("storageCapacity"), False),
        token_requests,
        _flag(spec.get("requiresRepublish"), False),
        modes,
        age(driver, now),
    ]


def csinode_cells(node: dict, now: dt.datetime) -> list:
    return [meta_name(node), len(as_list(dig(node, "spec", "drivers"))), age(node, now)]


def volumeattachment_cells(va: dict, now: dt.datetime) -> list:
    spec = as_dict(va.get("spec"))
    return [
        meta_name(va),
        as_str(spec.get("attacher")),
        as_str(dig(spec, "source", "persistentVolumeName")),
        as_str(spec.get("nodeName")),
        _flag(dig(va, "status", "attached"), False),
        age(va, now),
    ]


def csistoragecapacity_cells(cap: dict, now: dt.datetime) -> list:
    capacity = cap.get("capacity")
    return [
        meta_name(cap),
        as_str(cap.get("storageClassName")),
        "<unset>" if capacity is None else canonical_quantity(capacity),
    ]


TABLES = {
    ("storage.k8s.io", "storageclasses"): TableSpec(
        (
            name_column(),
            column("Provisioner", "The volume plugin or CSI driver that provisions volumes."),
            column("ReclaimPolicy", "What happens to provisioned volumes when released."),
            column("VolumeBindingMode", "When volumes are bound and provisioned."),
            column("AllowVolumeExpansion", "Whether claims of this class can grow."),
            age_column(),
        ),
        storageclass_cells,
    ),
    ("storage.k8s.io", "volumeattributesclasses"): TableSpec(
        (name_column(), column("DriverName", "The CSI driver the class applies to."), age_column()),
        volumeattributesclass_cells,
    ),
    ("storage.k8s.io", "csidrivers"): TableSpec(
        (
            name_column(),
            column("AttachRequired", "Whether volumes need an attach step.", type="boolean"),
            column("PodInfoOnMount", "Whether pod information is passed on mount.", type="boolean"),
            column("StorageCapacity", "Whether the scheduler considers storage capacity.", type="boolean"),
            column("TokenRequests", "Audiences of service account tokens passed to the driver."),
            column("RequiresRepublish", "Whether NodePublishVolume is called periodically.", type="boolean"),
            column("Modes", "Volume lifecycle modes the driver supports."),
            age_column(),
        ),
        csidriver_cells,
    ),
    ("storage.k8s.io", "csinodes"): TableSpec(
        (
            name_column(),
            column(
                "Drivers",
                "Drivers indicates the number of CSI drivers registered on the node",
                type="integer",
            ),
            age_column(),
        ),
        csinode_cells,
    ),
    ("storage.k8s.io", "volumeattachments"): TableSpec(
        (
            name_column(),
            # Upstream marks this column with format "name" too.
            column("Attacher", "The driver that attaches the volume.", format="name"),
            column("PV", "The persistent volume being attached."),
            column("Node", "The node the volume is attached to."),
            column("Attached", "Whether the attach operation succeeded.", type="boolean"),
            age_column(),
        ),
        volumeattachment_cells,
    ),
    ("storage.k8s.io", "csistoragecapacities"): TableSpec(
        (
            name_column(),
            column("StorageClassName", "The storage class the capacity was reported for."),
            column("Capacity", "Available capacity."),
        ),
        csistoragecapacity_cells,
    ),
}
