"""The object-store steps that differ for CRDs and custom resources (their "strategies").

objects.py calls these for every kind; they do nothing for built-in kinds:

    prepare(info, obj, old)   before validation, on create (old None) and update:
                              a CRD gets the cleanup finalizer when created; a custom resource
                              is pruned to its schema, defaulted, cleared of disallowed nulls --
                              and refused (405) while its CRD is being deleted
    validate(info, obj, old)  a CRD's own rules (crd_validation.py); a custom resource against
                              its version's schema (api.structural_validation) and its scale paths
    on_read(info, obj)        schema defaults applied to objects read back (a default added to
                              the CRD later shows on objects stored before it)

Field selectors over a CRD's ``selectableFields`` are parsed here too.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import Cause
from kybernetes.api.field_selectors import FieldRequirement, FieldSelector, parse_field_selector
from kybernetes.api.registry import ResourceInfo
from kybernetes.api.structural_pruning import apply_defaults, normalize
from kybernetes.api.structural_validation import go_value
from kybernetes.api.structural_validation import validate as validate_schema
from kybernetes.api.tables.custom import evaluate
from kybernetes.apiserver.crd_resource import CustomResourceInfo, is_crd
from kybernetes.apiserver.crd_validation import validate_crd

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def prepare(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    if isinstance(info, CustomResourceInfo):
        if old is None and info.state is not None and info.state.terminating:
            raise errors.method_not_allowed(
                "create not allowed while custom resource definition is terminating")
        normalize(info.schema, obj)
    elif old is None and is_crd(info):
        finalizers = obj.setdefault("metadata", {}).setdefault("finalizers", [])
        if isinstance(finalizers, list) and CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)


def validate(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    if isinstance(info, CustomResourceInfo):
        causes = validate_schema(info.schema, obj) if info.schema is not None else []
        return causes + _scale_causes(info, obj)
    if is_crd(info):
        try:
            return validate_crd(obj, old)
        except _MALFORMED as e:  # a field of the wrong JSON type somewhere the checks walk
            return [Cause("FieldValueInvalid", f"Invalid value: malformed object: {e}", "spec")]
    return []


_MALFORMED = (AttributeError, TypeError, ValueError, KeyError, IndexError)


def on_read(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    if isinstance(info, CustomResourceInfo) and info.schema is not None:
        apply_defaults(info.schema, obj)
    return obj


def _scale_causes(info: CustomResourceInfo, obj: dict[str, Any]) -> list[Cause]:
    """The scale subresource's replica counts, where present, must be non-negative integers."""
    if info.scale is None:
        return []
    causes = []
    for path in (info.scale.spec_replicas, info.scale.status_replicas):
        if not path:
            continue
        found = evaluate(path, obj)
        if not found:
            continue
        value = found[0]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            causes.append(Cause("FieldValueInvalid",
                                f"Invalid value: {go_value(value)}: should be a non-negative integer",
                                path.lstrip(".")))
    return causes


# -- field selectors -----------------------------------------------------------------------------


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _getter(path: str):
    jsonpath = "." + path

    def get(obj: dict[str, Any]) -> str:
        found = evaluate(jsonpath, obj)
        return _scalar_text(found[0]) if found else ""

    return get


def parse_field_selector_for(text: str | None, info: ResourceInfo) -> FieldSelector:
    """``?fieldSelector=`` for any resource: a custom resource allows metadata.name,
    metadata.namespace and its version's selectableFields (400 for anything else)."""
    if not isinstance(info, CustomResourceInfo) or not text:
        return parse_field_selector(text, info.group, info.resource)
    selectable = set(info.selectable_fields)
    # Parse with the metadata-only rules after setting aside our own fields, which the generic
    # parser would refuse; then put them back with getters over the objects' JSON paths.
    own: list[FieldRequirement] = []
    kept: list[str] = []
    for term in _terms(text):
        field, operator, value = _split(term)
        if field in selectable:
            own.append(FieldRequirement(field, operator, value, _getter(field)))
        else:
            kept.append(term)
    for term in kept:
        field = _split(term)[0]
        if field not in ("metadata.name", "metadata.namespace"):
            raise errors.bad_request(f"field label not supported: {field}")
    generic = parse_field_selector(",".join(kept), info.group, info.resource) if kept else FieldSelector()
    return FieldSelector(tuple(generic.requirements) + tuple(own))


def _terms(text: str) -> list[str]:
    out, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ",":
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return [t for t in out if t]


def _split(term: str) -> tuple[str, str, str]:
    for operator in ("!=", "==", "="):
        field, sep, value = term.partition(operator)
        if sep and "\\" not in field:
            return field, "!=" if operator == "!=" else "=", value.replace("\\", "")
    raise errors.bad_request(f"invalid selector: '{term}'; can't understand '{term}'")
