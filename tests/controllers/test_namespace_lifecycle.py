"""A namespace's life with the controller-manager running this group's controllers: created, it
gets its default ServiceAccount and kube-root-ca.crt; filled with an owner tree; deleted, it is
emptied (the garbage collector and the namespace controller at work together) and disappears."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from kybernetes.client import ApiClient
from kybernetes.client.resource import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, SERVICEACCOUNTS
from kybernetes.controllers.garbagecollector import GarbageCollector
from kybernetes.controllers.manager import ControllerManager
from kybernetes.controllers.namespace import NamespaceController
from kybernetes.controllers.rootcacert import RootCACertPublisher
from kybernetes.controllers.serviceaccount import ServiceAccountsController
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.waiting import eventually

CA = "-----BEGIN CERTIFICATE-----\nMIIBlifecycle\n-----END CERTIFICATE-----\n"
LABELS = {"app": "web"}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


class ControllerApiServer(TestApiServer):
    def _config(self):
        return dataclasses.replace(super()._config(), inline_namespace_cleanup=False)




def ref(owner, kind):
    return {"apiVersion": "apps/v1", "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


async def test_namespace_lifecycle_with_controller_manager():
    async with ControllerApiServer() as srv, ApiClient(srv.url, qps=0) as client:
        controllers = {"garbagecollector": GarbageCollector, "namespace": NamespaceController,
                       "serviceaccount": ServiceAccountsController, "root-ca-cert-publisher": RootCACertPublisher}
        manager = ControllerManager(client, controllers, leader_elect=False, options={"root_ca": CA})
        task = asyncio.create_task(manager.run())
        try:
            await asyncio.wait_for(manager.started.wait(), 10)
            await client.create(NAMESPACES, {"metadata": {"name": "app"}})

            async def namespace_furnished():
                sa = await client.get_or_none(SERVICEACCOUNTS, "default", "app")
                cm = await client.get_or_none(CONFIGMAPS, "kube-root-ca.crt", "app")
                return sa is not None and cm is not None and cm["data"]["ca.crt"] == CA
            await eventually(timeout=8.0, condition=namespace_furnished)

            dep = await client.create(DEPLOYMENTS, {
                "metadata": {"name": "web", "namespace": "app"},
                "spec": {"replicas": 1, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
            rs = await client.create(REPLICASETS, {
                "metadata": {"name": "web-rs", "namespace": "app", "ownerReferences": [ref(dep, "Deployment")]},
                "spec": {"replicas": 1, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}})
            await client.create(PODS, {"metadata": {"name": "web-0", "namespace": "app", "labels": LABELS,
                                                    "ownerReferences": [ref(rs, "ReplicaSet")]},
                                       "spec": TEMPLATE["spec"]})
            await client.delete(NAMESPACES, "app")

            async def namespace_gone():
                return await client.get_or_none(NAMESPACES, "app") is None
            await eventually(timeout=8.0, condition=namespace_gone)
            for resource in (PODS, REPLICASETS, DEPLOYMENTS, CONFIGMAPS, SERVICEACCOUNTS):
                assert (await client.list(resource, "app"))["items"] == []
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
