"""Validation of CustomResourceDefinition objects (apiextensions.k8s.io/v1), with the real
server's field paths and wording: a CRD that breaks these rules is refused with 422 Invalid.

    metadata.name = <spec.names.plural>.<spec.group>
    spec.group: a DNS subdomain with at least one dot; *.k8s.io / *.kubernetes.io groups need
        the api-approved.kubernetes.io annotation
    spec.names: plural, singular, kind, listKind, shortNames, categories well formed
    spec.scope: Namespaced or Cluster (immutable)
    spec.versions: at least one, unique DNS-1035 names, exactly one storage version, a
        structural openAPIV3Schema each (api.structural_schema), sane subresources, printer
        columns and selectable fields
    spec.conversion.strategy: None or Webhook (with a client config)
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api.errors import Cause
from kybernetes.api.field_errors import (
    dns1035_label_errors,
    dns1123_subdomain_errors,
    duplicate,
    forbidden,
    immutable,
    invalid,
    not_supported,
    required,
)
from kybernetes.api.structural_schema import check_schema

APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
_PROTECTED_GROUP = re.compile(r"(^|\.)(k8s\.io|kubernetes\.io)$")
PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
PRINTER_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
SELECTABLE_TYPES = ("boolean", "integer", "string")
MAX_SELECTABLE_FIELDS = 8
_JSON_PATH = re.compile(r"^(\.[A-Za-z0-9_\-]+|\[[^\]]+\])+$")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def validate_crd(crd: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Every problem with a CRD (``old``: the stored one, on updates)."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    metadata = crd.get("metadata") or {}
    group = _str(spec.get("group"))
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural = _str(names.get("plural"))
    name = _str(metadata.get("name"))
    if name and plural and group and name != f"{plural}.{group}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    causes += _group_causes(group, metadata)
    causes += _names_causes(names)
    scope = spec.get("scope")
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        causes.append(not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    causes += _versions_causes(spec)
    causes += _conversion_causes(spec.get("conversion"))
    if spec.get("preserveUnknownFields") is True:
        causes.append(invalid("spec.preserveUnknownFields", True,
                              "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                              "spec.versions[*].schema instead"))
    if old is not None:
        causes += _update_causes(crd, old)
    return causes


def _group_causes(group: str, metadata: dict[str, Any]) -> list[Cause]:
    if not group:
        return [required("spec.group")]
    causes = [invalid("spec.group", group, m) for m in dns1123_subdomain_errors(group)]
    if "." not in group:
        causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    if _PROTECTED_GROUP.search(group) and not annotations.get(APPROVAL_ANNOTATION):
        causes.append(required(f"metadata.annotations[{APPROVAL_ANNOTATION}]",
                               f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", '
                               "see https://github.com/kubernetes/enhancements/pull/1111"))
    return causes


def _label_causes(path: str, value: str, *, mixed_case: bool = False) -> list[Cause]:
    errs = dns1035_label_errors(value.lower() if mixed_case else value)
    if not errs:
        return []
    prefix = "may have mixed case, but should otherwise match: " if mixed_case else ""
    return [invalid(path, value, prefix + ",".join(errs))]


def _names_causes(names: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("plural", "singular", "kind", "listKind"):
        value = _str(names.get(key))
        path = f"spec.names.{key}"
        if not value:
            if key in ("plural", "kind", "listKind"):
                causes.append(required(path))
            continue
        causes += _label_causes(path, value, mixed_case=key in ("kind", "listKind"))
    kind, list_kind = _str(names.get("kind")), _str(names.get("listKind"))
    if kind and kind == list_kind:
        causes.append(invalid("spec.names.listKind", list_kind, "kind and listKind may not be the same"))
    for key in ("shortNames", "categories"):
        values = names.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            causes.append(invalid(f"spec.names.{key}", values, "must be a list of strings"))
            continue
        seen: set[str] = set()
        for i, value in enumerate(values):
            path = f"spec.names.{key}[{i}]"
            if not isinstance(value, str):
                causes.append(invalid(path, value, "must be a string"))
                continue
            causes += _label_causes(path, value)
            if value in seen:
                causes.append(duplicate(path, value))
            seen.add(value)
    return causes


def _versions_causes(spec: dict[str, Any]) -> list[Cause]:
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        return [required("spec.versions", "must have exactly one version marked as storage version")]
    causes: list[Cause] = []
    seen: set[str] = set()
    storage = 0
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            causes.append(invalid(path, version, "must be an object"))
            continue
        name = _str(version.get("name"))
        if not name:
            causes.append(required(f"{path}.name"))
        else:
            causes += [invalid(f"{path}.name", name, m) for m in dns1035_label_errors(name)]
            if name in seen:
                causes.append(duplicate(f"{path}.name", name))
            seen.add(name)
        storage += version.get("storage") is True
        causes += _version_causes(version, path)
    if storage != 1:
        causes.append(invalid("spec.versions", f"{storage} storage versions",
                              "must have exactly one version marked as storage version"))
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        causes.append(invalid("spec.versions", "no served version", "must have at least one served version"))
    return causes


def _version_causes(version: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    schema = (version.get("schema") or {}).get("openAPIV3Schema") if isinstance(version.get("schema"), dict) \
        else None
    schema_path = f"{path}.schema.openAPIV3Schema"
    if schema is None:
        causes.append(required(schema_path, "schemas are required"))
    else:
        causes += check_schema(schema, schema_path)
    subresources = version.get("subresources")
    if isinstance(subresources, dict) and isinstance(subresources.get("scale"), dict):
        causes += _scale_causes(subresources["scale"], f"{path}.subresources.scale")
    for i, col in enumerate(version.get("additionalPrinterColumns") or ()):
        causes += _printer_column_causes(col, f"{path}.additionalPrinterColumns[{i}]")
    causes += _selectable_causes(version.get("selectableFields"), schema, f"{path}.selectableFields")
    return causes


def _scale_causes(scale: dict[str, Any], path: str) -> list[Cause]:
    causes = []
    for key, under in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value = _str(scale.get(key))
        if not value:
            causes.append(required(f"{path}.{key}"))
        elif not value.startswith(under) or not _JSON_PATH.match(value):
            causes.append(invalid(f"{path}.{key}", value, f"should be a json path under {under.rstrip('.')}"))
    selector = scale.get("labelSelectorPath")
    if selector:
        if not isinstance(selector, str) or not (selector.startswith(".spec.") or selector.startswith(".status.")) \
                or not _JSON_PATH.match(selector):
            causes.append(invalid(f"{path}.labelSelectorPath", selector,
                                  "should be a json path under either .spec or .status"))
    return causes


def _printer_column_causes(col: Any, path: str) -> list[Cause]:
    if not isinstance(col, dict):
        return [invalid(path, col, "must be an object")]
    causes = []
    if not _str(col.get("name")):
        causes.append(required(f"{path}.name"))
    col_type = col.get("type")
    if not col_type:
        causes.append(required(f"{path}.type"))
    elif col_type not in PRINTER_COLUMN_TYPES:
        causes.append(not_supported(f"{path}.type", col_type, PRINTER_COLUMN_TYPES))
    fmt = col.get("format")
    if fmt and fmt not in PRINTER_COLUMN_FORMATS:
        causes.append(not_supported(f"{path}.format", fmt, PRINTER_COLUMN_FORMATS))
    if not _str(col.get("jsonPath")):
        causes.append(required(f"{path}.jsonPath"))
    priority = col.get("priority")
    if priority is not None and (not isinstance(priority, int) or priority < 0):
        causes.append(invalid(f"{path}.priority", priority, "must be greater than or equal to 0"))
    return causes


def _schema_at(schema: Any, parts: list[str]) -> dict[str, Any] | None:
    for part in parts:
        if not isinstance(schema, dict):
            return None
        props = schema.get("properties")
        if isinstance(props, dict) and part in props:
            schema = props[part]
        elif isinstance(schema.get("additionalProperties"), dict):
            schema = schema["additionalProperties"]
        else:
            return None
    return schema if isinstance(schema, dict) else None


def _selectable_causes(fields: Any, schema: Any, path: str) -> list[Cause]:
    if fields is None:
        return []
    if not isinstance(fields, list):
        return [invalid(path, fields, "must be a list")]
    causes = []
    if len(fields) > MAX_SELECTABLE_FIELDS:
        causes.append(Cause("FieldValueTooMany",
                            f"Too many: {len(fields)}: must have at most {MAX_SELECTABLE_FIELDS} items", path))
    seen: set[str] = set()
    for i, entry in enumerate(fields):
        item_path = f"{path}[{i}].jsonPath"
        json_path = _str(entry.get("jsonPath")) if isinstance(entry, dict) else ""
        if not json_path:
            causes.append(required(item_path))
            continue
        if not _JSON_PATH.match(json_path) or "[" in json_path:
            causes.append(invalid(item_path, json_path, "must be a simple json path starting with ."))
            continue
        target = _schema_at(schema, json_path.lstrip(".").split("."))
        if target is None:
            causes.append(invalid(item_path, json_path, "is an invalid path: does not refer to a valid field"))
        elif target.get("type") not in SELECTABLE_TYPES:
            causes.append(invalid(item_path, json_path,
                                  "must point to a field of type string, boolean or integer. Enum string "
                                  "fields and strings with formats are allowed."))
        if json_path in seen:
            causes.append(duplicate(item_path, json_path))
        seen.add(json_path)
    return causes


def _conversion_causes(conversion: Any) -> list[Cause]:
    if conversion is None:
        return []
    if not isinstance(conversion, dict):
        return [invalid("spec.conversion", conversion, "must be an object")]
    strategy = conversion.get("strategy")
    if strategy not in ("None", "Webhook"):
        return [not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]
    webhook = conversion.get("webhook")
    if strategy == "Webhook":
        if not isinstance(webhook, dict) or not isinstance(webhook.get("clientConfig"), dict):
            return [required("spec.conversion.webhook.clientConfig",
                             "required when strategy is set to Webhook")]
        if not webhook.get("conversionReviewVersions"):
            return [required("spec.conversion.webhook.conversionReviewVersions",
                             "must include at least one of v1, v1beta1")]
    elif webhook is not None:
        return [forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook")]
    return []


def _update_causes(crd: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    spec, old_spec = crd.get("spec") or {}, old.get("spec") or {}
    causes = []
    if old_spec.get("scope") and spec.get("scope") != old_spec.get("scope"):
        causes.append(immutable("spec.scope", spec.get("scope")))
    if old_spec.get("group") and spec.get("group") != old_spec.get("group"):
        causes.append(immutable("spec.group", spec.get("group")))
    names = {v.get("name") for v in spec.get("versions") or () if isinstance(v, dict)}
    stored = (crd.get("status") or {}).get("storedVersions") or (old.get("status") or {}).get("storedVersions")
    for i, version in enumerate(stored or ()):
        if version not in names:
            causes.append(invalid(f"status.storedVersions[{i}]", version, "must appear in spec.versions"))
    return causes
