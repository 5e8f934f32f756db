"""Lists: selectors, resourceVersion semantics, and limit/continue pages from one snapshot.

    resourceVersion unset            a consistent read of the latest state
    resourceVersion="0"              any state is fine (we serve the latest; limit is ignored,
                                     as the watch cache ignores it)
    resourceVersion=N, Exact         the state at revision N (410 Expired once compacted)
    resourceVersion=N, NotOlderThan  the latest state, which is at least N (504 if N is ahead)

A continue token pins every page of a list to the revision of its first page: it is base64 of
{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<next key>"} like the real server's, so a
paginated list is one consistent snapshot even while writes happen. Selectors are applied while
paging, so a page holds ``limit`` matching items unless the list ends first.
"""

from __future__ import annotations

import base64
import binascii
import gc
import re
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver import keys
from kybernetes.apiserver.store_errors import too_large_resource_version, translate
from kybernetes.store import CompactedError, KeyValue, Store, StoreError

_CONTINUE_VERSION = "meta.k8s.io/v1"
# When selectors filter, read the store in chunks at least this big to fill a page quickly.
_MIN_CHUNK = 500

_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter."
)


@dataclass
class ListOptions:
    label_selector: Any = None  # has .matches(labels) (None = everything)
    field_selector: Any = None  # has .matches(obj)
    limit: int = 0
    continue_token: str = ""
    resource_version: str | None = None
    resource_version_match: str = ""


@dataclass
class ListPage:
    items: list[dict[str, Any]]  # decoded objects (resourceVersion set, no kind/apiVersion yet)
    resource_version: str
    continue_token: str = ""
    # Set instead of ``items`` when the caller asked for raw values (list_objects(raw=True)).
    raw: list[KeyValue] | None = None


def encode_continue(revision: int, start_key_relative: str) -> str:
    raw = orjson.dumps({"v": _CONTINUE_VERSION, "rv": revision, "start": start_key_relative + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, relative key to continue after) from a continue token, or 400."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        if data.get("v") != _CONTINUE_VERSION:
            raise ValueError
        revision = int(data["rv"])
        start = str(data["start"])
        if revision <= 0:
            raise ValueError
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, orjson.JSONDecodeError):
        raise errors.bad_request(f'continue key is not valid: "{token}"') from None
    return revision, start[:-1] if start.endswith("\x00") else start


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise errors.bad_request(f'invalid resourceVersion: "{text}" is not a non-negative integer')
    return value


