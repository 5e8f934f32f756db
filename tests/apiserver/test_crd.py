"""CustomResourceDefinitions end to end through the REST API: establish, CRUD, schema
validation, pruning, defaults, discovery, deletion."""

from __future__ import annotations

import asyncio
import json

from tests.apiserver.test_crd_helpers import CRDS, GROUP, condition, create_crd, gone, wait_for, widget_crd

BASE = f"/apis/{GROUP}/v1/namespaces/default/widgets"


def widget(name: str = "w1", **spec) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"image": "nginx", **spec}}


async def test_crd_is_established_with_accepted_names_and_finalizer(api):
    crd = await create_crd(api, widget_crd())
    assert condition(crd, "NamesAccepted")["status"] == "True"
    assert condition(crd, "NamesAccepted")["reason"] == "NoConflicts"
    assert condition(crd, "Established")["reason"] == "InitialNamesAccepted"
    names = crd["status"]["acceptedNames"]
    assert names["plural"] == "widgets" and names["kind"] == "Widget"
    assert names["singular"] == "widget" and names["listKind"] == "WidgetList"
    assert names["shortNames"] == ["wd"] and names["categories"] == ["all"]
    assert crd["status"]["storedVersions"] == ["v1"]
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]


async def test_custom_resource_crud_and_list(api):
    await create_crd(api, widget_crd())
    status, created = await api.post(BASE, json=widget(replicas=3))
    assert status == 201, created
    assert created["apiVersion"] == f"{GROUP}/v1" and created["kind"] == "Widget"
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    status, got = await api.get(f"{BASE}/w1")
    assert status == 200 and got["spec"]["replicas"] == 3
    got["spec"]["image"] = "nginx:2"
    status, updated = await api.put(f"{BASE}/w1", json=got)
    assert status == 200 and updated["metadata"]["generation"] == 2
    status, patched = await api.patch(f"{BASE}/w1", json={"spec": {"color": "blue"}})
    assert status == 200 and patched["spec"]["color"] == "blue"
    status, listed = await api.get(BASE)
    assert status == 200 and listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    assert listed["items"][0]["apiVersion"] == f"{GROUP}/v1"
    status, _ = await api.delete(f"{BASE}/w1")
    assert status == 200
    status, _ = await api.get(f"{BASE}/w1")
    assert status == 404


