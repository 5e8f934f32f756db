"""Defaulting: each case states what a real v1.34 server stores for the omitted fields."""

import pytest

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.defaults import apply_defaults, default_job_selector
from kybernetes.api.defaults_pod import default_pod_admission, image_pull_policy, qos_class

REG = builtin_registry()


def defaulted(group, version, resource, obj):
    apply_defaults(REG.get(group, version, resource), obj)
    return obj


def pod_spec(**extra):
    return {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}], **extra}


def test_pod_spec_and_container_defaults():
    pod = defaulted("", "v1", "pods", {"metadata": {"name": "p"}, "spec": pod_spec()})
    spec = pod["spec"]
    assert {k: spec[k] for k in ("restartPolicy", "dnsPolicy", "terminationGracePeriodSeconds",
                                 "securityContext", "schedulerName", "enableServiceLinks")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "securityContext": {}, "schedulerName": "default-scheduler", "enableServiceLinks": True}
    c = spec["containers"][0]
    assert c == {"name": "c", "image": "nginx", "imagePullPolicy": "Always",
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "resources": {}, "ports": [{"containerPort": 80, "protocol": "TCP"}]}
    # Admission-owned fields are not scheme defaults.
    assert "serviceAccountName" not in spec and "priority" not in spec


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("localhost:5000/app:v1", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_explicit_values_are_kept():
    pod = defaulted("", "v1", "pods", {"spec": pod_spec(restartPolicy="Never", dnsPolicy="Default")})
    assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["dnsPolicy"] == "Default"


def test_probes_volumes_env_defaults():
    spec = pod_spec(volumes=[{"name": "a", "configMap": {"name": "x"}}, {"name": "b"}])
    spec["containers"][0]["livenessProbe"] = {"httpGet": {"port": 80}}
    spec["containers"][0]["env"] = [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    defaulted("", "v1", "pods", {"spec": spec})
    assert spec["containers"][0]["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
        "successThreshold": 1, "failureThreshold": 3}
    assert spec["volumes"] == [{"name": "a", "configMap": {"name": "x", "defaultMode": 420}},
                               {"name": "b", "emptyDir": {}}]
    assert spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"


def test_admission_defaults_for_bare_pods():
    pod = {"spec": pod_spec()}
    default_pod_admission(pod)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                        "node.kubernetes.io/unreachable"}
    assert all(t["tolerationSeconds"] == 300 and t["effect"] == "NoExecute" for t in spec["tolerations"])
    default_pod_admission(pod)
    assert len(spec["tolerations"]) == 2


def template(**spec):
    return {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(**spec)}


def test_deployment():
    d = defaulted("apps", "v1", "deployments", {"spec": {"template": template()}})
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                           "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_deployment_recreate_has_no_rolling_update():
    d = defaulted("apps", "v1", "deployments", {"spec": {"strategy": {"type": "Recreate"}}})
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def test_statefulset():
    s = defaulted("apps", "v1", "statefulsets", {"spec": {"template": template(), "volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}})
    spec = s["spec"]
    assert spec["replicas"] == 1 and spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["apiVersion"] == "v1" and claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}


def test_daemonset_and_replicaset():
    ds = defaulted("apps", "v1", "daemonsets", {"spec": {"template": template()}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    rs = defaulted("apps", "v1", "replicasets", {"spec": {"template": template()}})
    assert rs["spec"]["replicas"] == 1


def test_replication_controller_takes_template_labels():
    rc = defaulted("", "v1", "replicationcontrollers", {"metadata": {"name": "r"}, "spec": {"template": template()}})
    assert rc["spec"]["selector"] == {"app": "a"}
    assert rc["metadata"]["labels"] == {"app": "a"}
    assert rc["spec"]["replicas"] == 1


@pytest.mark.parametrize("given,expected", [
    ({}, {"parallelism": 1, "completions": 1}),
    ({"parallelism": 3}, {"parallelism": 3}),
    ({"completions": 5}, {"parallelism": 1, "completions": 5}),
])
def test_job_counts(given, expected):
    job = defaulted("batch", "v1", "jobs", {"spec": {**given, "template": template(restartPolicy="Never")}})
    spec = job["spec"]
    assert {k: spec.get(k) for k in expected} == expected
    assert ("completions" in spec) == ("completions" in expected)
    assert spec["backoffLimit"] == 6 and spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec


def test_job_selector_from_uid():
    job = {"metadata": {"name": "pi"}, "spec": {"template": template()}}
    default_job_selector(job, "u-1")
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app": "a", "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1", "job-name": "pi"}
    manual = {"metadata": {"name": "m"}, "spec": {"manualSelector": True, "template": template()}}
    default_job_selector(manual, "u-2")
    assert "selector" not in manual["spec"]


def test_cronjob():
    cj = defaulted("batch", "v1", "cronjobs", {"spec": {"schedule": "* * * * *", "jobTemplate": {
        "spec": {"template": template(restartPolicy="OnFailure")}}}})
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_service():
    svc = defaulted("", "v1", "services", {"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}})
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert "ipFamilyPolicy" not in spec and "ipFamilies" not in spec  # the IP allocator's to choose
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec


def test_service_nodeport_and_external_name():
    np = defaulted("", "v1", "services", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    assert np["spec"]["allocateLoadBalancerNodePorts"] is True
    ext = defaulted("", "v1", "services", {"spec": {"type": "ExternalName", "externalName": "x.com"}})
    assert "ipFamilies" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]


def test_secret_type_and_string_data():
    s = defaulted("", "v1", "secrets", {"stringData": {"a": "hi"}, "data": {"b": "eA=="}})
    assert s == {"type": "Opaque", "data": {"b": "eA==", "a": "aGk="}}


def test_namespace():
    ns = defaulted("", "v1", "namespaces", {"metadata": {"name": "team"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}


def test_node_allocatable_defaults_to_capacity():
    node = defaulted("", "v1", "nodes", {"status": {"capacity": {"cpu": "4"}}})
    assert node["status"]["allocatable"] == {"cpu": "4"}


@pytest.mark.parametrize("group,version,resource,obj,path,value", [
    ("", "v1", "persistentvolumeclaims", {"spec": {}}, ("spec", "volumeMode"), "Filesystem"),
    ("", "v1", "persistentvolumes", {"spec": {}}, ("spec", "persistentVolumeReclaimPolicy"), "Retain"),
    ("scheduling.k8s.io", "v1", "priorityclasses", {"value": 5}, ("preemptionPolicy",), "PreemptLowerPriority"),
    ("storage.k8s.io", "v1", "storageclasses", {}, ("volumeBindingMode",), "Immediate"),
    ("networking.k8s.io", "v1", "networkpolicies", {"spec": {}}, ("spec", "policyTypes"), ["Ingress"]),
    ("autoscaling", "v2", "horizontalpodautoscalers", {"spec": {}}, ("spec", "minReplicas"), 1),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", {"subjects": [{"kind": "User", "name": "u"}]},
     ("subjects", 0, "apiGroup"), "rbac.authorization.k8s.io"),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", {"spec": {"names": {"kind": "Foo"}}},
     ("spec", "names", "listKind"), "FooList"),
])
def test_other_kinds(group, version, resource, obj, path, value):
    out = defaulted(group, version, resource, obj)
    for key in path:
        out = out[key]
    assert out == value


def test_configmap_untouched_and_garbage_tolerated():
    cm = {"data": {"a": "b"}}
    assert defaulted("", "v1", "configmaps", cm) == {"data": {"a": "b"}}
    defaulted("", "v1", "pods", {"spec": {"containers": ["junk", {"name": "x"}]}})
    apply_defaults(REG.get("", "v1", "pods"), "not a dict")


@pytest.mark.parametrize("resources,qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
])
def test_qos_class(resources, qos):
    assert qos_class({"spec": {"containers": [{"name": "c", "resources": resources}]}}) == qos


def test_pod_requests_default_to_limits():
    # SetDefaults_Pod: a limit without a request becomes the request too (pods only, not templates).
    from kybernetes.api.defaults_pod import default_pod

    pod = {"spec": {"containers": [{"name": "c", "image": "i", "resources": {
        "limits": {"cpu": "1", "memory": "lots"}, "requests": {"memory": "1Gi"}}}]}}
    default_pod(pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"memory": "1Gi", "cpu": "1"}
