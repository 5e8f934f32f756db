"""DefaultBinder: write the decision as a Binding (POST pods/{name}/binding).

A 409 means the pod is already bound (another scheduler, or an earlier attempt of ours that
timed out but landed) or is being deleted: there is nothing to retry, so the status is
UnschedulableAndUnresolvable and the scheduler drops the pod; the informer reports what happened.
"""

from __future__ import annotations

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import PODS
from kybernetes.scheduler.framework import Code, Plugin, Status
from kybernetes.scheduler.podinfo import PodInfo


class DefaultBinder(Plugin):
    NAME = "DefaultBinder"

    async def bind(self, state, pod: PodInfo, node_name: str) -> Status | None:
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        try:
            await self.handle.client.create(PODS, binding, pod.namespace, name=pod.name, subresource="binding")
        except ApiError as e:
            if e.code in (404, 409):
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, str(e))
            return Status(Code.ERROR, f"binding rejected: {e}")
        return None
