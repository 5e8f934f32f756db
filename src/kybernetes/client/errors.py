"""Errors as the client sees them: the apiserver's Status turned back into ApiError.

The apiserver translates every failure into a meta/v1 Status once; the client translates it back
into the same ``kybernetes.api.errors.ApiError`` (code, reason, message, details), so code on
either side of the wire tests ``e.code == 404`` or ``e.reason == "Conflict"`` alike. Two client-only
cases get subclasses: ``ExpiredError`` (410: a resourceVersion too old; re-list) and
``ApiConnectionError`` (the apiserver could not be reached or dropped the connection).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import ApiError, Cause

# The reason the real server uses for each code when a response carries no Status.
_REASON_BY_CODE = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


class ExpiredError(ApiError):
    """410 Gone / Expired: the requested resourceVersion is compacted away; list again."""


class ApiConnectionError(ApiError):
    """The apiserver could not be reached, or the connection broke before a full response."""


def connection_error(url: str, detail: str) -> ApiConnectionError:
    return ApiConnectionError(503, "ServiceUnavailable", f"cannot talk to the apiserver at {url}: {detail}")


def error_from_status(status: dict[str, Any], http_code: int = 0) -> ApiError:
    """An ApiError (or ExpiredError) from a Status object, falling back to ``http_code``."""
    code = status.get("code") if isinstance(status.get("code"), int) else http_code
    code = code or http_code or 500
    reason = status.get("reason") or _REASON_BY_CODE.get(code, "Unknown")
    message = status.get("message") or f"the server responded with {code} {reason}"
    details = status.get("details") if isinstance(status.get("details"), dict) else {}
    causes = []
    for cause in details.get("causes") or []:
        if isinstance(cause, dict):
            causes.append(Cause(reason=str(cause.get("reason", "")), message=str(cause.get("message", "")),
                                field=str(cause.get("field", ""))))
    retry_after = details.get("retryAfterSeconds")
    cls = ExpiredError if code == 410 or reason in ("Expired", "Gone") else ApiError
    return cls(code=code, reason=reason, message=message, name=str(details.get("name", "")),
               group=str(details.get("group", "")), kind=str(details.get("kind", "")), causes=causes,
               retry_after_seconds=retry_after if isinstance(retry_after, int) else 0)


def error_from_response(http_code: int, body: bytes, parsed: Any) -> ApiError:
    """An ApiError for a non-2xx response whose body may or may not be a Status."""
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return error_from_status(parsed, http_code)
    text = body.decode(errors="replace").strip()[:500]
    reason = _REASON_BY_CODE.get(http_code, "Unknown")
    message = text or f"the server responded with {http_code} {reason}"
    cls = ExpiredError if http_code == 410 else ApiError
    return cls(code=http_code, reason=reason, message=message)
