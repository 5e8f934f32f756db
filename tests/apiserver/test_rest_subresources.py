"""Subresources: status, pods/binding, scale; and the review resources."""

from __future__ import annotations

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def deployment(name: str) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def test_status_update_changes_only_status(api):
    _, created = await api.post(PODS, json=pod("s1"))
    body = {**created, "status": {"phase": "Running", "podIP": "10.0.0.5"},
            "spec": {**created["spec"], "nodeName": "sneaky"},
            "metadata": {**created["metadata"], "labels": {"sneaky": "yes"}}}
    status, updated = await api.put(f"{PODS}/s1/status", json=body)
    assert status == 200, updated
    assert updated["status"]["phase"] == "Running"
    assert updated["status"]["podIP"] == "10.0.0.5"
    assert "nodeName" not in updated["spec"]
    # podStatusStrategy resets spec, not labels or annotations.
    assert updated["metadata"]["labels"] == {"sneaky": "yes"}
    _, got = await api.get(f"{PODS}/s1/status")
    assert got["status"]["phase"] == "Running" and got["kind"] == "Pod"


async def test_deployment_status_update_keeps_labels_but_takes_annotations(api):
    # deploymentStatusStrategy resets spec and labels; the controller writes annotations there.
    _, created = await api.post(DEPLOYS, json=deployment("d0"))
    body = {**created, "status": {"replicas": 1}, "spec": {**created["spec"], "replicas": 7},
            "metadata": {**created["metadata"], "labels": {"x": "y"},
                         "annotations": {"deployment.kubernetes.io/revision": "1"}}}
    status, updated = await api.put(f"{DEPLOYS}/d0/status", json=body)
    assert status == 200, updated
    assert updated["status"]["replicas"] == 1
    assert updated["spec"]["replicas"] == created["spec"]["replicas"]
    assert updated["metadata"].get("labels") == created["metadata"].get("labels")
    assert updated["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


async def test_main_resource_update_ignores_status(api):
    _, created = await api.post(DEPLOYS, json=deployment("d1"))
    body = {**created, "status": {"replicas": 99}}
    body["metadata"] = {**created["metadata"], "labels": {"x": "y"}}
    status, updated = await api.put(f"{DEPLOYS}/d1", json=body)
    assert status == 200, updated
    assert (updated.get("status") or {}).get("replicas") != 99
    assert updated["metadata"]["labels"] == {"x": "y"}


async def test_status_patch_and_stale_status_update(api):
    _, created = await api.post(DEPLOYS, json=deployment("d2"))
    status, body = await api.patch(f"{DEPLOYS}/d2/status", json={"status": {"readyReplicas": 2}})
    assert status == 200, body
    assert body["status"]["readyReplicas"] == 2
    assert body["metadata"]["generation"] == 1
    stale = {**created, "status": {"readyReplicas": 1}}
    status, body = await api.put(f"{DEPLOYS}/d2/status", json=stale)
    assert status == 409 and body["reason"] == "Conflict"


async def test_binding_sets_node_once(api):
    await api.post(PODS, json=pod("b1"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b1"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    status, body = await api.post(f"{PODS}/b1/binding", json=binding)
    assert status == 201, body
    assert body["status"] == "Success"
    _, got = await api.get(f"{PODS}/b1")
    assert got["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in got["status"]["conditions"])

    status, body = await api.post(f"{PODS}/b1/binding", json={**binding, "target": {"kind": "Node", "name": "n2"}})
    assert status == 409
    assert body["reason"] == "Conflict"
    assert 'is already assigned to node "node-1"' in body["message"]
    _, got = await api.get(f"{PODS}/b1")
    assert got["spec"]["nodeName"] == "node-1"


async def test_bindings_resource_and_missing_pod(api):
    await api.post(PODS, json=pod("b2"))
    binding = {"metadata": {"name": "b2"}, "target": {"kind": "Node", "name": "node-2"}}
    status, body = await api.post("/api/v1/namespaces/default/bindings", json=binding)
    assert status == 201, body
    _, got = await api.get(f"{PODS}/b2")
    assert got["spec"]["nodeName"] == "node-2"
    status, body = await api.post(f"{PODS}/ghost/binding", json={**binding, "metadata": {"name": "ghost"}})
    assert status == 404


async def test_scale_subresource(api):
    await api.post(DEPLOYS, json=deployment("sc"))
    status, scale = await api.get(f"{DEPLOYS}/sc/scale")
    assert status == 200
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 2
    status, scale = await api.patch(f"{DEPLOYS}/sc/scale", json={"spec": {"replicas": 5}})
    assert status == 200, scale
    assert scale["spec"]["replicas"] == 5
    _, d = await api.get(f"{DEPLOYS}/sc")
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2


async def test_unsupported_verb_on_subresource(api):
    await api.post(PODS, json=pod("v1"))
    status, body = await api.delete(f"{PODS}/v1/status")
    assert status == 405 and body["reason"] == "MethodNotAllowed"


async def test_self_subject_access_review(api):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}}
    status, body = await api.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review)
    assert status == 201, body
    assert body["status"]["allowed"] is True


async def test_self_subject_review(api):
    status, body = await api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                  json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert status == 201, body
    assert "system:masters" in body["status"]["userInfo"]["groups"]
