"""PersistentVolumes and PersistentVolumeClaims (core/v1), following printPersistentVolume and
printPersistentVolumeClaim in kubernetes pkg/printers/internalversion/printers.go.

Both show Terminating while deletion is pending (volumes are held by finalizers), the storage
class from the legacy beta annotation before spec.storageClassName, and access modes in the
fixed order RWO, ROX, RWX, RWOP. A claim shows capacity and modes only once it is bound.
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
    is_deleting,
    meta_name,
    name_column,
)
from kybernetes.api.tables.quantity_text import canonical_quantity

_MODE_ABBREVIATIONS = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def access_modes(modes: object) -> str:
    present = set(m for m in as_list(modes) if isinstance(m, str))
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in present)


def _storage_class(obj: dict, spec: dict) -> str:
    annotations = as_dict(dig(obj, "metadata", "annotations"))
    if _BETA_CLASS_ANNOTATION in annotations:
        return as_str(annotations[_BETA_CLASS_ANNOTATION])
    return as_str(spec.get("storageClassName"))


def _storage(resources: object) -> str:
    return canonical_quantity(as_dict(resources).get("storage", "0"))


def persistentvolume_cells(pv: dict, now: dt.datetime) -> list:
    spec, status = as_dict(pv.get("spec")), as_dict(pv.get("status"))
    claim = ""
    if isinstance(spec.get("claimRef"), dict):
        ref = spec["claimRef"]
        claim = f"{as_str(ref.get('namespace'))}/{as_str(ref.get('name'))}"
    phase = "Terminating" if is_deleting(pv) else as_str(status.get("phase")) or "Pending"
    return [
        meta_name(pv),
        _storage(spec.get("capacity")),
        access_modes(spec.get("accessModes")),
        as_str(spec.get("persistentVolumeReclaimPolicy")) or "Retain",
        phase,
        claim,
        _storage_class(pv, spec),
        as_str(spec.get("volumeAttributesClassName")) or "<unset>",
        as_str(status.get("reason")),
        age(pv, now),
        as_str(spec.get("volumeMode")) or "Filesystem",
    ]


def persistentvolumeclaim_cells(pvc: dict, now: dt.datetime) -> list:
    spec, status = as_dict(pvc.get("spec")), as_dict(pvc.get("status"))
    phase = "Terminating" if is_deleting(pvc) else as_str(status.get("phase")) or "Pending"
    volume = as_str(spec.get("volumeName"))
    capacity = modes = ""
    if volume:
        capacity = _storage(status.get("capacity"))
        modes = access_modes(status.get("accessModes"))
    return [
        meta_name(pvc),
        phase,
        volume,
        capacity,
        modes,
        _storage_class(pvc, spec),
        as_str(spec.get("volumeAttributesClassName")) or "<unset>",
        age(pvc, now),
        as_str(spec.get("volumeMode")) or "Filesystem",
    ]


PV_COLUMNS = (
    name_column(),
    column("Capacity", "Storage capacity of the volume."),
    column("Access Modes", "Ways the volume can be mounted."),
    column("Reclaim Policy", "What happens to the volume when its claim is released."),
    column("Status", "Phase of the volume."),
    column("Claim", "The claim bound to the volume (namespace/name)."),
    column("StorageClass", "StorageClass of the pv"),
    column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    column("Reason", "Why the volume is in its phase, if it failed."),
    age_column(),
    column("VolumeMode", "Filesystem or Block.", priority=1),
)

PVC_COLUMNS = (
    name_column(),
    column("Status", "Phase of the claim."),
    column("Volume", "The volume bound to the claim."),
    column("Capacity", "Storage capacity of the bound volume."),
    column("Access Modes", "Ways the bound volume can be mounted."),
    column("StorageClass", "StorageClass of the pvc"),
    column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    age_column(),
    column("VolumeMode", "Filesystem or Block.", priority=1),
)

TABLES = {
    ("", "persistentvolumes"): TableSpec(PV_COLUMNS, persistentvolume_cells),
    ("", "persistentvolumeclaims"): TableSpec(PVC_COLUMNS, persistentvolumeclaim_cells),
}
