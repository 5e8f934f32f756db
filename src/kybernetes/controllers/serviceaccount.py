"""Service accounts: every namespace has a "default" ServiceAccount (Kubernetes'
serviceaccounts-controller).

Keyed by namespace. A new or updated namespace, or a deleted ServiceAccount, queues its namespace;
reconcile creates each wanted account the cache does not hold. A Terminating namespace gets
nothing (the apiserver would refuse it anyway), and "already exists" is success: the cache was
behind.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import NAMESPACES, SERVICEACCOUNTS
from kybernetes.controllers.base import Controller, ControllerContext

Obj = dict[str, Any]

DEFAULT_ACCOUNTS = ("default",)


class ServiceAccountsController(Controller):
    name = "serviceaccount"
    workers = 1

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.accounts_wanted = tuple(ctx.options.get("service_accounts", DEFAULT_ACCOUNTS))
        self.namespaces = ctx.informer(NAMESPACES)
        self.accounts = ctx.informer(SERVICEACCOUNTS)
        self.namespaces.add_event_handler(**self.handlers())
        self.accounts.add_event_handler(on_delete=self._on_account_deleted)

    def _on_account_deleted(self, sa: Obj) -> None:
        m = sa.get("metadata") or {}
        if m.get("name") in self.accounts_wanted and m.get("namespace"):
            self.enqueue_key(m["namespace"])

    async def reconcile(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("status") or {}).get("phase") == "Terminating" \
                or (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        for name in self.accounts_wanted:
            if self.accounts.get_by_name(key, name) is not None:
                continue
            try:
                await self.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": name}}, key)
            except ApiError as e:
                if e.code == 409:  # AlreadyExists: the cache is behind
                    continue
                if e.code == 403 and "terminat" in e.message.lower():
                    return  # the namespace began terminating meanwhile
                raise
