"""The create path's managedFields (apiserver/managed_create.py) are exactly track_update's.

Every object below, and a few hundred seeded variations of them (fields removed, emptied, nulled,
given another type, list items duplicated or stripped of their keys), is tracked both ways; the
metadata must come out identical, managedFields included.
"""

from __future__ import annotations

import copy
import random

import pytest

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.fieldpath import FieldSet
from kybernetes.api.managed_fields import TrackOptions, track_update
from kybernetes.apiserver.apply_schema import track_options
from kybernetes.apiserver.crd_resource import CustomResourceState, infos_for
from kybernetes.apiserver.managed_create import track_create

NOW = "2026-01-01T00:00:00Z"
REGISTRY = builtin_registry()


def info_of(group: str, resource: str):
    return next(i for i in REGISTRY.resources(group) if i.resource == resource)


def pod() -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "creationTimestamp": NOW, "generation": 1,
                     "labels": {"app": "web", "tier": "front"}, "annotations": {},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                          "uid": "r", "controller": True}],
                     "finalizers": ["a/b", "c/d", "é/f"]},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80},
                                                                           {"containerPort": 53, "protocol": "UDP"}],
                                 "env": [{"name": "A", "value": "1"}, {"name": 'Q"\\é'}, {"name": 'a"b\\c'},
                                         {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                                 "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}},
                                 "command": ["sh", "-c", "sleep 1"],
                                 "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
                 "initContainers": [{"name": "init", "image": "busybox", "resources": {}}],
                 "volumes": [{"name": "v", "emptyDir": {}}, {"name": "c", "configMap": {"name": "cm"}}],
                 "tolerations": [{"key": "k", "operator": "Exists"}],
                 "nodeSelector": {"disk": "ssd"}, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                 "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                     "nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In",
                                                                  "values": ["x"]}]}]}}}},
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns", "labels": {"app": "d"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }


def service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"selector": {"app": "d"}, "ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                                                         {"port": 53, "protocol": "UDP", "name": "dns"}],
                     "type": "ClusterIP", "clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv4"]},
            "status": {"loadBalancer": {}}}


def configmap() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"},
            "data": {"a": "1", "b.txt": "x\ny", "é": "unicode"}, "binaryData": {}}


def node() -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"taints": [{"key": "t", "effect": "NoSchedule"}], "podCIDR": "10.1.0.0/24"},
            "status": {"capacity": {"cpu": "2"}, "conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}]}}


def job() -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "ns"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "busybox", "args": ["true"]}]}},
                     "backoffLimit": 2}}


def role() -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "ns"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}


def statefulset() -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"serviceName": "s", "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["size"], "properties": {
                                   "size": {"type": "integer"},
                                   "parts": {"type": "array", "x-kubernetes-list-type": "map",
                                             "x-kubernetes-list-map-keys": ["id"],
                                             "items": {"type": "object", "properties": {
                                                 "id": {"type": "string"}, "n": {"type": "integer"}}}},
                                   "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                            "items": {"type": "string"}},
                                   "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                   "sel": {"type": "object", "x-kubernetes-map-type": "atomic",
                                           "additionalProperties": {"type": "string"}}}},
                               "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}


def widget() -> dict:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"},
            "spec": {"size": 3, "parts": [{"id": "a", "n": 1}, {"id": "b"}], "tags": ["x", "y"],
                     "blob": {"free": {"form": [1, 2]}, "e": {}}, "sel": {"a": "b"}},
            "status": {"ok": True}}


def widget_info():
    names = CRD["spec"]["names"]
    return infos_for(CRD, names, CustomResourceState("widgets.example.com"))[0]


CASES = [
    (("", "pods"), pod), (("apps", "deployments"), deployment), (("", "services"), service),
    (("", "configmaps"), configmap), (("", "nodes"), node), (("batch", "jobs"), job),
    (("rbac.authorization.k8s.io", "roles"), role), (("apps", "statefulsets"), statefulset),
    (("apiextensions.k8s.io", "customresourcedefinitions"), lambda: copy.deepcopy(CRD)),
]


def options(info) -> TrackOptions:
    opts = track_options(info)
    opts.now = NOW
    return opts


