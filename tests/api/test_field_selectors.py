"""Field selectors: per-kind supported fields and the real server's error wording."""

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.api.field_selectors import parse_field_selector

POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default"},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]},
}


@pytest.mark.parametrize("text,matches", [
    ("", True),
    ("metadata.name=web-1", True),
    ("metadata.name==web-1", True),
    ("metadata.name!=web-1", False),
    ("metadata.namespace=default,status.phase=Running", True),
    ("spec.nodeName=n2", False),
    ("spec.nodeName=", False),
    ("spec.nodeName!=", True),
    ("spec.host=n1", True),
    ("spec.hostNetwork=false", True),
    ("spec.hostNetwork=true", False),
    ("status.podIPs=fd00::5", True),
    ("status.podIP=10.0.0.5", True),
    ("status.nominatedNodeName=", True),
    ("spec.restartPolicy=Always,spec.schedulerName=default-scheduler,spec.serviceAccountName=default", True),
])
def test_pod_fields(text, matches):
    assert parse_field_selector(text, "", "pods").matches(POD) is matches


def test_unscheduled_pods_selector_kubelet_and_scheduler_use():
    sel = parse_field_selector("spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed", "", "pods")
    assert sel.matches({"spec": {}, "status": {"phase": "Pending"}})
    assert not sel.matches(POD)


@pytest.mark.parametrize("group,resource,text,message", [
    ("", "pods", "status.hostIP=1.2.3.4", "field label not supported: status.hostIP"),
    ("", "nodes", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("apps", "deployments", "spec.replicas=1",
     '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("", "configmaps", "data.x=1",
     '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("", "pods", "nonsense", "invalid selector: 'nonsense'; can't understand 'nonsense'"),
])
def test_errors(group, resource, text, message):
    with pytest.raises(ApiError) as err:
        parse_field_selector(text, group, resource)
    assert err.value.code == 400 and err.value.message == message


@pytest.mark.parametrize("group,resource,text,obj,matches", [
    ("", "nodes", "spec.unschedulable=true", {"spec": {"unschedulable": True}}, True),
    ("", "nodes", "spec.unschedulable=false", {"spec": {}}, True),
    ("", "secrets", "type=kubernetes.io/tls", {"type": "kubernetes.io/tls"}, True),
    ("", "namespaces", "status.phase=Active", {"status": {"phase": "Active"}}, True),
    ("", "replicationcontrollers", "status.replicas=0", {"status": {}}, True),
    ("apps", "replicasets", "status.replicas=2", {"status": {"replicas": 2}}, True),
    ("batch", "jobs", "status.successful=1", {"status": {"successful": 1}}, True),
    ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName=kubernetes.io/kubelet-serving",
     {"spec": {"signerName": "kubernetes.io/kubelet-serving"}}, True),
    ("", "events", "involvedObject.kind=Pod,involvedObject.name=web-1,type=Normal,source=kubelet",
     {"involvedObject": {"kind": "Pod", "name": "web-1"}, "type": "Normal", "source": {"component": "kubelet"}},
     True),
    ("events.k8s.io", "events", "regarding.name=web-1,reason=Pulled",
     {"regarding": {"name": "web-1"}, "reason": "Pulled"}, True),
    ("", "services", "spec.type=ClusterIP", {"spec": {"type": "NodePort"}}, False),
    ("apps", "deployments", "metadata.name=a", {"metadata": {"name": "a"}}, True),
])
def test_kind_fields(group, resource, text, obj, matches):
    assert parse_field_selector(text, group, resource).matches(obj) is matches


def test_escaped_values_and_exact_name():
    sel = parse_field_selector(r"metadata.name=a\,b", "", "configmaps")
    assert sel.matches({"metadata": {"name": "a,b"}})
    assert sel.exact_name() == "a,b"
    assert parse_field_selector("metadata.name!=x", "", "pods").exact_name() is None
    assert parse_field_selector(None, "", "pods").empty
