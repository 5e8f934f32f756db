"""The CRD controller: stored CRDs are served again by a restarted server before it is ready, a
second apiserver on the same store learns CRDs through the watch, and naming conflicts resolve
when the clashing CRD goes away."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.apiserver.crd_names import UsedNames, accepted_names, desired_status
from kybernetes.apiserver.crd_resource import version_priority
from kybernetes.apiserver.server import ApiServerConfig, build_app
from kybernetes.store import open_store
from tests.apiserver.conftest import ApiClient
from tests.apiserver.test_crd_helpers import CRDS, GROUP, condition, create_crd, gone, wait_for, widget_crd

WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"


@contextlib.asynccontextmanager
async def served(store, data_dir: Path):
    app = build_app(ApiServerConfig(data_dir=data_dir, bind_address="127.0.0.1", port=0, anonymous_admin=True),
                    store, builtin_registry())
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            yield ApiClient(server, session, store, app)
    finally:
        await server.close()


async def test_restarted_server_serves_stored_crds_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = await open_store(url)
    try:
        async with served(store, tmp_path) as api:
            await create_crd(api, widget_crd())
            status, _ = await api.post(WIDGETS, json={"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                                      "metadata": {"name": "kept"}, "spec": {"image": "x"}})
            assert status == 201
    finally:
        await store.close()
    store = await open_store(url)
    try:
        async with served(store, tmp_path) as api:
            status, body = await api.get(f"{WIDGETS}/kept")  # no waiting: served before ready
            assert status == 200, body
            assert body["spec"]["replicas"] == 1
            status, doc = await api.get(f"/apis/{GROUP}/v1")
            assert status == 200 and doc["resources"][0]["name"] == "widgets"
    finally:
        await store.close()


async def test_second_apiserver_learns_crds_through_the_watch():
    store = await open_store("sqlite://:memory:")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with served(store, Path(tmp)) as first, served(store, Path(tmp)) as second:
                await create_crd(first, widget_crd())
                await wait_for(second, f"/apis/{GROUP}/v1", lambda doc: bool(doc.get("resources")))
                status, _ = await second.post(WIDGETS, json={"apiVersion": f"{GROUP}/v1", "kind": "Widget",
                                                             "metadata": {"name": "w"}, "spec": {"image": "x"}})
                assert status == 201
                status, _ = await first.delete(f"{CRDS}/widgets.{GROUP}")
                assert status == 200
                await gone(second, f"{CRDS}/widgets.{GROUP}")
                await gone(second, f"/apis/{GROUP}/v1")
    finally:
        await store.close()


async def test_conflict_resolves_when_the_other_crd_goes(api):
    await create_crd(api, widget_crd())
    clash = widget_crd(plural="things", kind="Widget", short_names=(), categories=())
    status, _ = await api.post(CRDS, json=clash)
    assert status == 201
    body = await wait_for(api, f"{CRDS}/things.{GROUP}", lambda b: condition(b, "NamesAccepted") is not None)
    # Like upstream, the last clash checked (the list kind, after the kind) names the reason.
    assert condition(body, "NamesAccepted")["reason"] == "ListKindConflict"
    assert condition(body, "NamesAccepted")["message"] == '"WidgetList" is already in use'
    status, _ = await api.delete(f"{CRDS}/widgets.{GROUP}")
    assert status == 200
    await wait_for(api, f"{CRDS}/things.{GROUP}",
                   lambda b: (condition(b, "Established") or {}).get("status") == "True")
    status, _ = await api.get(f"/apis/{GROUP}/v1/namespaces/default/things")
    assert status == 200


def test_accepted_names_keep_held_names_and_report_conflicts():
    crd = widget_crd()
    crd["spec"]["names"]["singular"] = "widget"
    crd["spec"]["names"]["listKind"] = "WidgetList"
    used = UsedNames(resources={"wd"}, kinds=set())
    names, reason, message = accepted_names(crd, used)
    assert reason == "ShortNamesConflict" and message == '"wd" is already in use'
    assert "shortNames" not in names and names["plural"] == "widgets"
    crd["status"] = {"acceptedNames": {"plural": "widgets", "shortNames": ["wd"]}}
    names, reason, _ = accepted_names(crd, used)  # already ours
    assert reason == "" and names["shortNames"] == ["wd"]


def test_desired_status_establishes_once_and_records_storage_version():
    crd = widget_crd()
    status = desired_status(crd, UsedNames(), "v1")
    assert condition({"status": status}, "Established")["status"] == "True"
    assert status["storedVersions"] == ["v1"]
    crd["status"] = status
    assert desired_status(crd, UsedNames(), "v1") == status  # nothing to write the second time
    crd["spec"]["names"]["kind"] = "Taken"
    later = desired_status(crd, UsedNames(kinds={"Taken"}), "v2")
    assert condition({"status": later}, "NamesAccepted")["reason"] == "KindConflict"
    assert condition({"status": later}, "Established")["status"] == "True"  # stays established
    assert later["acceptedNames"]["kind"] == "Widget" and later["storedVersions"] == ["v1", "v2"]


def test_version_priority_orders_like_kubernetes():
    versions = ["v1alpha1", "foo", "v1", "v2beta1", "v1beta2", "v2", "v1beta1", "bar"]
    assert sorted(versions, key=version_priority) == [
        "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"]