def both_ways(info, obj: dict, manager: str = "kubectl-create") -> tuple[dict, dict]:
    slow, fast = copy.deepcopy(obj), copy.deepcopy(obj)
    track_update(None, slow, manager, options(info))
    track_create(fast, manager, options(info))
    return slow, fast


@pytest.mark.parametrize("key,make", CASES, ids=[k[1] for k, _ in CASES])
def test_create_fields_match_the_general_diff(key, make):
    info = info_of(*key)
    slow, fast = both_ways(info, make())
    assert fast == slow
    assert fast["metadata"].get("managedFields"), "every case owns some fields"


def test_custom_resources_match_the_general_diff():
    slow, fast = both_ways(widget_info(), widget())
    assert fast == slow
    assert "f:status" not in fast["metadata"]["managedFields"][0]["fieldsV1"]


def test_the_pod_entry_reads_as_the_real_servers():
    _, fast = both_ways(info_of("", "pods"), pod())
    [entry] = fast["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["time"]) == (
        "kubectl-create", "Update", "v1", NOW)
    fields = entry["fieldsV1"]
    assert list(fields) == ["f:metadata", "f:spec"]  # no status (reset), no apiVersion/kind
    assert "f:name" not in fields["f:metadata"] and "." not in fields["f:metadata"]
    container = fields["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "." not in fields["f:spec"]["f:containers"]  # a required list: its items only
    assert list(container["f:ports"]) == [".", 'k:{"containerPort":53,"protocol":"UDP"}',
                                          'k:{"containerPort":80,"protocol":"TCP"}']
    assert "." not in container["f:resources"]  # a value struct
    assert fields["f:metadata"]["f:annotations"] == {}


def test_bodies_with_managed_fields_and_unwalkable_objects_keep_their_meaning():
    info = info_of("", "pods")
    given = pod()
    given["metadata"]["managedFields"] = [{"manager": "x", "operation": "Update", "apiVersion": "v1",
                                           "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
    slow, fast = both_ways(info, given)
    assert fast == slow
    reset = pod()
    reset["metadata"]["managedFields"] = []
    assert both_ways(info, reset)[0] == both_ways(info, reset)[1]
    keyless = pod()
    del keyless["spec"]["containers"][0]["name"]
    slow, fast = both_ways(info, keyless)
    assert fast == slow and "managedFields" not in fast["metadata"]


def test_a_write_through_a_subresource_or_a_nested_ignored_set_takes_the_general_path():
    info = info_of("", "pods")
    opts = track_options(info, "status")
    opts.now = NOW
    slow, fast = copy.deepcopy(pod()), copy.deepcopy(pod())
    track_update(None, slow, "m", opts)
    track_create(fast, "m", opts)
    assert fast == slow
    opts = options(info)
    opts.ignored = FieldSet.of(("f:spec", "f:containers"))
    slow, fast = copy.deepcopy(pod()), copy.deepcopy(pod())
    track_update(None, slow, "m", opts)
    track_create(fast, "m", opts)
    assert fast == slow


_ODD_VALUES = [None, {}, [], "", 0, False, True, 1.5, "text", 'q"\\é', "tab\tnew\nline", "\x7f", 'a"b\\c/d', 7,
               [1, "a"], {"x": {"y": None}}]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _mutate(obj: dict, rng: random.Random) -> dict:
    obj = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(obj) if p and p[0] != "metadata" or len(p) > 2]
        path = rng.choice(paths)
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = rng.random()
        if action < 0.3 and isinstance(parent, dict):
            del parent[last]
        elif action < 0.45 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))  # the same item twice
        elif action < 0.55 and isinstance(parent[last], dict):
            parent[last]["extraField"] = copy.deepcopy(rng.choice(_ODD_VALUES))  # not in the schema
        else:
            parent[last] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return obj


def test_seeded_variations_match_the_general_diff():
    rng = random.Random(20260101)
    cases = [(info_of(*key), make) for key, make in CASES] + [(widget_info(), widget)]
    checked = 0
    for info, make in cases:
        for _ in range(60):
            variant = _mutate(make(), rng)
            if not isinstance(variant.get("metadata"), dict):
                continue
            slow, fast = both_ways(info, variant)
            assert fast == slow, variant
            checked += 1
    assert checked > 500
