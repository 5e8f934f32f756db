"""RBAC in the apiserver: the authorizer, the default policy, aggregation, and read-your-writes.

    build_app ──► RbacRuntime(store, registry)       .authorizer joins the chain after SystemMasters
              ──► rbac_write_middleware               after an RBAC write: index current, aggregated
              ──► setup_rbac(app, runtime, objects, hub)
                      start:    watch the four kinds, reconcile the bootstrap policy, aggregate
                      shutdown: stop watching (before the hub closes its feeds)

The middleware is what makes a RoleBinding usable by the very next request: the response to a
successful create/update/patch/delete of an RBAC object is sent only once the authorizer's index
has re-read the store (and aggregated roles have been rewritten if a ClusterRole changed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kybernetes.apiserver.authz_rbac import RBAC_GROUP, RBAC_RESOURCES, RbacAuthorizer
from kybernetes.apiserver.rbac_aggregation import ClusterRoleAggregator
from kybernetes.apiserver.rbac_bootstrap import reconcile_bootstrap_policy
from kybernetes.apiserver.request_info import RequestInfo

log = logging.getLogger(__name__)

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "apply"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RbacRuntime:
    def __init__(self, store: Any, registry: Any):
        self.store = store
        self.registry = registry
        self.authorizer = RbacAuthorizer(store, None, registry)
        self.aggregator: ClusterRoleAggregator | None = None

    async def after_write(self, resource: str) -> None:
        """Make this server's authorizer see a write it has just made."""
        await self.authorizer.catch_up(resource)
        if resource == "clusterroles" and self.aggregator is not None and await self.aggregator.run():
            await self.authorizer.catch_up(resource)

    async def start(self, objects: Any) -> None:
        await self.authorizer.start()
        try:
            await reconcile_bootstrap_policy(objects)
        except Exception:  # serve anyway: system:masters still works, the next start retries
            log.exception("reconciling the default RBAC policy failed")
        await self.authorizer.catch_up()
        if self.aggregator is not None:
            await self.aggregator.run()
            await self.authorizer.catch_up()

    async def stop(self) -> None:
        if self.aggregator is not None:
            await self.aggregator.stop()
        await self.authorizer.stop()


def is_rbac_write(ri: RequestInfo) -> bool:
    return (ri.is_resource_request and ri.group == RBAC_GROUP and ri.resource in RBAC_RESOURCES
            and not ri.subresource and ri.verb in WRITE_VERBS)


def rbac_write_middleware(runtime: RbacRuntime, request_info_of: Callable[[web.Request], RequestInfo]):
    @web.middleware
    async def rbac_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if response.status < 400:
            ri = request_info_of(request)
            if is_rbac_write(ri):
                await runtime.after_write(ri.resource)
        return response

    return rbac_writes


def setup_rbac(app: web.Application, runtime: RbacRuntime, objects: Any, hub: Any) -> None:
    """Call after build_app's own start-up hook is added: the policy is written once the store,
    the watch hub and admission are up."""
    runtime.authorizer.hub = hub
    runtime.aggregator = ClusterRoleAggregator(objects, runtime.authorizer.index)
    runtime.authorizer.listeners.append(runtime.aggregator.trigger)

    async def on_startup(app: web.Application) -> None:
        await runtime.start(objects)

    async def on_shutdown(app: web.Application) -> None:
        await runtime.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.insert(0, on_shutdown)  # before the hub ends the feeds it listens to
