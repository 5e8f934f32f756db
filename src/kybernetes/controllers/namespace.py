"""The namespace controller: a Terminating namespace is emptied, then released (Kubernetes'
namespace controller).

A DELETE of a namespace only marks it (deletionTimestamp, phase Terminating); its spec.finalizers
holds "kubernetes", which is this controller's promise to empty it first:

    namespace with deletionTimestamp ──► phase Terminating (status)
        └─► "kubernetes" still in spec.finalizers?  delete every object in it (namespace_deleter.py)
              content left (graceful pods, finalizers)?  conditions say why; look again in
                                                          estimate/2 + 1 seconds
              empty?  PUT namespaces/{name}/finalize without "kubernetes"; with no finalizer
                      left, the apiserver removes the namespace

The namespace is read from the server, not the cache, as upstream does: several controllers edit
a terminating namespace, and acting on an old copy would only produce conflicts.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import NAMESPACES
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.namespace_deleter import NamespaceContentDeleter, now_text, updated_conditions

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FINALIZER = "kubernetes"


class NamespaceController(Controller):
    name = "namespace"
    workers = 5

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.namespaces = ctx.informer(NAMESPACES)
        self.deleter = NamespaceContentDeleter(self.client, self.clock)
        self.namespaces.add_event_handler(**self.handlers(self._on_namespace))

    def _on_namespace(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue(ns)

    async def reconcile(self, key: str) -> None:
        ns = await self.client.get_or_none(NAMESPACES, key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        ns = await self._ensure_terminating(ns)
        if ns is None or FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return  # already finalized by us; other finalizers (or the apiserver) finish it
        report = await self.deleter.delete_all_content(key)
        ns = await self._write_conditions(ns, report)
        if report.errors or report.discovery_failures:
            raise RuntimeError(f"namespace {key}: content deletion incomplete: "
                               + "; ".join(report.errors + list(report.discovery_failures.values())))
        if report.estimate > 0:
            self.requeue_after(key, report.estimate / 2 + 1)
            return
        await self._finalize(ns)

    async def _ensure_terminating(self, ns: Obj) -> Obj | None:
        if (ns.get("status") or {}).get("phase") == "Terminating":
            return ns
        new = deep_copy(ns)
        new.setdefault("status", {})["phase"] = "Terminating"
        try:
            return await self.client.update_status(NAMESPACES, new)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    async def _write_conditions(self, ns: Obj, report) -> Obj:
        status = ns.get("status") or {}
        conditions, changed = updated_conditions(status.get("conditions") or [], report, now_text(self.clock))
        if not changed:
            return ns
        new = deep_copy(ns)
        new.setdefault("status", {})["conditions"] = conditions
        try:
            return await self.client.update_status(NAMESPACES, new)
        except ApiError as e:
            if e.code == 404:
                return ns
            raise  # a conflict: the next pass starts from the latest copy

    async def _finalize(self, ns: Obj) -> None:
        new = deep_copy(ns)
        spec = new.setdefault("spec", {})
        spec["finalizers"] = sorted({f for f in spec.get("finalizers") or [] if f != FINALIZER})
        log.info("namespace %s: empty; removing the %r finalizer", ns["metadata"]["name"], FINALIZER)
        try:
            await self.client.update(NAMESPACES, new, subresource="finalize")
        except ApiError as e:
            if e.code != 404:
                raise
