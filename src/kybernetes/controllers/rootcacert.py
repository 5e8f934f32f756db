"""The root CA publisher: a "kube-root-ca.crt" ConfigMap in every namespace (Kubernetes'
root-ca-cert-publisher).

Pods verify the apiserver's serving certificate with it (projected service-account volumes mount
it as ca.crt). The CA comes from ``options["root_ca_file"]`` (a PEM file path) or
``options["root_ca"]`` (the PEM text); without either the controller publishes nothing.

Keyed by namespace: a new or updated namespace, or a change to or deletion of the ConfigMap,
queues its namespace; reconcile creates the ConfigMap or puts back its data and the description
annotation, leaving anything else on it alone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import CONFIGMAPS, NAMESPACES
from kybernetes.controllers.base import Controller, ControllerContext

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CONFIGMAP_NAME = "kube-root-ca.crt"
DATA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
               "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
               "guaranteed across distributions of Kubernetes clusters.")


def load_root_ca(options: dict[str, Any]) -> str:
    """The CA bundle from the options ("" when none is configured)."""
    text = options.get("root_ca")
    if isinstance(text, bytes):
        return text.decode()
    if isinstance(text, str) and text:
        return text
    path = options.get("root_ca_file")
    if path:
        try:
            return Path(path).read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read the root CA file {path}: {e}") from None
    return ""


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 1

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.root_ca = load_root_ca(ctx.options)
        if not self.root_ca:
            log.warning("%s: no root_ca_file or root_ca option; publishing nothing", self.name)
        self.namespaces = ctx.informer(NAMESPACES)
        self.configmaps = ctx.informer(CONFIGMAPS)
        self.namespaces.add_event_handler(**self.handlers())
        self.configmaps.add_event_handler(on_update=lambda _old, new: self._on_configmap(new),
                                          on_delete=self._on_configmap)

    def _on_configmap(self, cm: Obj) -> None:
        m = cm.get("metadata") or {}
        if m.get("name") == CONFIGMAP_NAME and m.get("namespace"):
            self.enqueue_key(m["namespace"])

    async def reconcile(self, key: str) -> None:
        if not self.root_ca:
            return
        ns = self.namespaces.get(key)
        if ns is None or (ns.get("status") or {}).get("phase") == "Terminating" \
                or (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        data = {DATA_KEY: self.root_ca}
        cm = self.configmaps.get_by_name(key, CONFIGMAP_NAME)
        try:
            if cm is None:
                await self.client.create(CONFIGMAPS, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": CONFIGMAP_NAME, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data}, key)
                return
            annotations = (cm.get("metadata") or {}).get("annotations") or {}
            if cm.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
                return
            new = deep_copy(cm)
            new["data"] = data
            new.pop("binaryData", None)
            new["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
            await self.client.update(CONFIGMAPS, new, key)
        except ApiError as e:
            if e.code == 409 and cm is None:
                return  # created meanwhile: its add/update event queues us again if it differs
            if e.code == 403 and "terminat" in e.message.lower():
                return
            if e.code == 404 and cm is not None:
                return  # deleted meanwhile: the delete event queues us again
            raise
