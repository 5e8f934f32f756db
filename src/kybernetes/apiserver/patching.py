"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

kubectl label/annotate/scale send merge patches and rollout undo sends a JSON patch. Strategic
merge and server-side apply patches arrive with a later piece of work; until then they get 415,
which kubectl reports clearly ("server-side apply not available").
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors

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
