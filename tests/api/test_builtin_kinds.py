"""The built-in registry against what a real v1.34 server reports in discovery."""

import pytest

from kybernetes.api.builtin_kinds import BUILTIN_RESOURCES, builtin_registry
from kybernetes.api.registry import ALL_VERBS


def test_fresh_registry_each_call():
    a, b = builtin_registry(), builtin_registry()
    assert a is not b
    a.unregister("", "v1", "pods")
    assert a.get("", "v1", "pods") is None
    assert b.get("", "v1", "pods") is not None


def test_groups_in_real_apis_order():
    names = [g.name for g in builtin_registry().groups()]
    assert names == [
        "", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling",
        "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
        "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
        "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io",
    ]


def test_autoscaling_prefers_v2():
    group = builtin_registry().group("autoscaling")
    assert group.versions == ["v2", "v1"]
    v1 = builtin_registry().get("autoscaling", "v1", "horizontalpodautoscalers")
    assert v1.storage_version == "v2"


@pytest.mark.parametrize("group,resource,short,categories,namespaced", [
    ("", "pods", ("po",), ("all",), True),
    ("", "services", ("svc",), ("all",), True),
    ("", "namespaces", ("ns",), (), False),
    ("", "nodes", ("no",), (), False),
    ("", "configmaps", ("cm",), (), True),
    ("", "endpoints", ("ep",), (), True),
    ("", "events", ("ev",), (), True),
    ("", "serviceaccounts", ("sa",), (), True),
    ("", "persistentvolumes", ("pv",), (), False),
    ("", "persistentvolumeclaims", ("pvc",), (), True),
    ("", "replicationcontrollers", ("rc",), ("all",), True),
    ("", "limitranges", ("limits",), (), True),
    ("", "resourcequotas", ("quota",), (), True),
    ("", "secrets", (), (), True),
    ("apps", "deployments", ("deploy",), ("all",), True),
    ("apps", "replicasets", ("rs",), ("all",), True),
    ("apps", "statefulsets", ("sts",), ("all",), True),
    ("apps", "daemonsets", ("ds",), ("all",), True),
    ("apps", "controllerrevisions", (), (), True),
    ("batch", "cronjobs", ("cj",), ("all",), True),
    ("batch", "jobs", (), ("all",), True),
    ("autoscaling", "horizontalpodautoscalers", ("hpa",), ("all",), True),
    ("policy", "poddisruptionbudgets", ("pdb",), (), True),
    ("networking.k8s.io", "networkpolicies", ("netpol",), (), True),
    ("networking.k8s.io", "ingresses", ("ing",), (), True),
    ("networking.k8s.io", "ingressclasses", (), (), False),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("crd", "crds"), ("api-extensions",), False),
    ("certificates.k8s.io", "certificatesigningrequests", ("csr",), (), False),
    ("scheduling.k8s.io", "priorityclasses", ("pc",), (), False),
    ("storage.k8s.io", "storageclasses", ("sc",), (), False),
    ("events.k8s.io", "events", ("ev",), (), True),
    ("coordination.k8s.io", "leases", (), (), True),
    ("discovery.k8s.io", "endpointslices", (), (), True),
    ("rbac.authorization.k8s.io", "clusterroles", (), (), False),
    ("rbac.authorization.k8s.io", "rolebindings", (), (), True),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", (), ("api-extensions",), False),
])
def test_short_names_categories_scope(group, resource, short, categories, namespaced):
    version = "v2" if group == "autoscaling" else "v1"
    info = builtin_registry().get(group, version, resource)
    assert info is not None
    assert info.short_names == short
    assert info.categories == categories
    assert info.namespaced is namespaced


@pytest.mark.parametrize("group,resource,verbs", [
    ("", "bindings", ("create",)),
    ("", "componentstatuses", ("get", "list")),
    ("", "namespaces", ("create", "delete", "get", "list", "patch", "update", "watch")),
    ("", "pods", ALL_VERBS),
    ("authentication.k8s.io", "tokenreviews", ("create",)),
    ("authentication.k8s.io", "selfsubjectreviews", ("create",)),
    ("authorization.k8s.io", "selfsubjectaccessreviews", ("create",)),
    ("authorization.k8s.io", "localsubjectaccessreviews", ("create",)),
])
def test_verbs(group, resource, verbs):
    assert builtin_registry().get(group, "v1", resource).verbs == verbs


@pytest.mark.parametrize("group,resource,sub,kind,sub_group,verbs", [
    ("", "pods", "status", "Pod", "", ("get", "patch", "update")),
    ("", "pods", "binding", "Binding", "", ("create",)),
    ("", "pods", "eviction", "Eviction", "policy", ("create",)),
    ("", "pods", "log", "Pod", "", ("get",)),
    ("", "pods", "exec", "PodExecOptions", "", ("create", "get")),
    ("", "pods", "attach", "PodAttachOptions", "", ("create", "get")),
    ("", "pods", "portforward", "PodPortForwardOptions", "", ("create", "get")),
    ("", "pods", "proxy", "PodProxyOptions", "", ("create", "delete", "get", "patch", "update")),
    ("", "pods", "ephemeralcontainers", "Pod", "", ("get", "patch", "update")),
    ("", "pods", "resize", "Pod", "", ("get", "patch", "update")),
    ("", "namespaces", "finalize", "Namespace", "", ("update",)),
    ("", "serviceaccounts", "token", "TokenRequest", "authentication.k8s.io", ("create",)),
    ("", "replicationcontrollers", "scale", "Scale", "autoscaling", ("get", "patch", "update")),
    ("apps", "deployments", "scale", "Scale", "autoscaling", ("get", "patch", "update")),
    ("apps", "deployments", "status", "Deployment", "apps", ("get", "patch", "update")),
    ("apps", "statefulsets", "scale", "Scale", "autoscaling", ("get", "patch", "update")),
    ("certificates.k8s.io", "certificatesigningrequests", "approval", "CertificateSigningRequest",
     "certificates.k8s.io", ("get", "patch", "update")),
])
def test_subresources(group, resource, sub, kind, sub_group, verbs):
    info = builtin_registry().get(group, "v1", resource)
    s = info.subresource(sub)
    assert (s.kind, s.group, s.version, s.verbs) == (kind, sub_group, "v1", verbs)


def test_daemonsets_have_no_scale():
    info = builtin_registry().get("apps", "v1", "daemonsets")
    assert info.subresource("scale") is None
    assert info.has_status


def test_kinds_and_singulars_unique_per_group_version():
    seen = set()
    for info in BUILTIN_RESOURCES:
        key = (info.group, info.version, info.kind)
        assert key not in seen, key
        seen.add(key)
        assert info.singular == info.kind.lower()
        assert info.verbs


@pytest.mark.parametrize("resource,expected", [
    ("configmaps", False), ("secrets", False), ("pods", True), ("namespaces", False),
])
def test_has_generation(resource, expected):
    assert builtin_registry().get("", "v1", resource).has_generation is expected


def test_workloads_have_generation():
    reg = builtin_registry()
    for resource in ("deployments", "replicasets", "statefulsets", "daemonsets"):
        assert reg.get("apps", "v1", resource).has_generation


def test_resources_sorted_within_version():
    reg = builtin_registry()
    for g in reg.groups():
        for v in g.versions:
            names = [r.resource for r in reg.resources(g.name, v)]
            assert names == sorted(names)
