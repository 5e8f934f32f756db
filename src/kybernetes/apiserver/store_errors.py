"""Store errors -> API errors, translated once, here, with the words the real server uses."""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.errors import ApiError
from kybernetes.api.registry import ResourceInfo
from kybernetes.store import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StoreError,
    StoreUnavailableError,
    ValueTooLargeError,
)


def too_large_resource_version(requested: int, current: int) -> ApiError:
    err = errors.timeout(f"Too large resource version: {requested}, current: {current}")
    err.causes = [errors.Cause("ResourceVersionTooLarge", "Too large resource version")]
    err.retry_after_seconds = 1
    return err


def translate(exc: StoreError, info: ResourceInfo | None = None, name: str = "") -> ApiError:
    resource = info.resource if info else ""
    group = info.group if info else ""
    if isinstance(exc, KeyExistsError):
        return errors.already_exists(resource, name, group)
    if isinstance(exc, ConflictError):
        return errors.conflict(resource, name, group)
    if isinstance(exc, KeyNotFoundError):
        return errors.not_found(resource, name, group)
    if isinstance(exc, CompactedError):
        return errors.expired(
            f"too old resource version: {exc.requested} ({exc.compact_revision + 1})"
        )
    if isinstance(exc, FutureRevisionError):
        return too_large_resource_version(exc.requested, exc.current)
    if isinstance(exc, ValueTooLargeError):
        return errors.request_entity_too_large(
            f"the object is {exc.size} bytes once stored; the limit is {MAX_VALUE_BYTES} bytes"
        )
    if isinstance(exc, StoreUnavailableError):
        return errors.service_unavailable(f"the storage backend is unavailable: {exc}")
    return errors.internal(str(exc))
