"""Defaulting: fill in what a real apiserver fills in, so stored objects look the same.

``apply_defaults(info, obj)`` mutates an object about to be created or updated. Clients depend on
these values: ``kubectl rollout status`` needs a DaemonSet/StatefulSet updateStrategy, Deployment
checks need spec.replicas, and ``apply`` diffs against what the server stored. Values below are
the ones a v1.34 server stores; fields a server assigns with knowledge of the cluster (a Service's
clusterIP, a Job's controller-uid selector, a Pod's service account) are left to the apiserver,
with helpers here (``default_job_selector``, ``defaults_pod.default_pod_admission``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .defaults_pod import default_pod, default_pod_template
from .defaults_policy import (
    default_endpoint_slice_ports,
    default_hpa_behavior,
    default_ingress_class,
    default_limit_range,
)
from .registry import ResourceInfo

Defaulter = Callable[[dict[str, Any]], None]


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        obj["spec"] = spec
    return spec


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status")
    if not isinstance(status, dict):
        status = {}
        obj["status"] = status
    return status


def default_deployment(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    default_pod_template(spec.get("template"))


def default_replicaset(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    default_pod_template(spec.get("template"))


def default_replication_controller(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels") if isinstance(template, dict) else None
    # A ReplicationController without a selector (or labels) takes its template's labels.
    if labels and not spec.get("selector"):
        spec["selector"] = dict(labels)
    if labels and not (obj.get("metadata") or {}).get("labels"):
        obj.setdefault("metadata", {})["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    default_pod_template(template)


def _default_claim_template(claim: Any) -> None:
    if not isinstance(claim, dict):
        return
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    default_persistent_volume_claim(claim)


def default_statefulset(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        _default_claim_template(claim)
    default_pod_template(spec.get("template"))


def default_daemonset(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_template(spec.get("template"))


def _default_job_spec(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        # With a per-index limit the global one is effectively unlimited (MaxInt32).
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    default_pod_template(spec.get("template"))


def default_job(obj: dict[str, Any]) -> None:
    _default_job_spec(_spec(obj))


JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def default_job_selector(obj: dict[str, Any], uid: str) -> None:
    """The selector and template labels a Job gets at creation unless spec.manualSelector is true.

    Needs the new object's uid, so the apiserver calls it after assigning metadata.uid.
    """
    spec = _spec(obj)
    if spec.get("manualSelector"):
        return
    name = (obj.get("metadata") or {}).get("name", "")
    template = spec.setdefault("template", {})
    meta = template.setdefault("metadata", {})
    labels = meta.setdefault("labels", {})
    labels.setdefault(JOB_CONTROLLER_UID_LABEL, uid)
    labels.setdefault(JOB_NAME_LABEL, name)
    labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, uid)
    labels.setdefault(LEGACY_JOB_NAME_LABEL, name)
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {JOB_CONTROLLER_UID_LABEL: uid}}


def default_cronjob(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        default_pod_template(job_template["spec"].get("template"))


def default_service(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        config.setdefault("timeoutSeconds", 10800)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "targetPort" not in port and "port" in port:
                port["targetPort"] = port["port"]
    kind = spec["type"]
    if kind == "ExternalName":
        return
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    spec.setdefault("internalTrafficPolicy", "Cluster")
    # ipFamilyPolicy and ipFamilies are not defaults: the Service IP allocator chooses them from
    # the cluster's families and what the client asked for (apiserver/service_alloc_spec.py).


def default_secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    # stringData is write-only: it is merged into data (base64) and never stored.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        import base64

        data = obj.get("data")
        if not isinstance(data, dict):
            data = {}
            obj["data"] = data
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_namespace(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("finalizers", ["kubernetes"])
    _status(obj).setdefault("phase", "Active")
    name = (obj.get("metadata") or {}).get("name")
    if name:
        labels = obj.setdefault("metadata", {}).setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = name


def default_node(obj: dict[str, Any]) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


def default_persistent_volume_claim(obj: dict[str, Any]) -> None:
    _spec(obj).setdefault("volumeMode", "Filesystem")
    _status(obj).setdefault("phase", "Pending")


def default_persistent_volume(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    _status(obj).setdefault("phase", "Pending")


def default_endpoints(obj: dict[str, Any]) -> None:
    for subset in obj.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def default_endpoint_slice(obj: dict[str, Any]) -> None:
    default_endpoint_slice_ports(obj)


def default_network_policy(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def default_hpa_v2(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    default_hpa_behavior(obj)


def default_hpa_v1(obj: dict[str, Any]) -> None:
    _spec(obj).setdefault("minReplicas", 1)


def default_priority_class(obj: dict[str, Any]) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def default_storage_class(obj: dict[str, Any]) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def default_csi_driver(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    spec.setdefault("attachRequired", True)
    spec.setdefault("podInfoOnMount", False)
    spec.setdefault("requiresRepublish", False)
    spec.setdefault("storageCapacity", False)
    spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
    spec.setdefault("volumeLifecycleModes", ["Persistent"])
    spec.setdefault("seLinuxMount", False)


def _default_rbac_subjects(obj: dict[str, Any]) -> None:
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and "apiGroup" not in subject:
            kind = subject.get("kind")
            subject["apiGroup"] = "" if kind == "ServiceAccount" else "rbac.authorization.k8s.io"


def _default_webhooks(obj: dict[str, Any], mutating: bool) -> None:
    for hook in obj.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def default_crd(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def default_pod_template_object(obj: dict[str, Any]) -> None:
    default_pod_template(obj.get("template"))


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("", "pods"): default_pod,
    ("", "podtemplates"): default_pod_template_object,
    ("", "replicationcontrollers"): default_replication_controller,
    ("", "services"): default_service,
    ("", "secrets"): default_secret,
    ("", "namespaces"): default_namespace,
    ("", "nodes"): default_node,
    ("", "persistentvolumeclaims"): default_persistent_volume_claim,
    ("", "persistentvolumes"): default_persistent_volume,
    ("", "endpoints"): default_endpoints,
    ("", "limitranges"): default_limit_range,
    ("apps", "deployments"): default_deployment,
    ("apps", "replicasets"): default_replicaset,
    ("apps", "statefulsets"): default_statefulset,
    ("apps", "daemonsets"): default_daemonset,
    ("batch", "jobs"): default_job,
    ("batch", "cronjobs"): default_cronjob,
    ("discovery.k8s.io", "endpointslices"): default_endpoint_slice,
    ("networking.k8s.io", "networkpolicies"): default_network_policy,
    ("networking.k8s.io", "ingressclasses"): default_ingress_class,
    ("scheduling.k8s.io", "priorityclasses"): default_priority_class,
    ("storage.k8s.io", "storageclasses"): default_storage_class,
    ("storage.k8s.io", "csidrivers"): default_csi_driver,
    ("rbac.authorization.k8s.io", "rolebindings"): _default_rbac_subjects,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _default_rbac_subjects,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): lambda o: _default_webhooks(o, True),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): lambda o: _default_webhooks(o, False),
    ("apiextensions.k8s.io", "customresourcedefinitions"): default_crd,
}


def apply_defaults(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Fill in server defaults for ``obj`` of resource ``info``, in place."""
    if not isinstance(obj, dict):
        return
    if info.group == "autoscaling" and info.resource == "horizontalpodautoscalers":
        defaulter: Defaulter | None = default_hpa_v2 if info.version == "v2" else default_hpa_v1
    else:
        defaulter = DEFAULTERS.get((info.group, info.resource))
    if defaulter is not None:
        try:
            defaulter(obj)
        except (AttributeError, TypeError, ValueError):
            # A field of the wrong JSON type: leave the rest as given; validation reports it.
            pass
