"""Pod and pod-template validation: containers, ports, resources, volumes, restart policy.

``validate_pod_spec(spec, path)`` serves bare pods ("spec") and the templates inside workloads
("spec.template.spec", "spec.jobTemplate.spec.template.spec"), so a mistake reads the same
wherever it is made. ``validate_pod_update`` enforces that a running pod's spec is immutable
except for the few fields Kubernetes lets change.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Cause
from .field_errors import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    port_name_errors,
    port_number_errors,
    qualified_name_errors,
    required,
)
from .quantity import QuantityError, parse_quantity
from .validation_meta import validate_annotations, validate_labels

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_ENV_NAME = re.compile(r"^[\x20-\x3c\x3e-\x7e]+$")  # printable ASCII except '='

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def not_found(path: str, value: Any) -> Cause:
    return Cause("FieldValueNotFound", f'Not found: "{value}"', path)


def validate_resources(resources: Any, path: str) -> list[Cause]:
    """requests/limits: known resource names, well-formed non-negative quantities, requests <= limits."""
    if resources is None:
        return []
    if not isinstance(resources, dict):
        return [invalid(path, resources, "must be an object")]
    causes: list[Cause] = []
    parsed: dict[str, dict[str, Any]] = {}
    for section in ("limits", "requests"):
        values = resources.get(section) or {}
        parsed[section] = {}
        if not isinstance(values, dict):
            causes.append(invalid(f"{path}.{section}", values, "must be a map of resource names to quantities"))
            continue
        for name, raw in values.items():
            p = f"{path}.{section}[{name}]"
            name_errs = qualified_name_errors(name)
            if name_errs:
                causes += [invalid(p, name, m) for m in name_errs]
            elif ("/" not in name and name not in _STANDARD_CONTAINER_RESOURCES
                  and not name.startswith("hugepages-")):
                causes.append(invalid(p, name, "must be a standard resource for containers"))
            try:
                q = parse_quantity(raw)
            except QuantityError as e:
                causes.append(invalid(p, raw, str(e)))
                continue
            if q.value < 0:
                causes.append(invalid(p, str(q), "must be greater than or equal to 0"))
            parsed[section][name] = q
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request.value > limit.value:
            causes.append(invalid(f"{path}.requests", str(request),
                                  f"must be less than or equal to {name} limit of {limit}"))
    return causes


def _validate_ports(ports: Any, path: str, names_seen: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        p = f"{path}[{i}]"
        if not isinstance(port, dict):
            causes.append(invalid(p, port, "must be an object"))
            continue
        name = port.get("name")
        if name:
            causes += [invalid(f"{p}.name", name, m) for m in port_name_errors(name)]
            if name in names_seen:
                causes.append(duplicate(f"{p}.name", name))
            names_seen.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(required(f"{p}.containerPort"))
        else:
            causes += [invalid(f"{p}.containerPort", container_port, m) for m in port_number_errors(container_port)]
        host_port = port.get("hostPort")
        if host_port:
            causes += [invalid(f"{p}.hostPort", host_port, m) for m in port_number_errors(host_port)]
        protocol = port.get("protocol")
        if protocol is None:
            causes.append(required(f"{p}.protocol"))
        elif protocol not in PORT_PROTOCOLS:
            causes.append(not_supported(f"{p}.protocol", protocol, PORT_PROTOCOLS))
    return causes


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(env if isinstance(env, list) else []):
        p = f"{path}[{i}]"
        name = var.get("name") if isinstance(var, dict) else None
        if not name:
            causes.append(required(f"{p}.name"))
        elif not _ENV_NAME.match(name):
            causes.append(invalid(f"{p}.name", name, "a valid environment variable name must consist only of "
                                                     "printable ASCII characters other than '='"))
    return causes


def _validate_container(c: Any, path: str, volumes: set[str], image_required: bool) -> list[Cause]:
    if not isinstance(c, dict):
        return [invalid(path, c, "must be an object")]
    causes: list[Cause] = []
    image = c.get("image")
    if not image:
        if image_required:
            causes.append(required(f"{path}.image"))
    elif not isinstance(image, str) or image != image.strip():
        causes.append(invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
    causes += _validate_ports(c.get("ports"), f"{path}.ports", set())
    causes += _validate_env(c.get("env"), f"{path}.env")
    causes += validate_resources(c.get("resources"), f"{path}.resources")
    policy = c.get("imagePullPolicy")
    if policy is None:
        causes.append(required(f"{path}.imagePullPolicy"))
    elif policy not in PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES))
    tmp = c.get("terminationMessagePolicy")
    if tmp is not None and tmp not in TERMINATION_MESSAGE_POLICIES:
        causes.append(not_supported(f"{path}.terminationMessagePolicy", tmp, TERMINATION_MESSAGE_POLICIES))
    mount_paths: set[str] = set()
    for i, mount in enumerate(c.get("volumeMounts") or []):
        p = f"{path}.volumeMounts[{i}]"
        if not isinstance(mount, dict):
            causes.append(invalid(p, mount, "must be an object"))
            continue
        name = mount.get("name")
        if not name:
            causes.append(required(f"{p}.name"))
        elif name not in volumes:
            causes.append(not_found(f"{p}.name", name))
        mount_path = mount.get("mountPath")
        if not mount_path:
            causes.append(required(f"{p}.mountPath"))
        elif mount_path in mount_paths:
            causes.append(invalid(f"{p}.mountPath", mount_path, "must be unique"))
        else:
            mount_paths.add(mount_path)
    return causes


def _validate_volumes(volumes: Any, path: str) -> tuple[list[Cause], set[str]]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        p = f"{path}[{i}]"
        if not isinstance(volume, dict):
            causes.append(invalid(p, volume, "must be an object"))
            continue
        name = volume.get("name")
        if not name:
            causes.append(required(f"{p}.name"))
        else:
            causes += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(name)]
            if name in names:
                causes.append(duplicate(f"{p}.name", name))
            names.add(name)
        sources = [k for k in volume if k != "name"]
        if len(sources) > 1:
            causes.append(forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type"))
    return causes, names


def validate_pod_spec(spec: Any, path: str = "spec", *, image_required: bool = True) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    causes, volume_names = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        causes.append(required(f"{path}.containers"))
        containers = []
    seen: set[str] = set()
    for key, items in (("initContainers", spec.get("initContainers") or []), ("containers", containers)):
        for i, c in enumerate(items if isinstance(items, list) else []):
            p = f"{path}.{key}[{i}]"
            name = c.get("name") if isinstance(c, dict) else None
            if not name:
                causes.append(required(f"{p}.name"))
            else:
                causes += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(name)]
                if name in seen:
                    causes.append(duplicate(f"{p}.name", name))
                seen.add(name)
            causes += _validate_container(c, p, volume_names, image_required)
    restart = spec.get("restartPolicy")
    if restart is not None and restart not in RESTART_POLICIES:
        causes.append(not_supported(f"{path}.restartPolicy", restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns is not None and dns not in DNS_POLICIES:
        causes.append(not_supported(f"{path}.dnsPolicy", dns, DNS_POLICIES))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or not 1 <= deadline <= 2147483647):
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline,
                              "must be between 1 and 2147483647, inclusive"))
    for field in ("hostname", "subdomain"):
        if spec.get(field):
            causes += [invalid(f"{path}.{field}", spec[field], m) for m in dns1123_label_errors(spec[field])]
    if spec.get("nodeName"):
        causes += [invalid(f"{path}.nodeName", spec["nodeName"], m)
                   for m in dns1123_subdomain_errors(spec["nodeName"])]
    if spec.get("serviceAccountName"):
        causes += [invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], m)
                   for m in dns1123_subdomain_errors(spec["serviceAccountName"])]
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    return causes


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """A PodTemplateSpec: its labels and annotations, and its pod spec."""
    if not isinstance(template, dict):
        return [required(path)]
    meta = template.get("metadata") or {}
    causes = validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    causes += validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations")
    causes += validate_pod_spec(template.get("spec"), f"{path}.spec")
    return causes


def validate_pod(pod: dict[str, Any]) -> list[Cause]:
    return validate_pod_spec(pod.get("spec"), "spec")


def _tolerations_added_only(new: list[Any], old: list[Any]) -> bool:
    remaining = list(new)
    for t in old:
        if t in remaining:
            remaining.remove(t)
        else:
            return False
    return True


def _strip_images(containers: Any) -> Any:
    if not isinstance(containers, list):
        return containers
    return [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in containers]


def validate_pod_update(pod: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """Only images, activeDeadlineSeconds, added tolerations (and a few more) may change."""
    new_spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}
    causes: list[Cause] = []
    new_view, old_view = dict(new_spec), dict(old_spec)
    for key in ("containers", "initContainers"):
        if key in new_view:
            new_view[key] = _strip_images(new_view[key])
        if key in old_view:
            old_view[key] = _strip_images(old_view[key])
    old_deadline, new_deadline = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        # It may be set, or lowered; never raised or removed.
        if old_deadline is not None and isinstance(new_deadline, int) and new_deadline > old_deadline:
            causes.append(invalid("spec.activeDeadlineSeconds", new_deadline,
                                  "must be less than or equal to previous value"))
        new_view.pop("activeDeadlineSeconds", None)
        old_view.pop("activeDeadlineSeconds", None)
    if _tolerations_added_only(new_spec.get("tolerations") or [], old_spec.get("tolerations") or []):
        new_view.pop("tolerations", None)
        old_view.pop("tolerations", None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        new_view.pop("terminationGracePeriodSeconds", None)
        old_view.pop("terminationGracePeriodSeconds", None)
    if new_view != old_view:
        causes.append(forbidden("spec", POD_UPDATE_FORBIDDEN))
    return causes
