"""PATCH with application/strategic-merge-patch+json, as kubectl apply, edit, set image,
cordon and rollout restart/undo send it, through the real HTTP handlers.

Bodies are the ones kubectl sends (kubectl pkg/cmd/apply/patcher.go computes a three-way
strategic merge patch with $setElementOrder lists and $patch: delete items; rollout undo for
StatefulSets/DaemonSets sends the template with $patch: replace; kubectl-wire.md "Writes per
verb").
"""

from __future__ import annotations

import json

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
STATEFULSETS = "/apis/apps/v1/namespaces/default/statefulsets"
SMP = "application/strategic-merge-patch+json"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(containers: list[dict] | None = None, labels: dict | None = None) -> dict:
    containers = containers or [{"name": "nginx", "image": "nginx:1.25",
                                 "ports": [{"containerPort": 80}, {"containerPort": 443}],
                                 "env": [{"name": "MODE", "value": "prod"}]}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web", "tier": "front"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}}


async def create(api, body: dict, path: str = DEPLOYS) -> dict:
    status, created = await api.post(path, json=body)
    assert status == 201, created
    return created


def containers_of(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def no_directives(value) -> bool:
    text = json.dumps(value)
    return "$setElementOrder" not in text and "$patch" not in text and "$retainKeys" not in text


async def test_kubectl_apply_body_changes_only_the_image(api):
    before = await create(api, deployment())
    applied = json.dumps(deployment(containers=[{"name": "nginx", "image": "nginx:1.26"}]))
    patch = {"metadata": {"annotations": {LAST_APPLIED: applied}},
             "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                            "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
    status, after = await api.patch(f"{DEPLOYS}/web", json=patch, content_type=SMP,
                                    params={"fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"})
    assert status == 200, after
    [container] = containers_of(after)
    assert container["image"] == "nginx:1.26"
    old = containers_of(before)[0]
    assert {k: v for k, v in container.items() if k != "image"} == {k: v for k, v in old.items() if k != "image"}
    assert after["spec"]["replicas"] == 2 and after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"]["annotations"][LAST_APPLIED] == applied
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert no_directives(after)
    status, stored = await api.get(f"{DEPLOYS}/web")
    assert status == 200 and stored == after


async def test_apply_adds_an_env_var_and_removes_a_port(api):
    await create(api, deployment())
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"name": "nginx", "image": "nginx:1.26",
                        "$setElementOrder/env": [{"name": "MODE"}, {"name": "DEBUG"}],
                        "env": [{"name": "DEBUG", "value": "1"}],
                        "$setElementOrder/ports": [{"containerPort": 80}],
                        "ports": [{"$patch": "delete", "containerPort": 443}]}]}}}}
    status, after = await api.patch(f"{DEPLOYS}/web", json=patch, content_type=SMP)
    assert status == 200, after
    [container] = containers_of(after)
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}]
    assert [p["containerPort"] for p in container["ports"]] == [80]
    assert no_directives(after)


async def test_null_removes_a_label(api):
    await create(api, deployment())
    status, after = await api.patch(f"{DEPLOYS}/web", json={"metadata": {"labels": {"tier": None}}},
                                    content_type=SMP)
    assert status == 200, after
    assert after["metadata"]["labels"] == {"app": "web"}


async def test_patch_delete_removes_a_container(api):
    two = [{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox:1.36"}]
    await create(api, deployment(containers=two))
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "app"}],
                                            "containers": [{"$patch": "delete", "name": "sidecar"}]}}}}
    status, after = await api.patch(f"{DEPLOYS}/web", json=patch, content_type=SMP)
    assert status == 200, after
    assert containers_of(after) == [{**containers_of(after)[0], "name": "app", "image": "nginx:1.25"}]


async def test_set_element_order_reorders_containers(api):
    two = [{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox:1.36"}]
    await create(api, deployment(containers=two))
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}}
    status, after = await api.patch(f"{DEPLOYS}/web", json=patch, content_type=SMP)
    assert status == 200, after
    assert [c["name"] for c in containers_of(after)] == ["sidecar", "app"]
    assert [c["image"] for c in containers_of(after)] == ["busybox:1.36", "nginx:1.25"]


async def test_set_image_and_rollout_restart_bodies(api):
    await create(api, deployment())
    status, after = await api.patch(f"{DEPLOYS}/web", content_type=SMP, json={
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})
    assert status == 200 and containers_of(after)[0]["image"] == "nginx:1.27"
    assert len(containers_of(after)[0]["ports"]) == 2
    restarted = {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}
    status, after = await api.patch(f"{DEPLOYS}/web", content_type=SMP, json={
        "spec": {"template": {"metadata": {"annotations": restarted}}}})
    assert status == 200, after
    assert after["spec"]["template"]["metadata"] == {"labels": {"app": "web"}, "annotations": restarted}


async def test_rollout_undo_replaces_a_statefulset_template(api):
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}, "annotations": {"x": "1"}},
                                 "spec": {"containers": [{"name": "db", "image": "postgres:17"},
                                                         {"name": "exporter", "image": "exporter:1"}]}}}}
    await create(api, sts, STATEFULSETS)
    old_template = {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}, "$patch": "replace"}
    status, after = await api.patch(f"{STATEFULSETS}/db", content_type=SMP,
                                    json={"spec": {"template": old_template}})
    assert status == 200, after
    template = after["spec"]["template"]
    assert template["metadata"] == {"labels": {"app": "db"}}
    assert [(c["name"], c["image"]) for c in template["spec"]["containers"]] == [("db", "postgres:16")]
    assert no_directives(after)


async def test_cordon_a_node(api):
    status, node = await api.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node",
                                                         "metadata": {"name": "n1"}})
    assert status == 201, node
    status, after = await api.patch("/api/v1/nodes/n1", content_type=SMP, json={"spec": {"unschedulable": True}})
    assert status == 200, after
    assert after["spec"]["unschedulable"] is True


async def test_malformed_patches_are_400_and_change_nothing(api):
    before = await create(api, deployment())
    bad = [
        [{"op": "replace"}],  # not an object
        {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},  # no merge key
        {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
                                        "containers": [{"name": "b"}]}}}},  # order does not match
        {"metadata": {"$patch": "sideways"}},
    ]
    for patch in bad:
        status, body = await api.patch(f"{DEPLOYS}/web", json=patch, content_type=SMP)
        assert status == 400, (patch, body)
        assert body["kind"] == "Status" and body["reason"] == "BadRequest" and body["message"]
    status, stored = await api.get(f"{DEPLOYS}/web")
    assert stored == before


async def test_kinds_without_a_schema_refuse_strategic_merge_patch(api):
    from kybernetes.api.registry import ResourceInfo

    api.objects.registry.register(ResourceInfo(group="example.com", version="v1", resource="widgets",
                                               kind="Widget", singular="widget", namespaced=True))
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await create(api, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                       "spec": {"items": [{"name": "a"}]}}, path)
    status, body = await api.patch(f"{path}/w", content_type=SMP, json={"spec": {"items": [{"name": "b"}]}})
    assert status == 415, body
    assert body["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in body["message"] and SMP not in body["message"]
    status, body = await api.patch(f"{path}/w", json={"spec": {"items": [{"name": "b"}]}})
    assert status == 200 and body["spec"]["items"] == [{"name": "b"}]

