"""Table columns and cells for built-in kinds. Each case names the real printer it follows
(kubernetes pkg/printers/internalversion/printers.go unless stated otherwise)."""

import datetime as dt

import pytest

from kybernetes.api.tables import has_printer, table_cells, table_columns

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
CREATED = "2024-05-01T09:00:00Z"  # 3h before NOW


def ago(seconds: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str = "x", **extra) -> dict:
    return {"name": name, "namespace": "default", "creationTimestamp": CREATED, **extra}


def template(*containers: tuple[str, str], labels: dict | None = None, **spec) -> dict:
    return {
        "metadata": {"labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": n, "image": i} for n, i in containers], **spec},
    }


# (group, resource, expected column names with "*" marking priority-1 columns)
COLUMNS = [
    ("", "pods", "Name Ready Status Restarts Age *IP *Node *Nominated_Node *Readiness_Gates"),
    ("", "services", "Name Type Cluster-IP External-IP Port(s) Age *Selector"),
    ("", "endpoints", "Name Endpoints Age"),
    ("", "nodes", "Name Status Roles Age Version *Internal-IP *External-IP *OS-Image *Kernel-Version *Container-Runtime"),
    ("", "namespaces", "Name Status Age"),
    ("", "configmaps", "Name Data Age"),
    ("", "secrets", "Name Type Data Age"),
    ("", "serviceaccounts", "Name Secrets Age"),
    ("", "events", "Last_Seen Type Reason Object *Subobject *Source Message *First_Seen *Count *Name"),
    ("events.k8s.io", "events", "Last_Seen Type Reason Object *Subobject *Source Message *First_Seen *Count *Name"),
    ("", "podtemplates", "Name Containers Images Pod_Labels"),
    ("", "replicationcontrollers", "Name Desired Current Ready Age *Containers *Images *Selector"),
    ("", "persistentvolumes",
     "Name Capacity Access_Modes Reclaim_Policy Status Claim StorageClass VolumeAttributesClass Reason Age *VolumeMode"),
    ("", "persistentvolumeclaims",
     "Name Status Volume Capacity Access_Modes StorageClass VolumeAttributesClass Age *VolumeMode"),
    ("", "resourcequotas", "Name Request Limit Age"),
    ("", "componentstatuses", "Name Status Message Error"),
    ("apps", "deployments", "Name Ready Up-to-date Available Age *Containers *Images *Selector"),
    ("apps", "replicasets", "Name Desired Current Ready Age *Containers *Images *Selector"),
    ("apps", "statefulsets", "Name Ready Age *Containers *Images"),
    ("apps", "daemonsets",
     "Name Desired Current Ready Up-to-date Available Node_Selector Age *Containers *Images *Selector"),
    ("apps", "controllerrevisions", "Name Controller Revision Age"),
    ("batch", "jobs", "Name Status Completions Duration Age *Containers *Images *Selector"),
    ("batch", "cronjobs", "Name Schedule Timezone Suspend Active Last_Schedule Age *Containers *Images *Selector"),
    ("coordination.k8s.io", "leases", "Name Holder Age"),
    ("autoscaling", "horizontalpodautoscalers", "Name Reference Targets MinPods MaxPods Replicas Age"),
    ("policy", "poddisruptionbudgets", "Name Min_Available Max_Unavailable Allowed_Disruptions Age"),
    ("networking.k8s.io", "networkpolicies", "Name Pod-Selector Age"),
    ("networking.k8s.io", "ingresses", "Name Class Hosts Address Ports Age"),
    ("networking.k8s.io", "ingressclasses", "Name Controller Parameters Age"),
    ("discovery.k8s.io", "endpointslices", "Name AddressType Ports Endpoints Age"),
    ("rbac.authorization.k8s.io", "rolebindings", "Name Role Age *Users *Groups *ServiceAccounts"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "Name Role Age *Users *Groups *ServiceAccounts"),
    ("storage.k8s.io", "storageclasses",
     "Name Provisioner ReclaimPolicy VolumeBindingMode AllowVolumeExpansion Age"),
    ("storage.k8s.io", "csidrivers",
     "Name AttachRequired PodInfoOnMount StorageCapacity TokenRequests RequiresRepublish Modes Age"),
    ("storage.k8s.io", "csinodes", "Name Drivers Age"),
    ("storage.k8s.io", "volumeattachments", "Name Attacher PV Node Attached Age"),
    ("scheduling.k8s.io", "priorityclasses", "Name Value Global-Default Age PreemptionPolicy"),
    ("certificates.k8s.io", "certificatesigningrequests", "Name Age SignerName Requestor RequestedDuration Condition"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "Name Webhooks Age"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "Name Webhooks Age"),
    ("apiregistration.k8s.io", "apiservices", "Name Service Available Age"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas",
     "Name PriorityLevel MatchingPrecedence DistinguisherMethod Age MissingPL"),
]


