"""The ReplicationController controller: the ReplicaSet controller for the older core/v1 kind.

Kubernetes runs the same code for both, adapting the kind; so does this. The differences are
the group (core, ``v1``), the kind named in ownerReferences, and the selector: a plain label map
(equality on every key) instead of a metav1.LabelSelector. The apiserver defaults an absent
selector to the template's labels; an empty one here selects nothing rather than everything.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.selectors import NOTHING, LabelSelector, selector_from_set
from kybernetes.client.resource import REPLICATIONCONTROLLERS
from kybernetes.controllers.replicaset import ReplicaSetController


class ReplicationControllerController(ReplicaSetController):
    name = "replication-controller"
    resource = REPLICATIONCONTROLLERS
    api_version = "v1"
    kind = "ReplicationController"

    def selector_of(self, owner: dict[str, Any]) -> LabelSelector:
        selector = (owner.get("spec") or {}).get("selector")
        if not isinstance(selector, dict) or not selector:
            return NOTHING
        return selector_from_set({str(k): str(v) for k, v in selector.items()})
