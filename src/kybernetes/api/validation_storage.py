"""Validation of storage: StorageClass, CSIDriver, VolumeAttachment, PersistentVolume and
PersistentVolumeClaim.

Provisioners and binders act on these without asking again, so the server keeps them coherent:
a class names its provisioner and a known reclaim policy and binding mode, and never changes
them; a volume has exactly one source, a storage capacity and access modes; a claim asks for
storage and, once created, may only grow (and only after it is bound) or learn its volume name.
"""

from __future__ import annotations

from typing import Any

from .errors import Cause
from .field_errors import (
    dns1123_subdomain_errors,
    forbidden,
    immutable,
    invalid,
    not_supported,
    qualified_name_errors,
    required,
    too_long,
)
from .quantity import Quantity, QuantityError, parse_quantity
from .validation_workloads import validate_label_selector

RECLAIM_POLICIES = ("Delete", "Retain")
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "quobyte",
              "cinder", "cephfs", "iscsi", "fc", "flexVolume", "azureFile", "vsphereVolume", "azureDisk",
              "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi", "flocker")
MAX_PARAMETERS = 512
MAX_PARAMETERS_SIZE = 256 * 1024
MAX_CSI_DRIVER_NAME = 63


def quantity_of(value: Any, path: str) -> tuple[Quantity | None, list[Cause]]:
    """Parse a quantity field; a malformed one is a cause (the real server refuses it at decode)."""
    try:
        return parse_quantity(value), []
    except QuantityError as e:
        return None, [invalid(path, value, str(e))]


def positive_quantity(value: Any, path: str) -> list[Cause]:
    qty, causes = quantity_of(value, path)
    if qty is not None and qty.value <= 0:
        causes.append(invalid(path, str(qty), "must be greater than zero"))
    return causes


def _parameters(params: Any) -> list[Cause]:
    if params is None:
        return []
    if not isinstance(params, dict):
        return [invalid("parameters", params, "must be a map of string keys to string values")]
    if len(params) > MAX_PARAMETERS:
        return [too_long("parameters", MAX_PARAMETERS)]
    causes = [invalid("parameters", k, "field can not be empty.") for k in params if not k]
    if sum(len(k) + len(str(v)) for k, v in params.items()) > MAX_PARAMETERS_SIZE:
        causes.append(too_long("parameters", MAX_PARAMETERS_SIZE))
    return causes


