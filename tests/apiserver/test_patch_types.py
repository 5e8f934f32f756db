"""patching.py: which patch types a kind accepts, and strategic merge with the official schemas.

Merge keys and strategies below are the ones the Kubernetes Go types declare (k8s.io/api
core/v1 and apps/v1 types.go struct tags), read here from the kubernetes-validate schemas.
"""

from __future__ import annotations

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.apiserver.patching import accepted_patch_types, apply_patch, check_patch_type

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def smp(live: dict, patch: dict, group: str = "", version: str = "v1", kind: str = "Pod") -> dict:
    return apply_patch(SMP, live, patch, group, version, kind)


@pytest.mark.parametrize(("group", "version", "kind"), [
    ("", "v1", "Pod"), ("apps", "v1", "Deployment"), ("", "v1", "Node"), ("autoscaling", "v1", "Scale"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
])
def test_built_in_kinds_accept_strategic_merge_patch(group, version, kind):
    assert accepted_patch_types(group, version, kind) == (JSON_PATCH, MERGE, SMP, APPLY)
    check_patch_type(SMP, group, version, kind)


def test_custom_kinds_accept_json_and_merge_patch_only():
    assert accepted_patch_types("example.com", "v1", "Widget") == (JSON_PATCH, MERGE, APPLY)
    with pytest.raises(ApiError) as caught:
        check_patch_type(SMP, "example.com", "v1", "Widget")
    assert caught.value.code == 415 and caught.value.reason == "UnsupportedMediaType"
    with pytest.raises(ApiError) as caught:
        apply_patch(SMP, {}, {}, "example.com", "v1", "Widget")
    assert caught.value.code == 415


@pytest.mark.parametrize("ctype", ["text/plain", "application/json"])
def test_other_content_types_are_415(ctype):
    with pytest.raises(ApiError) as caught:
        check_patch_type(ctype, "apps", "v1", "Deployment")
    assert caught.value.code == 415
    assert caught.value.message.endswith(f"{JSON_PATCH}, {MERGE}, {SMP}, {APPLY}")


def test_merge_and_json_patch_still_apply():
    assert apply_patch(MERGE, {"a": {"b": 1, "c": 2}}, {"a": {"c": None}}, "", "v1", "Pod") == {"a": {"b": 1}}
    ops = [{"op": "replace", "path": "/a", "value": 2}]
    assert apply_patch(JSON_PATCH, {"a": 1}, ops, "", "v1", "Pod") == {"a": 2}
    with pytest.raises(ApiError):
        apply_patch(MERGE, {"a": 1}, [1], "", "v1", "Pod")
    with pytest.raises(ApiError) as caught:
        apply_patch(SMP, {"a": 1}, [1], "", "v1", "Pod")
    assert caught.value.code == 400


def test_pod_lists_merge_by_their_declared_keys():
    live = {"metadata": {"finalizers": ["a"], "ownerReferences": [{"uid": "u1", "name": "rs1", "kind": "ReplicaSet"}]},
            "spec": {"containers": [{"name": "c", "image": "i:1", "env": [{"name": "A", "value": "1"}],
                                     "ports": [{"containerPort": 80, "name": "http"}],
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "imagePullSecrets": [{"name": "s1"}],
                     "tolerations": [{"key": "k1", "operator": "Exists"}]}}
    patch = {"metadata": {"finalizers": ["b"], "ownerReferences": [{"uid": "u2", "name": "rs2", "kind": "ReplicaSet"}]},
             "spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}],
                                      "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                      "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}],
                      "imagePullSecrets": [{"name": "s2"}],
                      "tolerations": [{"key": "k2", "operator": "Exists"}]}}
    result = smp(live, patch)
    meta, spec = result["metadata"], result["spec"]
    assert meta["finalizers"] == ["b", "a"]  # a set of scalars (patchStrategy merge)
    assert [o["uid"] for o in meta["ownerReferences"]] == ["u2", "u1"]  # by uid
    [container] = spec["containers"]
    assert container["image"] == "i:1"
    assert [e["name"] for e in container["env"]] == ["B", "A"]  # by name
    assert container["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]  # by containerPort
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/cache", "/data"]  # by mountPath
    assert [s["name"] for s in spec["imagePullSecrets"]] == ["s2", "s1"]
    assert spec["tolerations"] == [{"key": "k2", "operator": "Exists"}]  # atomic: replaced


def test_volume_retain_keys_switch_the_volume_source():
    # kubectl sends $retainKeys for Volume (patchStrategy "merge,retainKeys" on PodSpec.volumes).
    live = {"spec": {"containers": [{"name": "c", "image": "i"}],
                     "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "configMap": {"name": "cm"}}]}}
    patch = {"spec": {"$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
                      "volumes": [{"$retainKeys": ["hostPath", "name"], "name": "v",
                                   "hostPath": {"path": "/srv"}}]}}
    assert smp(live, patch)["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/srv"}},
                                                   {"name": "w", "configMap": {"name": "cm"}}]


def test_deployment_strategy_retain_keys_drops_rolling_update_for_recreate():
    live = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    result = apply_patch(SMP, live, patch, "apps", "v1", "Deployment")
    assert result == {"spec": {"strategy": {"type": "Recreate"}}}


def test_service_ports_merge_by_port_and_delete_from_primitive_list():
    live = {"metadata": {"finalizers": ["x", "y", "z"]},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["y"]},
             "spec": {"ports": [{"port": 443, "$patch": "delete"}, {"port": 80, "targetPort": 9090}]}}
    result = smp(live, patch, kind="Service")
    assert result["metadata"]["finalizers"] == ["x", "z"]
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]


def test_node_taints_are_atomic_and_cordon_sets_unschedulable():
    live = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}
    result = smp(live, {"spec": {"unschedulable": True, "taints": [{"key": "b", "effect": "NoExecute"}]}},
                 kind="Node")
    assert result["spec"]["unschedulable"] is True
    # NodeSpec.taints declares no patch strategy (x-kubernetes-list-type: atomic): replaced.
    assert [t["key"] for t in result["spec"]["taints"]] == ["b"]
