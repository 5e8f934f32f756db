"""The built-in resources, as a v1.34 Kubernetes apiserver lists them in discovery.

kubectl leans on this data: ``get po`` needs the short name, ``get all`` needs the "all"
category, ``scale`` needs the scale subresource with its autoscaling/v1 Scale response kind, and
an empty verb list hides a resource from ``api-resources``. Groups appear in the order the real
``/apis`` lists them, resources sorted by name within a version, as discovery does.
"""

from __future__ import annotations

from .registry import ALL_VERBS, Registry, ResourceInfo, SubresourceInfo

# Verb sets the real server uses, named by what they are for.
NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)
GET_LIST = ("get", "list")
STATUS_VERBS = ("get", "patch", "update")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
STREAM_VERBS = ("create", "get")  # exec, attach, portforward: GET for WebSocket, POST for SPDY
ALL = ("all",)
API_EXTENSIONS = ("api-extensions",)


def _status(group: str, version: str, kind: str) -> SubresourceInfo:
    return SubresourceInfo("status", kind, group, version, STATUS_VERBS)


def _scale() -> SubresourceInfo:
    return SubresourceInfo("scale", "Scale", "autoscaling", "v1", STATUS_VERBS)


def _res(
    group: str,
    version: str,
    resource: str,
    kind: str,
    namespaced: bool,
    *,
    verbs: tuple[str, ...] = ALL_VERBS,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
    extra: tuple[SubresourceInfo, ...] = (),
    generation: bool = False,
    storage_version: str = "",
) -> ResourceInfo:
    subs: list[SubresourceInfo] = list(extra)
    if scale:
        subs.append(_scale())
    if status:
        subs.append(_status(group, version, kind))
    subs.sort(key=lambda s: s.name)
    return ResourceInfo(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=namespaced,
        verbs=verbs,
        short_names=short,
        categories=categories,
        subresources=tuple(subs),
        storage_version=storage_version or version,
        has_generation=generation,
    )


def _core(resource: str, kind: str, namespaced: bool, **kw) -> ResourceInfo:
    return _res("", "v1", resource, kind, namespaced, **kw)


def _sub(name: str, kind: str, verbs: tuple[str, ...], group: str = "", version: str = "v1") -> SubresourceInfo:
    return SubresourceInfo(name, kind, group, version, verbs)


CORE_V1: tuple[ResourceInfo, ...] = (
    _core("bindings", "Binding", True, verbs=CREATE_ONLY),
    _core("componentstatuses", "ComponentStatus", False, verbs=GET_LIST, short=("cs",)),
    _core("configmaps", "ConfigMap", True, short=("cm",)),
    _core("endpoints", "Endpoints", True, short=("ep",)),
    _core("events", "Event", True, short=("ev",)),
    _core("limitranges", "LimitRange", True, short=("limits",)),
    _core("namespaces", "Namespace", False, verbs=NO_DELETECOLLECTION, short=("ns",), status=True,
          extra=(_sub("finalize", "Namespace", ("update",)),)),
    _core("nodes", "Node", False, short=("no",), status=True,
          extra=(_sub("proxy", "NodeProxyOptions", PROXY_VERBS),)),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", True, short=("pvc",), status=True),
    _core("persistentvolumes", "PersistentVolume", False, short=("pv",), status=True),
    _core("pods", "Pod", True, short=("po",), categories=ALL, status=True, generation=True, extra=(
        _sub("attach", "PodAttachOptions", STREAM_VERBS),
        _sub("binding", "Binding", CREATE_ONLY),
        _sub("ephemeralcontainers", "Pod", STATUS_VERBS),
        _sub("eviction", "Eviction", CREATE_ONLY, group="policy"),
        _sub("exec", "PodExecOptions", STREAM_VERBS),
        _sub("log", "Pod", ("get",)),
        _sub("portforward", "PodPortForwardOptions", STREAM_VERBS),
        _sub("proxy", "PodProxyOptions", PROXY_VERBS),
        _sub("resize", "Pod", STATUS_VERBS),
    )),
    _core("podtemplates", "PodTemplate", True),
    _core("replicationcontrollers", "ReplicationController", True, short=("rc",), categories=ALL,
          status=True, scale=True, generation=True),
    _core("resourcequotas", "ResourceQuota", True, short=("quota",), status=True),
    _core("secrets", "Secret", True),
    _core("serviceaccounts", "ServiceAccount", True, short=("sa",),
          extra=(_sub("token", "TokenRequest", CREATE_ONLY, group="authentication.k8s.io"),)),
    _core("services", "Service", True, short=("svc",), categories=ALL, status=True,
          extra=(_sub("proxy", "ServiceProxyOptions", PROXY_VERBS),)),
)


def _apps(resource: str, kind: str, **kw) -> ResourceInfo:
    return _res("apps", "v1", resource, kind, True, **kw)


