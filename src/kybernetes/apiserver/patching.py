"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

    Content-Type                               kinds                     applied by
    application/merge-patch+json               all                       merge_patch (here)
    application/json-patch+json                all                       json_patch (here)
    application/strategic-merge-patch+json     built-in (with a schema)  api.strategic_merge
    application/apply-patch+yaml               all                       apiserver.apply

kubectl label/annotate/scale send merge patches, rollout undo a JSON patch, and apply (on an
existing object), edit, set image, cordon and rollout restart strategic merge patches. A strategic
merge patch needs the kind's schema for its merge keys and strategies; kinds without one (custom
resources) get 415 for it, as from kube-apiserver, and kubectl falls back to a merge patch where
it can. Server-side apply (apply.py) is accepted for every kind. ``check_patch_type`` and
``apply_patch`` are the entry points for the PATCH handlers (resources and their scale
subresource).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kybernetes.api import errors
from kybernetes.api.strategic_merge import PatchSchema, apply_strategic_merge_patch
from kybernetes.apiserver.body import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from kybernetes.apiserver.openapi_schemas import SchemasUnavailableError, default_library

_MISSING = object()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise errors.bad_request(f"invalid JSON patch path {path!r}: it must start with '/'")
    return [_unescape(t) for t in path.split("/")[1:]] if path else []


def _index(container: list, token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise errors.bad_request(f"invalid array index {token!r} in JSON patch")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise errors.bad_request(f"array index {index} out of bounds in JSON patch")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise errors.bad_request(f"JSON patch path {path!r} does not exist")
    return node


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _pointer(path):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise errors.bad_request(f"JSON patch path {path!r} does not exist")
    return node


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise errors.bad_request("a JSON patch cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise errors.bad_request(f"JSON patch path {path!r} does not exist")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, for_add=False))
    raise errors.bad_request(f"JSON patch path {path!r} does not exist")


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise errors.bad_request(f"JSON patch path {path!r} does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, for_add=False)] = value
        else:
            parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise errors.bad_request(f"JSON patch path {path!r} does not exist")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test on a copy-safe document (mutated in place)."""
    if not isinstance(operations, list):
        raise errors.bad_request("a JSON patch must be a list of operations")
    for op in operations:
        if not isinstance(op, dict):
            raise errors.bad_request("each JSON patch operation must be an object")
        kind = op.get("op")
        path = op.get("path")
        value = op.get("value", _MISSING)
        if kind in ("add", "replace", "test") and value is _MISSING:
            raise errors.bad_request(f"JSON patch operation {kind!r} needs a value")
        if kind == "add":
            doc = _add(doc, path, value)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, value, replace=True)
        elif kind == "move":
            moved = _remove(doc, op.get("from"))
            doc = _add(doc, path, moved)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from"))))
        elif kind == "test":
            if _get(doc, path) != value:
                raise errors.ApiError(422, "Invalid", f"JSON patch test operation failed at {path!r}")
        else:
            raise errors.bad_request(f"unknown JSON patch operation {kind!r}")
    return doc


# -- choosing and applying a patch by Content-Type -------------------------------------------------


def strategic_schema(group: str, version: str, kind: str) -> PatchSchema | None:
    """The schema strategic merge patch walks for a kind, or None for kinds without one."""
    try:
        library = default_library()
    except SchemasUnavailableError as e:
        raise errors.internal(f"strategic merge patch needs the Kubernetes API schemas: {e}") from None
    name = library.name_for(group, version, kind)
    definition = library.definition(name) if name else None
    return PatchSchema(definition, library.definition) if definition is not None else None


def accepted_patch_types(group: str, version: str, kind: str) -> tuple[str, ...]:
    """The patch Content-Types a kind accepts (in the order kube-apiserver lists them)."""
    if strategic_schema(group, version, kind) is not None:
        return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
    return (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)


def check_patch_options(query) -> None:
    """``force`` belongs to server-side apply only: 422 on any other patch, as PatchOptions says."""
    if "force" in query:
        raise errors.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
                              "may not be specified for non-apply patch", group="meta.k8s.io",
                              kind="PatchOptions",
                              causes=[errors.Cause("FieldValueForbidden",
                                                   "Forbidden: may not be specified for non-apply patch",
                                                   "force")])


def check_patch_type(content_type: str, group: str, version: str, kind: str) -> None:
    """415 UnsupportedMediaType unless the kind accepts this patch type."""
    accepted = accepted_patch_types(group, version, kind)
    if content_type not in accepted:
        raise errors.ApiError(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media types include: "
                              + ", ".join(accepted))


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, group: str, version: str,
                kind: str) -> Any:
    """The object ``target`` becomes under ``patch`` of ``content_type`` (checked before)."""
    if content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        return merge_patch(target, patch)
    if content_type == JSON_PATCH:
        return json_patch(target, patch)
    if content_type == STRATEGIC_MERGE_PATCH:
        schema = strategic_schema(group, version, kind)
        if schema is None:
            check_patch_type(content_type, group, version, kind)
        if not isinstance(patch, Mapping):
            raise errors.bad_request("a strategic merge patch must be a JSON object")
        return apply_strategic_merge_patch(target, patch, schema)
    check_patch_type(content_type, group, version, kind)
    raise errors.bad_request(f"unsupported patch type {content_type!r}")
