"""The official `kubernetes` Python client and lightkube against `kyb up`, over TLS with the
admin kubeconfig: create, read, list, update, delete and watch pods, configmaps and deployments;
a stale update surfaces as a 409."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

NS = "e2e-pyclient"


def pod_body(name: str, image: str = "registry.local/app:1") -> dict:
    # No scheduler serves this name, so nothing else writes the pod while the test updates it.
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "py"}},
            "spec": {"schedulerName": "e2e-nobody", "containers": [{"name": "app", "image": image}]}}


def deployment_body(name: str, replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "registry.local/app:1"}]}}}}


@pytest.fixture(scope="module")
def api_client(kyb_cluster):
    api = k8s_config.new_client_from_config(config_file=str(kyb_cluster.kubeconfig))
    core = k8s.CoreV1Api(api)
    try:
        core.create_namespace({"metadata": {"name": NS}})
    except ApiException as e:
        if e.status != 409:
            raise
    yield api
    core.delete_namespace(NS)
    api.close()


def test_official_client_pod_lifecycle(api_client):
    core = k8s.CoreV1Api(api_client)
    created = core.create_namespaced_pod(NS, pod_body("py-pod"))
    assert created.metadata.uid and created.spec.containers[0].image_pull_policy == "IfNotPresent"
    read = core.read_namespaced_pod("py-pod", NS)
    assert read.metadata.resource_version == created.metadata.resource_version
    listed = core.list_namespaced_pod(NS, label_selector="app=py")
    assert [p.metadata.name for p in listed.items] == ["py-pod"]
    read.metadata.labels["extra"] = "yes"
    updated = core.replace_namespaced_pod("py-pod", NS, read)
    assert updated.metadata.labels["extra"] == "yes"
    assert int(updated.metadata.resource_version) > int(read.metadata.resource_version)
    # The object we read first is now stale: writing it back must be a 409 Conflict.
    created.metadata.labels["stale"] = "yes"
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_pod("py-pod", NS, created)
    assert stale.value.status == 409
    assert "the object has been modified" in stale.value.body
    core.delete_namespaced_pod("py-pod", NS)
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_pod("py-pod", NS)
    assert gone.value.status == 404


def test_official_client_configmap_and_watch(api_client):
    core = k8s.CoreV1Api(api_client)
    start = core.list_namespaced_config_map(NS).metadata.resource_version
    events: list[tuple[str, str]] = []

    def watch_configmaps():
        w = k8s_watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, NS, resource_version=start, timeout_seconds=20):
            events.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watch_configmaps)
    t.start()
    core.create_namespaced_config_map(NS, {"metadata": {"name": "py-cm"}, "data": {"a": "1"}})
    cm = core.read_namespaced_config_map("py-cm", NS)
    cm.data["a"] = "2"
    core.replace_namespaced_config_map("py-cm", NS, cm)
    core.delete_namespaced_config_map("py-cm", NS)
    t.join(timeout=30)
    assert not t.is_alive()
    assert [e for e in events if e[1] == "py-cm"] == [("ADDED", "py-cm"), ("MODIFIED", "py-cm"),
                                                      ("DELETED", "py-cm")]


def test_official_client_deployment(api_client):
    apps = k8s.AppsV1Api(api_client)
    created = apps.create_namespaced_deployment(NS, deployment_body("py-deploy", replicas=2))
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.metadata.generation == 1
    # The Deployment controller writes status meanwhile: read-modify-write until no conflict,
    # as every client of a live object must.
    for _ in range(10):
        dep = apps.read_namespaced_deployment("py-deploy", NS)
        dep.spec.replicas = 3
        try:
            updated = apps.replace_namespaced_deployment("py-deploy", NS, dep)
            break
        except ApiException as e:
            if e.status != 409:
                raise
    else:
        pytest.fail("no conflict-free update in 10 tries")
    assert updated.spec.replicas == 3 and updated.metadata.generation == 2
    names = [d.metadata.name for d in apps.list_namespaced_deployment(NS).items]
    assert "py-deploy" in names
    apps.delete_namespaced_deployment("py-deploy", NS)


def test_lightkube_crud_and_watch(kyb_cluster, api_client):
    from lightkube import ApiError, Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import ConfigMap, Pod

    lk = Client(config=KubeConfig.from_file(str(kyb_cluster.kubeconfig)), namespace=NS)
    cm = lk.create(ConfigMap(metadata=ObjectMeta(name="lk-cm"), data={"x": "1"}))
    assert cm.metadata.uid
    got = lk.get(ConfigMap, "lk-cm")
    got.data["x"] = "2"
    replaced = lk.replace(got)
    assert replaced.data["x"] == "2"
    cm.data["x"] = "3"  # stale resourceVersion
    with pytest.raises(ApiError) as stale:
        lk.replace(cm)
    assert stale.value.status.code == 409
    assert [c.metadata.name for c in lk.list(ConfigMap) if c.metadata.name == "lk-cm"] == ["lk-cm"]

    pod = lk.create(Pod.from_dict(pod_body("lk-pod")))
    assert pod.spec.restartPolicy == "Always"
    dep = lk.create(Deployment.from_dict(deployment_body("lk-deploy")))
    assert dep.spec.revisionHistoryLimit == 10

    # Delete first, then watch from before the delete: the watch must replay it.
    lk.delete(ConfigMap, "lk-cm")
    seen = []
    for op, obj in lk.watch(ConfigMap, resource_version=replaced.metadata.resourceVersion, server_timeout=10):
        seen.append((op, obj.metadata.name))
        if op == "DELETED":
            break
    assert ("DELETED", "lk-cm") in seen
    lk.delete(Pod, "lk-pod")
    lk.delete(Deployment, "lk-deploy")
