"""RecordingClient: a real ApiClient that also writes down every change it asks for.

Controller tests in the sample-controller style seed the informer caches, run one reconcile,
and assert the actions the controller took ("created 3 pods", "updated the status once"). The
client still talks to a real (in-process) apiserver, so the actions also really happen.

    client = RecordingClient(srv.url)
    ... reconcile ...
    assert client.verbs_on("pods") == ["create", "create", "create"]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.client.resource import Resource
from kybernetes.client.rest import ApiClient


@dataclass(frozen=True)
class Action:
    verb: str  # create | update | patch | delete | deletecollection
    resource: str  # plural, with "/subresource" when one was used
    namespace: str | None
    name: str | None
    body: Any = None


class RecordingClient(ApiClient):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.actions: list[Action] = []

    def _record(self, verb: str, resource: Resource, namespace: str | None, name: str | None,
                subresource: str | None, body: Any) -> None:
        res = resource.resource + (f"/{subresource}" if subresource else "")
        self.actions.append(Action(verb, res, namespace, name, body))

    def verbs_on(self, resource: str) -> list[str]:
        return [a.verb for a in self.actions if a.resource == resource]

    def clear(self) -> None:
        self.actions.clear()

    async def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, **kw: Any):
        meta = obj.get("metadata") or {}
        self._record("create", resource, namespace or meta.get("namespace"),
                     kw.get("name") or meta.get("name") or meta.get("generateName"), kw.get("subresource"), obj)
        return await super().create(resource, obj, namespace, **kw)

    async def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, **kw: Any):
        meta = obj.get("metadata") or {}
        self._record("update", resource, namespace or meta.get("namespace"), meta.get("name"),
                     kw.get("subresource"), obj)
        return await super().update(resource, obj, namespace, **kw)

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, **kw: Any):
        self._record("patch", resource, namespace, name, kw.get("subresource"), patch)
        return await super().patch(resource, name, patch, namespace, **kw)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None, **kw: Any):
        self._record("delete", resource, namespace, name, None, None)
        return await super().delete(resource, name, namespace, **kw)

    async def delete_collection(self, resource: Resource, namespace: str | None = None, **kw: Any):
        self._record("deletecollection", resource, namespace, None, None, None)
        return await super().delete_collection(resource, namespace, **kw)