@pytest.mark.parametrize(("group", "resource", "expected"), COLUMNS, ids=[f"{g}/{r}" for g, r, _ in COLUMNS])
def test_columns_match_the_real_server(group, resource, expected):
    columns = table_columns(group, resource)
    shown = " ".join(("*" if c["priority"] else "") + c["name"].replace(" ", "_") for c in columns)
    assert shown == expected
    for c in columns:
        assert set(c) == {"name", "type", "format", "description", "priority"}
        assert c["type"] in ("string", "integer", "boolean", "number", "date")
        assert c["description"]


def test_column_types_and_formats_follow_upstream():
    def types(group, resource):
        return [c["type"] for c in table_columns(group, resource)]

    assert types("apps", "replicasets")[1:4] == ["integer"] * 3  # printReplicaSet columns
    assert types("apps", "deployments")[1:4] == ["string"] * 3  # Ready/Up-to-date/Available are strings
    assert types("batch", "cronjobs")[3:5] == ["boolean", "integer"]
    assert types("", "pods")[3] == "string"  # Restarts became a string with "(5m ago)"
    assert [c["format"] for c in table_columns("", "events")][-1] == "name"
    assert [c["format"] for c in table_columns("storage.k8s.io", "volumeattachments")][:2] == ["name", "name"]


def test_unknown_and_printerless_resources_use_the_default_table():
    # k8s.io/apiserver's default table convertor: Name (format name) and Created At (date, RFC 3339).
    for group, resource in [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("example.com", "widgets"),
    ]:
        assert not has_printer(group, resource)
        columns = table_columns(group, resource)
        assert [(c["name"], c["type"], c["format"]) for c in columns] == [
            ("Name", "string", "name"),
            ("Created At", "date", ""),
        ]
        assert table_cells(group, resource, {"metadata": meta("r")}, NOW) == ["r", "2024-05-01T09:00:00Z"]
    assert table_cells("", "limitranges", {}, NOW) == ["", "0001-01-01T00:00:00Z"]


def test_columns_are_fresh_copies():
    table_columns("", "pods")[0]["name"] = "changed"
    assert table_columns("", "pods")[0]["name"] == "Name"


