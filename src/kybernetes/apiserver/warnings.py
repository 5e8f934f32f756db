"""Warning headers: messages a request earns without failing (``Warning: 299 - "text"``).

kubectl prints each as ``Warning: text``. Handlers call ``add_warning(request, text)``; one
response-prepare hook writes them all, so no handler has to thread headers through.
"""

from __future__ import annotations

from aiohttp import web

_WARNINGS_KEY = web.RequestKey("warnings", list)


def add_warning(request: web.Request, text: str) -> None:
    warnings = request.get(_WARNINGS_KEY)
    if warnings is None:
        warnings = []
        request[_WARNINGS_KEY] = warnings
    if text not in warnings:
        warnings.append(text)


def _header_value(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


async def _write_warnings(request: web.Request, response: web.StreamResponse) -> None:
    for text in request.get(_WARNINGS_KEY) or ():
        response.headers.add("Warning", _header_value(text))


def setup_warnings(app: web.Application) -> None:
    app.on_response_prepare.append(_write_warnings)