def validate_storage_class(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    provisioner = obj.get("provisioner") or ""
    if not provisioner:
        causes.append(required("provisioner"))
    else:
        causes += [invalid("provisioner", provisioner, m) for m in qualified_name_errors(str(provisioner).lower())]
    causes += _parameters(obj.get("parameters"))
    policy = obj.get("reclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        causes.append(not_supported("reclaimPolicy", policy, RECLAIM_POLICIES))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(required("volumeBindingMode"))
    elif mode not in BINDING_MODES:
        causes.append(not_supported("volumeBindingMode", mode, BINDING_MODES))
    return causes


def validate_storage_class_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes = []
    if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
        causes.append(forbidden("parameters", "updates to parameters are forbidden."))
    if obj.get("provisioner") != old.get("provisioner"):
        causes.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
        causes.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
        causes.append(immutable("volumeBindingMode", obj.get("volumeBindingMode")))
    return causes


def validate_csi_driver(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if len(name) > MAX_CSI_DRIVER_NAME:
        causes.append(too_long("name", MAX_CSI_DRIVER_NAME))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if spec.get("attachRequired") is None:
        causes.append(required("spec.attachedRequired"))
    if spec.get("podInfoOnMount") is None:
        causes.append(required("spec.podInfoOnMount"))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        causes.append(not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    for mode in spec.get("volumeLifecycleModes") or []:
        if mode not in LIFECYCLE_MODES:
            causes.append(not_supported("spec.volumeLifecycleModes", mode, LIFECYCLE_MODES))
    audiences: set[str] = set()
    for i, token in enumerate(spec.get("tokenRequests") or []):
        p = f"spec.tokenRequests[{i}]"
        token = token if isinstance(token, dict) else {}
        audience = token.get("audience") or ""
        if audience in audiences:
            causes.append(Cause("FieldValueDuplicate", f'Duplicate value: "{audience}"', f"{p}.audience"))
        audiences.add(audience)
        seconds = token.get("expirationSeconds")
        if isinstance(seconds, int) and seconds < 600:
            causes.append(invalid(f"{p}.expirationSeconds", seconds,
                                  "may not specify a duration less than 10 minutes"))
        elif isinstance(seconds, int) and seconds > 1 << 32:
            causes.append(invalid(f"{p}.expirationSeconds", seconds,
                                  "may not specify a duration larger than 2^32 seconds"))
    return causes


def validate_csi_driver_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new, before = obj.get("spec") or {}, old.get("spec") or {}
    return [immutable(f"spec.{field}", new.get(field))
            for field in ("attachRequired", "fsGroupPolicy", "volumeLifecycleModes")
            if new.get(field) != before.get(field)]


def validate_volume_attachment(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    if not spec.get("attacher"):
        causes.append(required("spec.attacher"))
    else:
        causes += [invalid("spec.attacher", spec["attacher"], m)
                   for m in dns1123_subdomain_errors(str(spec["attacher"]).lower())]
    source = spec.get("source") if isinstance(spec.get("source"), dict) else {}
    inline, pv_name = source.get("inlineVolumeSpec"), source.get("persistentVolumeName")
    if inline is None and pv_name is None:
        causes.append(required("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
    elif inline is not None and pv_name is not None:
        causes.append(forbidden("spec.source", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
    elif pv_name is not None and not pv_name:
        causes.append(required("spec.source.persistentVolumeName", "must specify non empty persistentVolumeName"))
    node = spec.get("nodeName") or ""
    if not node:
        causes.append(required("spec.nodeName"))
    else:
        causes += [invalid("spec.nodeName", node, m) for m in dns1123_subdomain_errors(str(node))]
    return causes


def validate_volume_attachment_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    if (obj.get("spec") or {}) != (old.get("spec") or {}):
        return [immutable("spec", obj.get("spec"))]
    return []


def access_modes(modes: Any, path: str) -> list[Cause]:
    causes = [not_supported(path, m, ACCESS_MODES) for m in modes or [] if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in (modes or []) and len(modes) > 1:
        causes.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _pv_source(spec: dict[str, Any]) -> list[Cause]:
    present = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not present:
        return [required("spec", "must specify a volume type")]
    causes = [forbidden(f"spec.{s}", "may not specify more than 1 volume type") for s in present[1:]]
    source, name = spec[present[0]], present[0]
    source = source if isinstance(source, dict) else {}
    needed = {"hostPath": ("path",), "nfs": ("server", "path"), "local": ("path",),
              "csi": ("driver", "volumeHandle")}.get(name, ())
    causes += [required(f"spec.{name}.{field}") for field in needed if not source.get(field)]
    if name == "nfs" and source.get("path") and not str(source["path"]).startswith("/"):
        causes.append(invalid("spec.nfs.path", source["path"], "must be an absolute path"))
    if name == "local" and not spec.get("nodeAffinity"):
        causes.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    return causes


def validate_persistent_volume(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec.capacity"), required("spec.accessModes"), required("spec", "must specify a volume type")]
    causes: list[Cause] = []
    if not spec.get("accessModes"):
        causes.append(required("spec.accessModes"))
    causes += access_modes(spec.get("accessModes"), "spec.accessModes")
    capacity = spec.get("capacity")
    if not capacity:
        causes.append(required("spec.capacity"))
    elif not isinstance(capacity, dict) or "storage" not in capacity or len(capacity) > 1:
        causes.append(not_supported("spec.capacity", capacity, ("storage",)))
    else:
        causes += positive_quantity(capacity["storage"], "spec.capacity[storage]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in PV_RECLAIM_POLICIES:
        causes.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, PV_RECLAIM_POLICIES))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(not_supported("spec.volumeMode", mode, VOLUME_MODES))
    class_name = spec.get("storageClassName")
    if class_name:
        causes += [invalid("spec.storageClassName", class_name, m) for m in dns1123_subdomain_errors(str(class_name))]
    return causes + _pv_source(spec)


def validate_persistent_volume_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new, before = obj.get("spec") or {}, old.get("spec") or {}
    causes = []
    if any(new.get(s) != before.get(s) for s in PV_SOURCES):
        causes.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is forbidden."))
    if new.get("volumeMode") != before.get("volumeMode"):
        causes.append(immutable("volumeMode", new.get("volumeMode")))
    if before.get("nodeAffinity") and new.get("nodeAffinity") != before.get("nodeAffinity"):
        causes.append(immutable("nodeAffinity", new.get("nodeAffinity")))
    return causes


def _requested_storage(spec: dict[str, Any]) -> Any:
    resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    return requests.get("storage")


def validate_claim_spec(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(f"{path}.accessModes", "at least 1 access mode is required"),
                required(f"{path}.resources[storage]")]
    causes: list[Cause] = []
    if not spec.get("accessModes"):
        causes.append(required(f"{path}.accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], f"{path}.selector")
    causes += access_modes(spec.get("accessModes"), f"{path}.accessModes")
    storage = _requested_storage(spec)
    if storage is None:
        causes.append(required(f"{path}.resources[storage]"))
    else:
        causes += positive_quantity(storage, f"{path}.resources[storage]")
    class_name = spec.get("storageClassName")
    if class_name:
        causes += [invalid(f"{path}.storageClassName", class_name, m) for m in dns1123_subdomain_errors(str(class_name))]
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(not_supported(f"{path}.volumeMode", mode, VOLUME_MODES))
    return causes


def validate_persistent_volume_claim(obj: dict[str, Any]) -> list[Cause]:
    return validate_claim_spec(obj.get("spec"), "spec")


_SPEC_IMMUTABLE_DETAIL = ("spec is immutable after creation except resources.requests and "
                          "volumeAttributesClassName for bound claims")


def validate_persistent_volume_claim_update(obj: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    new = dict(obj.get("spec") or {})
    before = dict(old.get("spec") or {})
    if not before.get("volumeName"):  # the binder may set the volume name once
        before.pop("volumeName", None)
        if "volumeName" in new:
            before["volumeName"] = new["volumeName"]
    for spec in (new, before):
        spec.pop("volumeAttributesClassName", None)
    bound = (obj.get("status") or {}).get("phase") == "Bound"
    if bound:
        for spec in (new, before):
            spec["resources"] = {**(spec.get("resources") or {})}
            spec["resources"]["requests"] = {k: v for k, v in (spec["resources"].get("requests") or {}).items()
                                             if k != "storage"}
    causes = []
    if new != before:
        causes.append(forbidden("spec", _SPEC_IMMUTABLE_DETAIL))
    new_size, old_size = _size(obj.get("spec") or {}), _size(old.get("spec") or {})
    status_size = _status_size(old)
    if new_size is not None and old_size is not None and new_size < old_size:
        if status_size is None or new_size <= status_size:
            causes.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    new_mode, old_mode = (obj.get("spec") or {}).get("volumeMode"), (old.get("spec") or {}).get("volumeMode")
    if new_mode != old_mode:
        causes.append(immutable("volumeMode", new_mode))
    return causes


def _size(spec: dict[str, Any]) -> Quantity | None:
    try:
        return parse_quantity(_requested_storage(spec))
    except QuantityError:
        return None


def _status_size(obj: dict[str, Any]) -> Quantity | None:
    capacity = (obj.get("status") or {}).get("capacity") or {}
    try:
        return parse_quantity(capacity.get("storage")) if isinstance(capacity, dict) else None
    except QuantityError:
        return None


VALIDATORS = {
    ("storage.k8s.io", "storageclasses"): (validate_storage_class, validate_storage_class_update),
    ("storage.k8s.io", "csidrivers"): (validate_csi_driver, validate_csi_driver_update),
    ("storage.k8s.io", "volumeattachments"): (validate_volume_attachment, validate_volume_attachment_update),
    ("", "persistentvolumes"): (validate_persistent_volume, validate_persistent_volume_update),
    ("", "persistentvolumeclaims"): (validate_persistent_volume_claim, validate_persistent_volume_claim_update),
}
