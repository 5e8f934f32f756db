"""The request an admission runs for, without threading it through every layer.

Admission plugins sit under objects.py and deletion.py, which know nothing of HTTP; yet a
webhook's warnings must reach the client as ``Warning`` headers (warnings.py needs the request).
``admission_request_middleware`` puts the current request in a context variable for the life of
the handler; asyncio copies context into tasks, so validating webhooks called in parallel see it
too. Outside a request (tests calling the object store directly) warnings stay on the
Attributes only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from aiohttp import web

from kybernetes.apiserver.warnings import add_warning

_current_request: ContextVar[web.Request | None] = ContextVar("kyb_admission_request", default=None)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def admission_request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = _current_request.set(request)
    try:
        return await handler(request)
    finally:
        _current_request.reset(token)


def warn_current_request(text: str) -> None:
    request = _current_request.get()
    if request is not None:
        add_warning(request, text)