def validate_list_options(opts: ListOptions) -> None:
    rv, match = opts.resource_version, opts.resource_version_match
    if match and match not in ("Exact", "NotOlderThan"):
        raise errors.bad_request(
            f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
        )
    if opts.continue_token:
        if rv not in (None, ""):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        if match:
            raise errors.bad_request("resourceVersionMatch is forbidden when continue is provided")
    if match and rv in (None, ""):
        raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if match == "Exact" and rv == "0":
        raise errors.bad_request('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
    if opts.limit < 0:
        raise errors.bad_request("limit must be a non-negative integer")


async def list_objects(store: Store, info: ResourceInfo, namespace: str | None,
                       opts: ListOptions, *, raw: bool = False) -> ListPage:
    """One page of a list. ``raw=True`` leaves unfiltered pages undecoded (for list_body)."""
    validate_list_options(opts)
    prefix = keys.collection_prefix(info, namespace)
    limit = opts.limit
    start_after = ""
    revision = 0  # 0 = latest
    rv = opts.resource_version
    from_continue = bool(opts.continue_token)
    if from_continue:
        revision, start_rel = decode_continue(opts.continue_token)
        start_after = prefix + start_rel
    elif rv == "0":
        limit = 0
    elif rv not in (None, ""):
        wanted = _parse_rv(rv)
        exact = opts.resource_version_match == "Exact" or (not opts.resource_version_match and limit > 0)
        current = await _current(store, info)
        if wanted > current:
            raise too_large_resource_version(wanted, current)
        if exact:
            revision = wanted
    try:
        if raw and opts.label_selector is None and opts.field_selector is None:
            return await _read_raw(store, prefix, revision, limit, start_after)
        return await _read_pages(store, info, prefix, revision, limit, start_after, opts)
    except CompactedError:
        if from_continue:
            raise errors.expired(_CONTINUE_TOO_OLD) from None
        raise errors.expired(
            f"The resourceVersion for the provided list is too old (resourceVersion {rv})."
        ) from None
    except StoreError as e:
        raise translate(e, info) from None


async def _current(store: Store, info: ResourceInfo) -> int:
    try:
        return await store.current_revision()
    except StoreError as e:
        raise translate(e, info) from None


async def _read_pages(store: Store, info: ResourceInfo, prefix: str, revision: int, limit: int,
                      start_after: str, opts: ListOptions) -> ListPage:
    labels = opts.label_selector
    fields = opts.field_selector
    filtering = labels is not None or fields is not None
    chunk = max(limit, _MIN_CHUNK) if (filtering and limit) else limit
    items: list[dict[str, Any]] = []
    loads = orjson.loads
    while True:
        result = await store.list(prefix, revision=revision, limit=chunk, start_after=start_after)
        revision = result.revision
        # Decoding thousands of objects that all stay alive makes the cyclic GC rescan them
        # again and again (5x the cost of the decoding itself); JSON values hold no cycles.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            last_key, stopped_early = _filter_chunk(result.items, labels, fields, items, limit, loads)
        finally:
            if gc_was_enabled:
                gc.enable()
        more = result.more or stopped_early
        if limit and len(items) >= limit:
            token = encode_continue(revision, last_key[len(prefix):]) if more else ""
            return ListPage(items, str(revision), token)
        if not more or not result.items:
            return ListPage(items, str(revision))
        start_after = result.items[-1].key


async def _read_raw(store: Store, prefix: str, revision: int, limit: int, start_after: str) -> ListPage:
    result = await store.list(prefix, revision=revision, limit=limit, start_after=start_after)
    token = ""
    if result.more and result.items:
        token = encode_continue(result.revision, result.items[-1].key[len(prefix):])
    return ListPage([], str(result.revision), token, raw=result.items)


def _filter_chunk(chunk, labels, fields, items: list, limit: int, loads) -> tuple[str, bool]:
    """Decode and filter one chunk into ``items``; (last key examined, stopped before its end)."""
    last_key = ""
    for index, kv in enumerate(chunk):
        obj = loads(kv.value)
        last_key = kv.key
        if labels is not None and not labels.matches((obj.get("metadata") or {}).get("labels")):
            continue
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        if fields is not None and not fields.matches(obj):
            continue
        items.append(obj)
        if limit and len(items) >= limit:
            return last_key, index + 1 < len(chunk)
    return last_key, False


# A stored value as codec.encode writes objects that went through set_type_meta: kind and
# apiVersion first, then metadata (never holding resourceVersion, which is the revision).
_STORED_HEAD = re.compile(rb'\{"kind":"[^"\\]*","apiVersion":"[^"\\]*","metadata":\{')


def _spliced_item(head: bytes, kv: KeyValue) -> bytes | None:
    """The item's JSON with this list's kind/apiVersion and its resourceVersion, built from the
    stored bytes without decoding them; None when the value is not in the expected shape."""
    value = kv.value
    match = _STORED_HEAD.match(value)
    if match is None:
        return None
    rest = value[match.end():]
    rv = b'"resourceVersion":"%d"' % kv.mod_revision
    return head + rv + (rest if rest[:1] == b"}" else b"," + rest)


def _raw_items(info: ResourceInfo, raw: list[KeyValue], memo: dict | None = None) -> bytes:
    head = b'{"kind":%s,"apiVersion":%s,"metadata":{' % (orjson.dumps(info.kind), orjson.dumps(info.group_version))
    parts = []
    for kv in raw:
        if memo is not None:
            # The watch cache keeps each item's JSON from the last list: {key: (kv, bytes)}.
            hit = memo.get(kv.key)
            if hit is not None and hit[0] is kv:
                parts.append(hit[1])
                continue
        item = _spliced_item(head, kv)
        if item is None:
            obj = orjson.loads(kv.value)
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
            item = orjson.dumps({"kind": info.kind, "apiVersion": info.group_version, **obj})
        if memo is not None:
            memo[kv.key] = (kv, item)
        parts.append(item)
    return b",".join(parts)


def list_body(info: ResourceInfo, page: ListPage, memo: dict | None = None) -> bytes:
    """The list as JSON bytes with kind/apiVersion set on each item. Raw pages are spliced from
    the stored bytes (a list of 10k pods is then mostly the store's own read time); ``memo``
    (from the watch cache) keeps the spliced items for the next list."""
    if page.raw is not None:
        metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        head = orjson.dumps({"kind": info.list_kind, "apiVersion": info.group_version, "metadata": metadata})
        return head[:-1] + b',"items":[' + _raw_items(info, page.raw, memo) + b"]}"
    kind, api_version = info.kind, info.group_version
    items = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # see _read_pages: many new long-lived dicts
    try:
        for obj in page.items:
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            items.append({"kind": kind, "apiVersion": api_version, **obj})
    finally:
        if gc_was_enabled:
            gc.enable()
    metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
    if page.continue_token:
        metadata["continue"] = page.continue_token
    return orjson.dumps({"kind": info.list_kind, "apiVersion": api_version,
                         "metadata": metadata, "items": items})
