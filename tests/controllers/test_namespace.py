"""Namespace controller: a deleted namespace is emptied, its conditions say why it waits, and
the "kubernetes" finalizer goes through namespaces/{name}/finalize."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client import SharedInformerFactory
from kybernetes.client.resource import CONFIGMAPS, NAMESPACES, PODS, SECRETS
from kybernetes.controllers.base import ControllerContext
from kybernetes.controllers.namespace import NamespaceController
from kybernetes.controllers.namespace_deleter import ContentReport, updated_conditions
from kybernetes.testing.apiserver import TestApiServer
from kybernetes.testing.recording import RecordingClient
from kybernetes.testing.waiting import eventually


class ControllerApiServer(TestApiServer):
    """The apiserver as kyb up runs it with a controller-manager: no inline namespace emptying."""

    def _config(self):
        return dataclasses.replace(super()._config(), inline_namespace_cleanup=False)


@pytest.fixture
async def srv():
    async with ControllerApiServer() as server:
        yield server


@pytest.fixture
async def client(srv):
    c = RecordingClient(srv.url, qps=0)
    try:
        yield c
    finally:
        await c.close()


@contextlib.asynccontextmanager
async def running(controller_cls, client, options=None):
    informers = SharedInformerFactory(client)
    ctx = ControllerContext(client, informers, options=options or {})
    controller = controller_cls(ctx)
    informers.start()
    assert await informers.wait_for_cache_sync(5)
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await informers.shutdown()




def cm(name, namespace, **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, **meta},
            "data": {"k": "v"}}


async def test_apiserver_without_inline_cleanup_only_marks_namespace(client):
    await client.create(NAMESPACES, {"metadata": {"name": "keep"}})
    await client.create(CONFIGMAPS, cm("a", "keep"))
    await client.delete(NAMESPACES, "keep")
    ns = await client.get(NAMESPACES, "keep")
    assert ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert await client.get_or_none(CONFIGMAPS, "a", "keep") is not None
    # A status update must not remove a namespace that still has spec finalizers.
    ns["status"]["conditions"] = [{"type": "NamespaceContentRemaining", "status": "True"}]
    await client.update_status(NAMESPACES, ns)
    assert await client.get_or_none(NAMESPACES, "keep") is not None


async def test_finalize_subresource_removes_terminating_namespace(client):
    await client.create(NAMESPACES, {"metadata": {"name": "fin"}})
    ns = await client.get(NAMESPACES, "fin")
    ns["spec"]["finalizers"] = ["example.com/x", "kubernetes"]
    out = await client.update(NAMESPACES, ns, subresource="finalize")
    assert out["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    await client.delete(NAMESPACES, "fin")
    out["spec"]["finalizers"] = ["example.com/x"]
    out["metadata"].pop("resourceVersion")
    await client.update(NAMESPACES, out, subresource="finalize")
    assert (await client.get(NAMESPACES, "fin"))["status"]["phase"] == "Terminating"
    out["spec"]["finalizers"] = []
    await client.update(NAMESPACES, out, subresource="finalize")
    assert await client.get_or_none(NAMESPACES, "fin") is None


async def test_finalize_rejects_bad_body(client):
    await client.create(NAMESPACES, {"metadata": {"name": "bad"}})
    with pytest.raises(ApiError) as e:
        await client.update(NAMESPACES, {"kind": "Pod", "metadata": {"name": "bad"}}, subresource="finalize")
    assert e.value.code == 400


async def test_namespace_without_finalizers_goes_at_once(client):
    await client.create(NAMESPACES, {"metadata": {"name": "bare"}, "spec": {"finalizers": []}})
    await client.delete(NAMESPACES, "bare")
    assert await client.get_or_none(NAMESPACES, "bare") is None


async def test_reconcile_empties_and_finalizes(client):
    await client.create(NAMESPACES, {"metadata": {"name": "gone"}})
    await client.create(CONFIGMAPS, cm("a", "gone"))
    await client.create(SECRETS, {"metadata": {"name": "s", "namespace": "gone"}, "stringData": {"x": "y"}})
    await client.create(PODS, {"metadata": {"name": "p", "namespace": "gone"},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    await client.delete(NAMESPACES, "gone")
    informers = SharedInformerFactory(client)
    controller = NamespaceController(ControllerContext(client, informers))
    client.clear()
    await controller.reconcile("gone")
    assert await client.get_or_none(NAMESPACES, "gone") is None
    assert "deletecollection" in client.verbs_on("configmaps")
    assert "deletecollection" in client.verbs_on("pods")
    status_writes = [a for a in client.actions if a.resource == "namespaces/status"]
    assert len(status_writes) == 1  # the conditions, once
    conditions = {c["type"]: c for c in status_writes[0].body["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert conditions["NamespaceContentRemaining"]["status"] == "False"
    finalize = [a for a in client.actions if a.resource == "namespaces/finalize"]
    assert len(finalize) == 1 and finalize[0].body["spec"]["finalizers"] == []
    assert client.actions[-1].resource == "namespaces/finalize"


async def test_content_with_finalizers_keeps_namespace_and_reports(client):
    await client.create(NAMESPACES, {"metadata": {"name": "stuck"}})
    await client.create(CONFIGMAPS, cm("held", "stuck", finalizers=["example.com/hold"]))
    await client.delete(NAMESPACES, "stuck")
    controller = NamespaceController(ControllerContext(client, SharedInformerFactory(client)))
    await controller.reconcile("stuck")
    ns = await client.get(NAMESPACES, "stuck")
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["status"] == "True"
    assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conditions["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps has 1 resource instances"
    assert conditions["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    assert conditions["NamespaceDeletionDiscoveryFailure"]["reason"] == "ResourcesDiscovered"
    assert conditions["NamespaceDeletionContentFailure"]["reason"] == "ContentDeleted"
    assert controller.queue.waiting == 1  # looked at again after the finalizer estimate

    # The finalizer goes; the next pass finishes the namespace.
    held = await client.get(CONFIGMAPS, "held", "stuck")
    held["metadata"]["finalizers"] = []
    await client.update(CONFIGMAPS, held)
    await controller.reconcile("stuck")
    assert await client.get_or_none(NAMESPACES, "stuck") is None


def test_conditions_keep_transition_time_when_unchanged():
    report = ContentReport(remaining={"pods": 2})
    first, changed = updated_conditions([], report, "2026-01-01T00:00:00Z")
    assert changed and len(first) == 5
    again, changed = updated_conditions(first, report, "2026-01-01T00:05:00Z")
    assert not changed and again == first
    done, changed = updated_conditions(first, ContentReport(), "2026-01-01T00:09:00Z")
    remaining = next(c for c in done if c["type"] == "NamespaceContentRemaining")
    assert changed and remaining["status"] == "False" and remaining["lastTransitionTime"] == "2026-01-01T00:09:00Z"
    failure = next(c for c in done if c["type"] == "NamespaceDeletionContentFailure")
    assert failure["lastTransitionTime"] == "2026-01-01T00:00:00Z"


async def test_end_to_end_namespace_deletion(client):
    async with running(NamespaceController, client):
        await client.create(NAMESPACES, {"metadata": {"name": "e2e"}})
        for i in range(3):
            await client.create(CONFIGMAPS, cm(f"c{i}", "e2e"))
        await client.delete(NAMESPACES, "e2e")

        async def gone():
            return await client.get_or_none(NAMESPACES, "e2e") is None
        await eventually(gone)
        assert (await client.list(CONFIGMAPS, "e2e"))["items"] == []