async def test_invalid_custom_resource_is_422_with_field_paths(api):
    await create_crd(api, widget_crd())
    status, body = await api.post(BASE, json=widget(replicas="three"))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    causes = body["details"]["causes"]
    assert {"reason": "FieldValueTypeInvalid", "field": "spec.replicas",
            "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"'} in causes
    assert body["message"].startswith(f'Widget.{GROUP} "w1" is invalid: ')

    bad = widget(replicas=20, size="huge", code="ABC", tags=["a", "b", "c", "a"])
    del bad["spec"]["image"]
    status, body = await api.post(BASE, json=bad)
    assert status == 422
    messages = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert messages["spec.replicas"] == "Invalid value: 20: spec.replicas in body should be less than or equal to 10"
    assert messages["spec.size"] == 'Unsupported value: "huge": supported values: "small", "large"'
    assert messages["spec.code"] == 'Invalid value: "ABC": spec.code in body should match \'^[a-z]+$\''
    assert messages["spec.tags"] == "Too many: 4: must have at most 3 items"
    assert messages["spec.tags[3]"] == 'Duplicate value: "a"'
    assert messages["spec.image"] == "Required value"


async def test_unknown_fields_are_pruned_and_strict_rejects_them(api):
    await create_crd(api, widget_crd())
    obj = widget(extra={"anything": {"goes": 1}})
    obj["spec"]["bogus"] = 1
    obj["topLevel"] = "x"
    obj["metadata"]["madeUp"] = "y"
    status, body = await api.post(BASE, json=obj, params={"fieldValidation": "Strict"})
    assert status == 400
    assert 'unknown field "spec.bogus"' in body["message"]
    assert 'unknown field "topLevel"' in body["message"]
    status, created = await api.post(BASE, json=obj)
    assert status == 201, created
    assert "bogus" not in created["spec"] and "topLevel" not in created
    assert "madeUp" not in created["metadata"]
    assert created["spec"]["extra"] == {"anything": {"goes": 1}}  # preserve-unknown-fields


async def test_schema_defaults_on_create_update_and_nulls(api):
    await create_crd(api, widget_crd())
    status, created = await api.post(BASE, json=widget(replicas=None, nickname=None))
    assert status == 201, created
    assert created["spec"]["replicas"] == 1 and created["spec"]["size"] == "small"
    assert created["spec"]["nickname"] is None  # nullable keeps its null
    status, patched = await api.patch(f"{BASE}/w1", json={"spec": {"size": None}})
    assert status == 200 and patched["spec"]["size"] == "small"


async def test_int_or_string_and_nullable(api):
    await create_crd(api, widget_crd())
    for i, port in enumerate((80, "http")):
        status, body = await api.post(BASE, json=widget(f"p{i}", port=port))
        assert status == 201, body
    status, body = await api.post(BASE, json=widget("p3", port=1.5))
    assert status == 422
    assert body["details"]["causes"][0]["message"].endswith('must be of type integer,string: "number"')


async def test_status_subresource_splits_status_from_spec(api):
    await create_crd(api, widget_crd())
    obj = widget()
    obj["status"] = {"phase": "Ignored"}
    status, created = await api.post(BASE, json=obj)
    assert status == 201 and "status" not in created
    status, body = await api.patch(f"{BASE}/w1/status", json={"status": {"phase": "Ready", "replicas": 2},
                                                             "spec": {"image": "ignored"}})
    assert status == 200, body
    assert body["status"]["phase"] == "Ready" and body["spec"]["image"] == "nginx"
    status, body = await api.patch(f"{BASE}/w1", json={"status": {"phase": "Nope"}})
    assert status == 200 and body["status"]["phase"] == "Ready"
    status, body = await api.patch(f"{BASE}/w1/status", json={"status": {"replicas": "two"}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "status.replicas"


async def test_scale_subresource(api):
    await create_crd(api, widget_crd())
    await api.post(BASE, json=widget(replicas=2, selector="app=w"))
    await api.patch(f"{BASE}/w1/status", json={"status": {"replicas": 2}})
    status, scale = await api.get(f"{BASE}/w1/scale")
    assert status == 200, scale
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 2, "selector": "app=w"}
    status, scale = await api.patch(f"{BASE}/w1/scale", json={"spec": {"replicas": 5}})
    assert status == 200 and scale["spec"]["replicas"] == 5
    status, got = await api.get(f"{BASE}/w1")
    assert got["spec"]["replicas"] == 5
    status, body = await api.patch(f"{BASE}/w1/scale", json={"spec": {"replicas": 50}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.replicas"


async def test_printer_columns_in_table(api):
    await create_crd(api, widget_crd())
    await api.post(BASE, json=widget(replicas=2))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, table = await api.get(BASE, headers={"Accept": accept})
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Image", "Replicas", "Phase", "Age"]
    assert table["columnDefinitions"][3]["priority"] == 1
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["w1", "nginx", 2, None]
    status, one = await api.get(f"{BASE}/w1", headers={"Accept": accept})
    assert one["rows"][0]["cells"][1] == "nginx"


async def test_selectable_fields_filter_lists(api):
    await create_crd(api, widget_crd())
    await api.post(BASE, json=widget("blue", color="blue"))
    await api.post(BASE, json=widget("red", color="red"))
    status, body = await api.get(BASE, params={"fieldSelector": "spec.color=blue"})
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["blue"]
    status, body = await api.get(BASE, params={"fieldSelector": "spec.color!=blue,metadata.name=red"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["red"]
    status, body = await api.get(BASE, params={"fieldSelector": "spec.image=nginx"})
    assert status == 400 and "field label not supported: spec.image" in body["message"]


async def test_discovery_lists_the_custom_resource(api):
    await create_crd(api, widget_crd())
    status, doc = await api.get(f"/apis/{GROUP}/v1")
    assert status == 200
    entry = next(r for r in doc["resources"] if r["name"] == "widgets")
    assert entry["kind"] == "Widget" and entry["namespaced"] is True and entry["singularName"] == "widget"
    assert entry["shortNames"] == ["wd"] and entry["categories"] == ["all"]
    assert {r["name"] for r in doc["resources"]} >= {"widgets/status", "widgets/scale"}
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    status, agg = await api.get("/apis", headers={"Accept": accept})
    group = next(g for g in agg["items"] if g["metadata"]["name"] == GROUP)
    resource = group["versions"][0]["resources"][0]
    assert resource["resource"] == "widgets" and resource["responseKind"]["kind"] == "Widget"


async def test_cluster_scoped_and_multiple_versions(api):
    crd = widget_crd(scope="Cluster", plural="gadgets", kind="Gadget", short_names=("gd",),
                     extra_versions=("v1beta1",))
    await create_crd(api, crd)
    status, body = await api.post(f"/apis/{GROUP}/v1beta1/gadgets",
                                  json={"apiVersion": f"{GROUP}/v1beta1", "kind": "Gadget",
                                        "metadata": {"name": "g1"}, "spec": {"image": "x"}})
    assert status == 201, body
    assert "namespace" not in body["metadata"]
    status, body = await api.get(f"/apis/{GROUP}/v1/gadgets/g1")
    assert status == 200 and body["apiVersion"] == f"{GROUP}/v1"
    status, group = await api.get(f"/apis/{GROUP}")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    status, _ = await api.get(f"/apis/{GROUP}/v1/namespaces/default/gadgets/g1")
    assert status == 404


async def test_watch_custom_resources(api):
    await create_crd(api, widget_crd())
    url = api.url + BASE + "?watch=true&timeoutSeconds=5"
    async with api.session.get(url) as resp:
        assert resp.status == 200
        await api.post(BASE, json=widget())
        line = await asyncio.wait_for(resp.content.readline(), 5)
    event = json.loads(line)
    assert event["type"] == "ADDED" and event["object"]["kind"] == "Widget"
    # kubectl get -w: each event as a one-row Table with the printer columns.
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    async with api.session.get(url, headers={"Accept": accept}) as resp:
        line = await asyncio.wait_for(resp.content.readline(), 5)
    table = json.loads(line)["object"]
    assert table["kind"] == "Table" and table["columnDefinitions"][1]["name"] == "Image"
    assert table["rows"][0]["cells"][:2] == ["w1", "nginx"]


async def test_deleting_the_crd_deletes_its_objects(api):
    await create_crd(api, widget_crd())
    for name in ("a", "b"):
        status, _ = await api.post(BASE, json=widget(name))
        assert status == 201
    status, body = await api.delete(f"{CRDS}/widgets.{GROUP}")
    assert status == 200
    assert body["metadata"]["deletionTimestamp"]
    await gone(api, f"{CRDS}/widgets.{GROUP}")
    status, _ = await api.get(BASE)
    assert status == 404
    assert await api.store.count(f"/registry/{GROUP}/widgets/") == 0
    status, doc = await api.get(f"/apis/{GROUP}/v1")
    assert status == 404
    # The same CRD again starts empty.
    await create_crd(api, widget_crd())
    status, body = await api.get(BASE)
    assert status == 200 and body["items"] == []


async def test_name_conflict_is_not_accepted(api):
    await create_crd(api, widget_crd())
    clash = widget_crd(plural="doohickeys", kind="Doohickey", short_names=("widgets",), categories=())
    status, _ = await api.post(CRDS, json=clash)
    assert status == 201
    body = await wait_for(api, f"{CRDS}/doohickeys.{GROUP}",
                          lambda b: condition(b, "NamesAccepted") is not None)
    accepted = condition(body, "NamesAccepted")
    assert accepted["status"] == "False" and accepted["reason"] == "ShortNamesConflict"
    assert condition(body, "Established")["status"] == "False"
    status, _ = await api.get(f"/apis/{GROUP}/v1/namespaces/default/doohickeys")
    assert status == 404


async def test_invalid_crds_are_rejected(api):
    crd = widget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    status, body = await api.post(CRDS, json=crd)
    assert status == 422
    assert {"field": "metadata.name", "reason": "FieldValueInvalid",
            "message": 'Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group'} \
        in body["details"]["causes"]
    crd = widget_crd()
    crd["spec"]["versions"][0]["storage"] = False
    status, body = await api.post(CRDS, json=crd)
    assert status == 422 and "must have exactly one version marked as storage version" in body["message"]
    crd = widget_crd()
    del crd["spec"]["versions"][0]["schema"]
    status, body = await api.post(CRDS, json=crd)
    assert status == 422
    assert "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required" in body["message"]
    crd = widget_crd(plural="Widgets")
    crd["metadata"]["name"] = f"Widgets.{GROUP}"
    status, body = await api.post(CRDS, json=crd)
    assert status == 422 and any(c["field"] == "spec.names.plural" for c in body["details"]["causes"])
    crd = widget_crd()
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["image"]["type"]
    status, body = await api.post(CRDS, json=crd)
    assert status == 422
    assert any(c["field"] == "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[image].type"
               for c in body["details"]["causes"])


async def test_creates_are_refused_while_the_crd_terminates(api):
    await create_crd(api, widget_crd())
    obj = widget("held")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    status, _ = await api.post(BASE, json=obj)
    assert status == 201
    status, _ = await api.delete(f"{CRDS}/widgets.{GROUP}")
    assert status == 200
    crd = await wait_for(api, f"{CRDS}/widgets.{GROUP}", lambda b: condition(b, "Terminating") is not None)
    assert condition(crd, "Terminating")["reason"] == "InstanceDeletionInProgress"
    status, body = await api.post(BASE, json=widget("new"))
    assert status == 405, body
    status, _ = await api.patch(f"{BASE}/held", json={"metadata": {"finalizers": None}})
    assert status == 200
    await gone(api, f"{CRDS}/widgets.{GROUP}")


async def test_crd_updates_are_served_and_new_defaults_show_on_read(api):
    await create_crd(api, widget_crd())
    status, _ = await api.post(BASE, json=widget())
    assert status == 201
    status, crd = await api.get(f"{CRDS}/widgets.{GROUP}")
    version = crd["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["color"]["default"] = "grey"
    version["additionalPrinterColumns"].insert(0, {"name": "Color", "type": "string", "jsonPath": ".spec.color"})
    status, body = await api.put(f"{CRDS}/widgets.{GROUP}", json=crd)
    assert status == 200, body
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"

    def has_color_column(table):
        return table["columnDefinitions"][1]["name"] == "Color"

    deadline = asyncio.get_running_loop().time() + 5
    while True:
        status, table = await api.get(BASE, headers={"Accept": accept})
        if status == 200 and has_color_column(table):
            break
        assert asyncio.get_running_loop().time() < deadline, table
        await asyncio.sleep(0.02)
    assert table["rows"][0]["cells"][1] == "grey"  # the stored object gets the new default on read
    status, got = await api.get(f"{BASE}/w1")
    assert got["spec"]["color"] == "grey"