APPS_V1 = (
    _apps("controllerrevisions", "ControllerRevision"),
    _apps("daemonsets", "DaemonSet", short=("ds",), categories=ALL, status=True, generation=True),
    _apps("deployments", "Deployment", short=("deploy",), categories=ALL, status=True, scale=True,
          generation=True),
    _apps("replicasets", "ReplicaSet", short=("rs",), categories=ALL, status=True, scale=True,
          generation=True),
    _apps("statefulsets", "StatefulSet", short=("sts",), categories=ALL, status=True, scale=True,
          generation=True),
)

EVENTS_V1 = (_res("events.k8s.io", "v1", "events", "Event", True, short=("ev",)),)

AUTHENTICATION_V1 = (
    _res("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY),
    _res("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=CREATE_ONLY),
)

_AUTHZ = "authorization.k8s.io"
AUTHORIZATION_V1 = (
    _res(_AUTHZ, "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True, verbs=CREATE_ONLY),
    _res(_AUTHZ, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=CREATE_ONLY),
    _res(_AUTHZ, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=CREATE_ONLY),
    _res(_AUTHZ, "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=CREATE_ONLY),
)


def _hpa(version: str) -> ResourceInfo:
    # Both versions share one storage (v2); v2 is preferred, so it is listed first.
    return _res("autoscaling", version, "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
                short=("hpa",), categories=ALL, status=True, generation=True, storage_version="v2")


AUTOSCALING = (_hpa("v2"), _hpa("v1"))

BATCH_V1 = (
    _res("batch", "v1", "cronjobs", "CronJob", True, short=("cj",), categories=ALL, status=True,
         generation=True),
    _res("batch", "v1", "jobs", "Job", True, categories=ALL, status=True, generation=True),
)

CERTIFICATES_V1 = (
    _res("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
         short=("csr",), status=True,
         extra=(_sub("approval", "CertificateSigningRequest", STATUS_VERBS, "certificates.k8s.io"),)),
)

_NET = "networking.k8s.io"
NETWORKING_V1 = (
    _res(_NET, "v1", "ingressclasses", "IngressClass", False, generation=True),
    _res(_NET, "v1", "ingresses", "Ingress", True, short=("ing",), status=True, generation=True),
    _res(_NET, "v1", "ipaddresses", "IPAddress", False, short=("ip",)),
    _res(_NET, "v1", "networkpolicies", "NetworkPolicy", True, short=("netpol",), generation=True),
    _res(_NET, "v1", "servicecidrs", "ServiceCIDR", False, status=True),
)

POLICY_V1 = (
    _res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, short=("pdb",), status=True,
         generation=True),
)

_RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = (
    _res(_RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _res(_RBAC, "v1", "clusterroles", "ClusterRole", False),
    _res(_RBAC, "v1", "rolebindings", "RoleBinding", True),
    _res(_RBAC, "v1", "roles", "Role", True),
)

_STORAGE = "storage.k8s.io"
STORAGE_V1 = (
    _res(_STORAGE, "v1", "csidrivers", "CSIDriver", False),
    _res(_STORAGE, "v1", "csinodes", "CSINode", False),
    _res(_STORAGE, "v1", "csistoragecapacities", "CSIStorageCapacity", True),
    _res(_STORAGE, "v1", "storageclasses", "StorageClass", False, short=("sc",)),
    _res(_STORAGE, "v1", "volumeattachments", "VolumeAttachment", False, status=True),
    _res(_STORAGE, "v1", "volumeattributesclasses", "VolumeAttributesClass", False, short=("vac",)),
)

_ADM = "admissionregistration.k8s.io"
ADMISSIONREGISTRATION_V1 = (
    _res(_ADM, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False,
         categories=API_EXTENSIONS, generation=True),
    _res(_ADM, "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False,
         categories=API_EXTENSIONS, status=True, generation=True),
    _res(_ADM, "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False,
         categories=API_EXTENSIONS, generation=True),
    _res(_ADM, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False,
         categories=API_EXTENSIONS, generation=True),
)

APIEXTENSIONS_V1 = (
    _res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
         short=("crd", "crds"), categories=API_EXTENSIONS, status=True, generation=True),
)

SCHEDULING_V1 = (_res("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short=("pc",)),)

COORDINATION_V1 = (_res("coordination.k8s.io", "v1", "leases", "Lease", True),)

NODE_V1 = (_res("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),)

DISCOVERY_V1 = (
    _res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, generation=True),
)

# The order of /apis on a real v1.34 server (apiregistration, flowcontrol and resource are not
# served here).
BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    *CORE_V1,
    *APPS_V1,
    *EVENTS_V1,
    *AUTHENTICATION_V1,
    *AUTHORIZATION_V1,
    *AUTOSCALING,
    *BATCH_V1,
    *CERTIFICATES_V1,
    *NETWORKING_V1,
    *POLICY_V1,
    *RBAC_V1,
    *STORAGE_V1,
    *ADMISSIONREGISTRATION_V1,
    *APIEXTENSIONS_V1,
    *SCHEDULING_V1,
    *COORDINATION_V1,
    *NODE_V1,
    *DISCOVERY_V1,
)


def builtin_registry() -> Registry:
    """A fresh registry holding every built-in resource (callers may add CRDs to it)."""
    return Registry(BUILTIN_RESOURCES)