CELLS = [
    # printService: ClusterIP with selector
    ("", "services", {
        "metadata": meta("web"),
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                 "selector": {"tier": "fe", "app": "web"}},
    }, ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "3h", "app=web,tier=fe"]),
    # printService: NodePort shows port:nodePort; defaulted protocol
    ("", "services", {
        "metadata": meta("np"),
        "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.11"], "ports": [{"port": 80, "nodePort": 30080}]},
    }, ["np", "NodePort", "10.96.0.11", "<none>", "80:30080/TCP", "3h", "<none>"]),
    # printService: LoadBalancer without ingress is <pending>
    ("", "services", {
        "metadata": meta("lb"),
        "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"], "ports": [{"port": 443, "nodePort": 31443}]},
    }, ["lb", "LoadBalancer", "10.96.0.12", "<pending>", "443:31443/TCP", "3h", "<none>"]),
    # getServiceExternalIP: LB ingress (sorted, unique) then spec.externalIPs
    ("", "services", {
        "metadata": meta("lb2"),
        "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.13"], "externalIPs": ["5.6.7.8"], "ports": []},
        "status": {"loadBalancer": {"ingress": [{"ip": "3.4.5.6"}, {"hostname": "lb.example.com"}, {"ip": "3.4.5.6"}]}},
    }, ["lb2", "LoadBalancer", "10.96.0.13", "3.4.5.6,lb.example.com,5.6.7.8", "<none>", "3h", "<none>"]),
    # printService: headless and ExternalName
    ("", "services", {
        "metadata": meta("db"), "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}]},
    }, ["db", "ClusterIP", "None", "<none>", "5432/TCP", "3h", "<none>"]),
    ("", "services", {
        "metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"},
    }, ["ext", "ExternalName", "<none>", "example.com", "<none>", "3h", "<none>"]),
    # printEndpoints / formatEndpoints: ip:port per port, three at most, IPv6 bracketed
    ("", "endpoints", {
        "metadata": meta("web"),
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}, {"port": 9090}]}],
    }, ["web", "10.0.0.1:8080,10.0.0.2:8080,10.0.0.1:9090 + 1 more...", "3h"]),
    ("", "endpoints", {
        "metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}],
    }, ["v6", "[fd00::1]:80", "3h"]),
    ("", "endpoints", {"metadata": meta("none")}, ["none", "<none>", "3h"]),
    # printNode: Ready + SchedulingDisabled, roles from both label styles
    ("", "nodes", {
        "metadata": meta("n1", labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master",
                                       "node-role.kubernetes.io/": "ignored"}),
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "runc://1.1.12"},
        },
    }, ["n1", "Ready,SchedulingDisabled", "control-plane,master", "3h", "v1.32.0", "192.168.1.10", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "runc://1.1.12"]),
    ("", "nodes", {
        "metadata": meta("n2"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }, ["n2", "NotReady", "<none>", "3h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
    ("", "nodes", {"metadata": meta("n3")},
     ["n3", "Unknown", "<none>", "3h", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
    # printNamespace
    ("", "namespaces", {"metadata": meta("dev"), "status": {"phase": "Terminating"}}, ["dev", "Terminating", "3h"]),
    # printConfigMap counts data and binaryData
    ("", "configmaps", {"metadata": meta("cm"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}},
     ["cm", 3, "3h"]),
    # printSecret
    ("", "secrets", {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
     ["s", "kubernetes.io/tls", 2, "3h"]),
    ("", "secrets", {"metadata": meta("s2")}, ["s2", "Opaque", 0, "3h"]),
    # printServiceAccount
    ("", "serviceaccounts", {"metadata": meta("default")}, ["default", 0, "3h"]),
    # printPodTemplate (no Age column)
    ("", "podtemplates", {"metadata": meta("pt"), "template": template(("a", "nginx"), ("b", "redis"))},
     ["pt", "a,b", "nginx,redis", "app=web"]),
    # printReplicationController
    ("", "replicationcontrollers", {
        "metadata": meta("rc"), "spec": {"replicas": 3, "selector": {"app": "web"}, "template": template(("w", "nginx"))},
        "status": {"replicas": 3, "readyReplicas": 2},
    }, ["rc", 3, 3, 2, "3h", "w", "nginx", "app=web"]),
    # printPersistentVolume: bound, default class via annotation beats spec
    ("", "persistentvolumes", {
        "metadata": meta("pv1", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}),
        "spec": {"capacity": {"storage": "1.5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                 "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"},
    }, ["pv1", "1536Mi", "RWO,RWX", "Delete", "Bound", "default/data", "legacy", "<unset>", "", "3h", "Filesystem"]),
    ("", "persistentvolumes", {
        "metadata": meta("pv2", deletionTimestamp=ago(5)),
        "spec": {"capacity": {"storage": "10G"}, "accessModes": ["ReadWriteOncePod"], "storageClassName": "fast",
                 "volumeAttributesClassName": "gold", "volumeMode": "Block"},
        "status": {"phase": "Released", "reason": "Reclaiming"},
    }, ["pv2", "10G", "RWOP", "Retain", "Terminating", "", "fast", "gold", "Reclaiming", "3h", "Block"]),
    # printPersistentVolumeClaim: capacity and modes only once bound
    ("", "persistentvolumeclaims", {
        "metadata": meta("data"),
        "spec": {"volumeName": "pv1", "storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteOnce"]},
    }, ["data", "Bound", "pv1", "1Gi", "RWO", "standard", "<unset>", "3h", "Filesystem"]),
    ("", "persistentvolumeclaims", {
        "metadata": meta("wait"), "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"},
    }, ["wait", "Pending", "", "", "", "", "<unset>", "3h", "Filesystem"]),
    # printResourceQuota: sorted resources, limits.* in the Limit column, canonical quantities
    ("", "resourcequotas", {
        "metadata": meta("q"),
        "status": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi", "requests.memory": "1024Mi"},
                   "used": {"pods": "3", "requests.cpu": "500m", "limits.memory": "512Mi"}},
    }, ["q", "pods: 3/10, requests.cpu: 500m/2, requests.memory: 0/1Gi", "limits.memory: 512Mi/2Gi", "3h"]),
    # printComponentStatus
    ("", "componentstatuses", {
        "metadata": meta("etcd-0"), "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
    }, ["etcd-0", "Healthy", "ok", ""]),
    # printEvent: core/v1 with count, source, and subobject
    ("", "events", {
        "metadata": meta("web.17a"), "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 7,
    }, ["30s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, n1",
        "Back-off restarting failed container", "10m", 7, "web.17a"]),
    # printEvent: new-style event (eventTime, reportingComponent, no count -> 1)
    ("", "events", {
        "metadata": meta("e2"), "type": "Normal", "reason": "Scheduled", "message": "assigned",
        "involvedObject": {"kind": "Pod", "name": "web"}, "eventTime": "2024-05-01T11:58:00.000000Z",
        "reportingComponent": "default-scheduler", "reportingInstance": "",
    }, ["2m", "Normal", "Scheduled", "pod/web", "", "default-scheduler", "assigned", "2m", 1, "e2"]),
    # printEvent via the internal conversion of an events.k8s.io/v1 Event, with a series
    ("events.k8s.io", "events", {
        "metadata": meta("e3"), "type": "Normal", "reason": "Pulled", "note": "pulled image",
        "regarding": {"kind": "Pod", "name": "web"}, "eventTime": "2024-05-01T11:00:00.000000Z",
        "series": {"count": 4, "lastObservedTime": "2024-05-01T11:59:00.000000Z"},
        "reportingController": "kubelet", "reportingInstance": "n1",
    }, ["60s", "Normal", "Pulled", "pod/web", "", "kubelet, n1", "pulled image", "60m", 4, "e3"]),
    # printDeployment
    ("apps", "deployments", {
        "metadata": meta("web"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": template(("nginx", "nginx:1.27"), ("side", "busybox"))},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }, ["web", "2/3", 3, 2, "3h", "nginx,side", "nginx:1.27,busybox", "app=web"]),
    ("apps", "deployments", {"metadata": meta("new"), "spec": {"template": template(("a", "b"))}},
     ["new", "0/1", 0, 0, "3h", "a", "b", ""]),
    # printReplicaSet with a matchExpressions selector
    ("apps", "replicasets", {
        "metadata": meta("web-5d"),
        "spec": {"replicas": 2, "template": template(("nginx", "nginx")), "selector": {
            "matchLabels": {"pod-template-hash": "5d"},
            "matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]}},
        "status": {"replicas": 2, "readyReplicas": 1},
    }, ["web-5d", 2, 2, 1, "3h", "nginx", "nginx", "app in (api,web),!canary,pod-template-hash=5d"]),
    # printStatefulSet
    ("apps", "statefulsets", {
        "metadata": meta("db"), "spec": {"replicas": 3, "template": template(("pg", "postgres:16"))},
        "status": {"readyReplicas": 3},
    }, ["db", "3/3", "3h", "pg", "postgres:16"]),
    # printDaemonSet
    ("apps", "daemonsets", {
        "metadata": meta("agent"),
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": template(("a", "agent:1"), nodeSelector={"kubernetes.io/os": "linux"})},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2},
    }, ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "3h", "a", "agent:1", "app=agent"]),
    # printControllerRevision
    ("apps", "controllerrevisions", {
        "metadata": meta("agent-7f", ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": True}]),
        "revision": 2,
    }, ["agent-7f", "daemonset.apps/agent", 2, "3h"]),
    ("apps", "controllerrevisions", {"metadata": meta("orphan"), "revision": 1}, ["orphan", "<none>", 1, "3h"]),
    # printJob: running job, duration to now
    ("batch", "jobs", {
        "metadata": meta("pi"),
        "spec": {"completions": 3, "parallelism": 1, "selector": {"matchLabels": {"job-name": "pi"}},
                 "template": template(("pi", "perl"))},
        "status": {"succeeded": 1, "startTime": ago(150)},
    }, ["pi", "Running", "1/3", "2m30s", "3h", "pi", "perl", "job-name=pi"]),
    # printJob: complete, duration start..completion
    ("batch", "jobs", {
        "metadata": meta("done"), "spec": {"completions": 1, "template": template(("a", "b"))},
        "status": {"succeeded": 1, "startTime": ago(3000), "completionTime": ago(2955),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]},
    }, ["done", "Complete", "1/1", "45s", "3h", "a", "b", "<none>"]),
    # printJob: work queue (no completions, parallelism 4), failed
    ("batch", "jobs", {
        "metadata": meta("q"), "spec": {"parallelism": 4, "template": template(("a", "b"))},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]},
    }, ["q", "Failed", "0/1 of 4", "", "3h", "a", "b", "<none>"]),
    ("batch", "jobs", {
        "metadata": meta("s", deletionTimestamp=ago(1)), "spec": {"suspend": True},
        "status": {"conditions": [{"type": "Suspended", "status": "True"}]},
    }, ["s", "Terminating", "0/1", "", "3h", "", "", "<none>"]),
    ("batch", "jobs", {
        "metadata": meta("s2"), "status": {"conditions": [{"type": "Suspended", "status": "True"}]},
    }, ["s2", "Suspended", "0/1", "", "3h", "", "", "<none>"]),
    # printCronJob
    ("batch", "cronjobs", {
        "metadata": meta("nightly"),
        "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Paris", "suspend": False,
                 "jobTemplate": {"spec": {"template": template(("backup", "restic"))}}},
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(4000)},
    }, ["nightly", "0 3 * * *", "Europe/Paris", "False", 1, "66m", "3h", "backup", "restic", "<none>"]),
    ("batch", "cronjobs", {"metadata": meta("c"), "spec": {"schedule": "*/5 * * * *"}},
     ["c", "*/5 * * * *", "<none>", "False", 0, "<none>", "3h", "", "", "<none>"]),
    # printLease
    ("coordination.k8s.io", "leases", {"metadata": meta("n1"), "spec": {"holderIdentity": "n1"}}, ["n1", "n1", "3h"]),
    ("coordination.k8s.io", "leases", {"metadata": meta("free"), "spec": {}}, ["free", "", "3h"]),
    # printHorizontalPodAutoscaler (v2 metrics)
    ("autoscaling", "horizontalpodautoscalers", {
        "metadata": meta("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [
                     {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                     {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
                     {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                 ]},
        "status": {"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "120m"}}},
        ]},
    }, ["web", "Deployment/web", "cpu: 12%/80%, memory: <unknown>/200Mi + 1 more...", "2", 10, 3, "3h"]),
    # printHorizontalPodAutoscaler (autoscaling/v1 object converted like the real server)
    ("autoscaling", "horizontalpodautoscalers", {
        "metadata": meta("v1"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                 "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 1},
    }, ["v1", "Deployment/web", "cpu: <unknown>/50%", "<unset>", 5, 1, "3h"]),
    # printPodDisruptionBudget
    ("policy", "poddisruptionbudgets", {
        "metadata": meta("pdb"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1},
    }, ["pdb", "50%", "N/A", 1, "3h"]),
    ("policy", "poddisruptionbudgets", {"metadata": meta("pdb2"), "spec": {"maxUnavailable": 1}},
     ["pdb2", "N/A", "1", 0, "3h"]),
    # printNetworkPolicy: empty selector selects every pod
    ("networking.k8s.io", "networkpolicies", {"metadata": meta("deny"), "spec": {"podSelector": {}}},
     ["deny", "<none>", "3h"]),
    ("networking.k8s.io", "networkpolicies", {
        "metadata": meta("web"), "spec": {"podSelector": {"matchLabels": {"app": "web"}}}}, ["web", "app=web", "3h"]),
    # printIngress / formatHosts / formatPorts
    ("networking.k8s.io", "ingresses", {
        "metadata": meta("ing"),
        "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                 "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"},
                           {"host": "d.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
    }, ["ing", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "203.0.113.9", "80, 443", "3h"]),
    ("networking.k8s.io", "ingresses", {"metadata": meta("any"), "spec": {"rules": [{}]}},
     ["any", "<none>", "*", "", "80", "3h"]),
    # printIngressClass
    ("networking.k8s.io", "ingressclasses", {
        "metadata": meta("nginx"),
        "spec": {"controller": "k8s.io/ingress-nginx",
                 "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external"}},
    }, ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external", "3h"]),
    # printEndpointSlice
    ("discovery.k8s.io", "endpointslices", {
        "metadata": meta("web-abc"), "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "named"}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.3"]},
                      {"addresses": ["10.0.0.4"]}],
    }, ["web-abc", "IPv4", "80,named", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "3h"]),
    ("discovery.k8s.io", "endpointslices", {"metadata": meta("empty"), "addressType": "IPv4"},
     ["empty", "IPv4", "<unset>", "<unset>", "3h"]),
    # printRoleBinding / rbac.SubjectsStrings
    ("rbac.authorization.k8s.io", "rolebindings", {
        "metadata": meta("rb"), "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                     {"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"}],
    }, ["rb", "ClusterRole/view", "3h", "alice, bob", "devs", "ci/bot"]),
    # printStorageClass: default marker and upstream defaults
    ("storage.k8s.io", "storageclasses", {
        "metadata": meta("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
    }, ["standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "3h"]),
    # printCSIDriver
    ("storage.k8s.io", "csidrivers", {
        "metadata": meta("csi.example.com"),
        "spec": {"podInfoOnMount": True, "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                 "tokenRequests": [{"audience": "vault"}, {"audience": "aws"}]},
    }, ["csi.example.com", True, True, False, "vault,aws", False, "Persistent,Ephemeral", "3h"]),
    ("storage.k8s.io", "csinodes", {"metadata": meta("n1"), "spec": {"drivers": [{"name": "a"}]}}, ["n1", 1, "3h"]),
    # printVolumeAttachment
    ("storage.k8s.io", "volumeattachments", {
        "metadata": meta("csi-123"),
        "spec": {"attacher": "csi.example.com", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}},
        "status": {"attached": True},
    }, ["csi-123", "csi.example.com", "pv1", "n1", True, "3h"]),
    # printPriorityClass
    ("scheduling.k8s.io", "priorityclasses", {
        "metadata": meta("system-node-critical"), "value": 2000001000, "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }, ["system-node-critical", 2000001000, False, "3h", "PreemptLowerPriority"]),
    # printCertificateSigningRequest / extractCSRStatus
    ("certificates.k8s.io", "certificatesigningrequests", {
        "metadata": meta("csr-1"),
        "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
    }, ["csr-1", "3h", "kubernetes.io/kube-apiserver-client", "alice", "24h", "Approved,Issued"]),
    ("certificates.k8s.io", "certificatesigningrequests", {"metadata": meta("csr-2"), "spec": {"username": "bob"}},
     ["csr-2", "3h", "<none>", "bob", "<none>", "Pending"]),
    # printMutatingWebhook / printValidatingWebhook
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", {
        "metadata": meta("policy"), "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}],
    }, ["policy", 2, "3h"]),
    # kube-aggregator's APIService table
    ("apiregistration.k8s.io", "apiservices", {"metadata": meta("v1.apps")}, ["v1.apps", "Local", "Unknown", "3h"]),
    ("apiregistration.k8s.io", "apiservices", {
        "metadata": meta("v1beta1.metrics.k8s.io"),
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]},
    }, ["v1beta1.metrics.k8s.io", "kube-system/metrics-server", "False (MissingEndpoints)", "3h"]),
]


@pytest.mark.parametrize(
    ("group", "resource", "obj", "expected"),
    CELLS,
    ids=[f"{g or 'core'}/{r}/{o['metadata']['name']}" for g, r, o, _ in CELLS],
)
def test_cells_match_the_real_printers(group, resource, obj, expected):
    cells = table_cells(group, resource, obj, NOW)
    assert cells == expected
    assert len(cells) == len(table_columns(group, resource))
