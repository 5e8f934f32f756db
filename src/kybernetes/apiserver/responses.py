"""Responses and the error boundary.

Every answer is JSON (or YAML when that is what the client reads). Every failure becomes a
meta/v1 Status here, once: ApiErrors carry their code and reason; aiohttp's own 404/405 for
paths no route matches become the Status the real server sends; anything unexpected is logged
with its traceback and answered 500 InternalError, never an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.errors import ApiError

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
YAML_CONTENT_TYPE = "application/yaml"

_YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def body_response(body: bytes, status: int = 200, content_type: str = JSON_CONTENT_TYPE,
                  headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(body=body, status=status, headers=headers)
    resp.content_type = content_type
    return resp


def object_response(obj: Any, status: int = 200, media: str = "json") -> web.Response:
    if media == "yaml":
        text = yaml.dump(obj, Dumper=_YamlDumper, default_flow_style=False, sort_keys=False)
        return body_response(text.encode(), status, YAML_CONTENT_TYPE)
    return body_response(orjson.dumps(obj), status)


def error_response(err: ApiError) -> web.Response:
    headers = {}
    if err.retry_after_seconds:
        headers["Retry-After"] = str(err.retry_after_seconds)
    return body_response(orjson.dumps(err.to_status()), err.code, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, "NotFound", "the server could not find the requested resource")
    if exc.status == 405:
        return errors.method_not_allowed("the server does not allow this method on the requested resource")
    if exc.status == 413:
        return errors.request_entity_too_large(exc.text or "request entity too large")
    reason = exc.reason.replace(" ", "") if exc.reason else "Unknown"
    return ApiError(exc.status, reason, exc.text or exc.reason or "")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def status_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return error_response(_from_http_exception(e))
    except (ConnectionResetError, web.RequestPayloadError) as e:
        # The client went away or sent a broken body; nothing useful can be answered.
        log.debug("request %s %s aborted: %s", request.method, request.path, e)
        return error_response(errors.bad_request(f"the request body could not be read: {e}"))
    except Exception as e:  # noqa: BLE001 - the boundary: log it, answer a Status
        log.exception("internal error serving %s %s", request.method, request.path_qs)
        return error_response(errors.internal(f"{type(e).__name__}: {e}"))
