"""Health endpoints: /healthz, /livez, /readyz, and one path per check (/readyz/etcd, ...).

As on the real server, each endpoint runs a list of named checks. The plain answer is ``ok``;
with ``?verbose`` every check is listed (``[+]ping ok``) followed by ``<endpoint> check passed``;
a failing check turns the answer into HTTP 500 with ``[-]name failed: reason withheld``.
``?exclude=name`` skips a check.

/readyz is false until the server says it is ready: the server (server.py) either sets
``app[READINESS_KEY]`` to a callable before startup, or calls ``health_checks(app).set_ready()``
once the store is open and the system namespaces exist. During shutdown ``mark_shutting_down``
fails the ``shutdown`` check so load balancers stop sending traffic first.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Check = Callable[[], bool | Awaitable[bool]]

READINESS_KEY = web.AppKey("readiness", Check)

ENDPOINTS = ("healthz", "livez", "readyz")


@dataclass
class NamedCheck:
    name: str
    check: Check
    endpoints: tuple[str, ...]


class HealthChecks:
    """The mutable set of checks behind the three endpoints (kept in app state)."""

    def __init__(self) -> None:
        self._ready = False
        self._shutting_down = False
        self.checks: list[NamedCheck] = [
            NamedCheck("ping", lambda: True, ENDPOINTS),
            NamedCheck("log", lambda: True, ENDPOINTS),
        ]

    def add(self, name: str, check: Check, endpoints: tuple[str, ...] = ENDPOINTS) -> None:
        """Add (or replace) a named check on some endpoints, e.g. ("etcd", store_ok)."""
        self.checks = [c for c in self.checks if c.name != name]
        self.checks.append(NamedCheck(name, check, endpoints))

    def set_ready(self, ready: bool = True) -> None:
        self._ready = ready

    def mark_shutting_down(self) -> None:
        self._shutting_down = True

    def for_endpoint(self, endpoint: str, app: web.Application) -> list[NamedCheck]:
        checks = [c for c in self.checks if endpoint in c.endpoints]
        if endpoint == "readyz":
            readiness = app.get(READINESS_KEY)
            checks.append(NamedCheck("poststarthook/system-namespaces-ready",
                                     readiness if readiness is not None else (lambda: self._ready),
                                     ("readyz",)))
            checks.append(NamedCheck("shutdown", lambda: not self._shutting_down, ("readyz",)))
        return checks


HEALTH_CHECKS_KEY = web.AppKey("health_checks", HealthChecks)


def health_checks(app: web.Application) -> HealthChecks:
    return app[HEALTH_CHECKS_KEY]


async def _run(check: Check) -> bool:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    except Exception:  # a check that raises is a failed check, never a 500 traceback
        return False


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain",
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache, private"})


def setup_health(app: web.Application) -> None:
    """Register /healthz, /livez, /readyz and their per-check paths."""
    checks = HealthChecks()
    app[HEALTH_CHECKS_KEY] = checks

    def handler(endpoint: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            excluded = set(request.query.getall("exclude", []))
            lines, failed = [], False
            for c in checks.for_endpoint(endpoint, request.app):
                if c.name in excluded:
                    lines.append(f"[+]{c.name} excluded: ok")
                    continue
                if await _run(c.check):
                    lines.append(f"[+]{c.name} ok")
                else:
                    failed = True
                    lines.append(f"[-]{c.name} failed: reason withheld")
            if failed:
                return _text("\n".join(lines) + f"\n{endpoint} check failed\n", status=500)
            if "verbose" in request.query:
                return _text("\n".join(lines) + f"\n{endpoint} check passed\n")
            return _text("ok")

        return handle

    def single(endpoint: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            name = request.match_info["check"]
            for c in checks.for_endpoint(endpoint, request.app):
                if c.name == name:
                    if await _run(c.check):
                        return _text("ok")
                    return _text(f"internal server error: {name} check failed\n", status=500)
            return _text("404 page not found\n", status=404)

        return handle

    for endpoint in ENDPOINTS:
        app.router.add_get(f"/{endpoint}", handler(endpoint))
        app.router.add_get(f"/{endpoint}/{{check:.+}}", single(endpoint))
