"""Core (v1) kinds other than pods and events: services, endpoints, nodes, namespaces, config
maps, secrets, service accounts, pod templates, replication controllers, resource quotas and
component statuses. Each printer follows the function of the same name in kubernetes
pkg/printers/internalversion/printers.go (printService, printNode, ...).

Cells describe the object as the real server stores it, i.e. after defaulting: where a
defaulted field is absent (a service's type, a port's protocol, a secret's type, replicas) we
print the value defaulting would have set. limitranges have no printer upstream and use the
default table (see __init__).
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from kybernetes.api.tables.common import (
    CONTAINERS_DESCRIPTION,
    IMAGES_DESCRIPTION,
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    dig,
    format_labels,
    layout_containers,
    meta_name,
    name_column,
)
from kybernetes.api.tables.quantity_text import canonical_quantity

# -- services ----------------------------------------------------------------------------------


def _load_balancer_ips(status: dict) -> str:
    # The printer clips this to 16 characters only for non-wide output; servers always print wide.
    found: set[str] = set()
    for entry in as_list(dig(status, "loadBalancer", "ingress")):
        entry = as_dict(entry)
        value = as_str(entry.get("ip")) or as_str(entry.get("hostname"))
        if value:
            found.add(value)
    return ",".join(sorted(found))


def _external_ip(spec: dict, status: dict, type_: str) -> str:
    external = [as_str(ip) for ip in as_list(spec.get("externalIPs"))]
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if type_ == "LoadBalancer":
        balancer = _load_balancer_ips(status)
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if type_ == "ExternalName":
        return as_str(spec.get("externalName"))
    return "<unknown>"


def _ports(ports: list) -> str:
    pieces = []
    for port in ports:
        port = as_dict(port)
        number, protocol = as_int(port.get("port")), as_str(port.get("protocol")) or "TCP"
        node_port = as_int(port.get("nodePort"))
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces)


def service_cells(svc: dict, now: dt.datetime) -> list:
    spec, status = as_dict(svc.get("spec")), as_dict(svc.get("status"))
    type_ = as_str(spec.get("type")) or "ClusterIP"
    cluster_ips = as_list(spec.get("clusterIPs"))
    cluster_ip = as_str(cluster_ips[0]) if cluster_ips else as_str(spec.get("clusterIP"))
    return [
        meta_name(svc),
        type_,
        cluster_ip or "<none>",
        _external_ip(spec, status, type_),
        _ports(as_list(spec.get("ports"))) or "<none>",
        age(svc, now),
        format_labels(spec.get("selector")),
    ]


SERVICE_COLUMNS = (
    name_column(),
    column("Type", "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
    column("Cluster-IP", "The service's virtual IP inside the cluster."),
    column("External-IP", "Addresses the service is reachable at from outside the cluster."),
    column("Port(s)", "Service ports, with node ports, and protocols."),
    age_column(),
    column("Selector", "Labels of the pods that back the service.", priority=1),
)

# -- endpoints ---------------------------------------------------------------------------------


def _host_port(ip: str, port: int) -> str:
    try:
        is_v6 = isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address)
    except ValueError:
        is_v6 = ":" in ip
    return f"[{ip}]:{port}" if is_v6 else f"{ip}:{port}"


def format_endpoints(endpoints: dict) -> str:
    """Up to three ip:port pairs then "+ N more...", like the printers' formatEndpoints."""
    subsets = as_list(endpoints.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for subset in subsets:
        subset = as_dict(subset)
        addresses = [as_str(as_dict(a).get("ip")) for a in as_list(subset.get("addresses"))]
        ports = as_list(subset.get("ports"))
        if not ports:  # headless services may have no ports
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip)
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(_host_port(ip, as_int(as_dict(port).get("port"))))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


ENDPOINTS_COLUMNS = (name_column(), column("Endpoints", "Ready addresses with their ports."), age_column())

# -- nodes -------------------------------------------------------------------------------------


def _node_roles(labels: dict) -> str:
    roles: set[str] = set()
    for key, value in labels.items():
        if isinstance(key, str) and key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or "<none>"


def _node_address(status: dict, type_: str) -> str:
    for address in as_list(status.get("addresses")):
        address = as_dict(address)
        if address.get("type") == type_:
            return as_str(address.get("address"))
    return "<none>"


def node_cells(node: dict, now: dt.datetime) -> list:
    spec, status = as_dict(node.get("spec")), as_dict(node.get("status"))
    states: list[str] = []
    conditions = {as_dict(c).get("type"): as_dict(c) for c in as_list(status.get("conditions"))}
    if "Ready" in conditions:
        states.append("Ready" if conditions["Ready"].get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if spec.get("unschedulable") is True:
        states.append("SchedulingDisabled")
    info = as_dict(status.get("nodeInfo"))
    return [
        meta_name(node),
        ",".join(states),
        _node_roles(as_dict(dig(node, "metadata", "labels"))),
        age(node, now),
        as_str(info.get("kubeletVersion")),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        as_str(info.get("osImage")) or "<unknown>",
        as_str(info.get("kernelVersion")) or "<unknown>",
        as_str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


NODE_COLUMNS = (
    name_column(),
    column("Status", "The status of the node"),
    column("Roles", "The roles of the node"),
    age_column(),
    column("Version", "Kubelet version reported by the node."),
    column("Internal-IP", "The node's first InternalIP address.", priority=1),
    column("External-IP", "The node's first ExternalIP address.", priority=1),
    column("OS-Image", "Operating system image reported by the node.", priority=1),
    column("Kernel-Version", "Kernel version reported by the node.", priority=1),
    column("Container-Runtime", "Container runtime name and version reported by the node.", priority=1),
)

# -- simple kinds ------------------------------------------------------------------------------


def namespace_cells(ns: dict, now: dt.datetime) -> list:
    return [meta_name(ns), as_str(dig(ns, "status", "phase")) or "Active", age(ns, now)]


def configmap_cells(cm: dict, now: dt.datetime) -> list:
    return [meta_name(cm), len(as_dict(cm.get("data"))) + len(as_dict(cm.get("binaryData"))), age(cm, now)]


def secret_cells(secret: dict, now: dt.datetime) -> list:
    return [
        meta_name(secret),
        as_str(secret.get("type")) or "Opaque",
        len(as_dict(secret.get("data"))),
        age(secret, now),
    ]


def serviceaccount_cells(sa: dict, now: dt.datetime) -> list:
    return [meta_name(sa), len(as_list(sa.get("secrets"))), age(sa, now)]


def podtemplate_cells(template: dict, now: dt.datetime) -> list:
    body = as_dict(template.get("template"))
    names, images = layout_containers(dig(body, "spec", "containers"))
    return [meta_name(template), names, images, format_labels(dig(body, "metadata", "labels"))]


def _replicas(spec: dict) -> int:
    # spec.replicas defaults to 1; an absent value means the object was stored undefaulted.
    value = spec.get("replicas")
    return as_int(value) if value is not None else 1


def replicationcontroller_cells(rc: dict, now: dt.datetime) -> list:
    spec, status = as_dict(rc.get("spec")), as_dict(rc.get("status"))
    names, images = layout_containers(dig(spec, "template", "spec", "containers"))
    return [
        meta_name(rc),
        _replicas(spec),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        age(rc, now),
        names,
        images,
        format_labels(spec.get("selector")),
    ]


def resourcequota_cells(quota: dict, now: dt.datetime) -> list:
    hard = as_dict(dig(quota, "status", "hard"))
    used = as_dict(dig(quota, "status", "used"))
    requests, limits = [], []
    for resource in sorted(hard, key=str):
        text = (
            f"{resource}: {canonical_quantity(used.get(resource, '0'))}/{canonical_quantity(hard[resource])}"
        )
        pieces = str(resource).split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [meta_name(quota), ", ".join(requests), ", ".join(limits), age(quota, now)]


def componentstatus_cells(cs: dict, now: dt.datetime) -> list:
    status, message, error = "Unknown", "", ""
    for entry in as_list(cs.get("conditions")):
        entry = as_dict(entry)
        if entry.get("type") == "Healthy":
            status = "Healthy" if entry.get("status") == "True" else "Unhealthy"
            message, error = as_str(entry.get("message")), as_str(entry.get("error"))
            break
    return [meta_name(cs), status, message, error]


TABLES = {
    ("", "services"): TableSpec(SERVICE_COLUMNS, service_cells),
    ("", "endpoints"): TableSpec(
        ENDPOINTS_COLUMNS, lambda ep, now: [meta_name(ep), format_endpoints(ep), age(ep, now)]
    ),
    ("", "nodes"): TableSpec(NODE_COLUMNS, node_cells),
    ("", "namespaces"): TableSpec(
        (name_column(), column("Status", "The status of the namespace"), age_column()), namespace_cells
    ),
    ("", "configmaps"): TableSpec(
        (name_column(), column("Data", "Number of keys in data and binaryData."), age_column()),
        configmap_cells,
    ),
    ("", "secrets"): TableSpec(
        (
            name_column(),
            column("Type", "The type of the secret."),
            column("Data", "Number of keys in data."),
            age_column(),
        ),
        secret_cells,
    ),
    ("", "serviceaccounts"): TableSpec(
        (name_column(), column("Secrets", "Number of secrets listed by the service account."), age_column()),
        serviceaccount_cells,
    ),
    ("", "podtemplates"): TableSpec(
        (
            name_column(),
            column("Containers", CONTAINERS_DESCRIPTION),
            column("Images", IMAGES_DESCRIPTION),
            column("Pod Labels", "The labels for the pod template."),
        ),
        podtemplate_cells,
    ),
    ("", "replicationcontrollers"): TableSpec(
        (
            name_column(),
            column("Desired", "Number of replicas asked for.", type="integer"),
            column("Current", "Number of replicas that exist.", type="integer"),
            column("Ready", "Number of ready replicas.", type="integer"),
            age_column(),
            column("Containers", CONTAINERS_DESCRIPTION, priority=1),
            column("Images", IMAGES_DESCRIPTION, priority=1),
            column("Selector", "Labels of the pods the controller manages.", priority=1),
        ),
        replicationcontroller_cells,
    ),
    ("", "resourcequotas"): TableSpec(
        (
            name_column(),
            column("Request", "Used and hard amounts of every resource except limits.*."),
            column("Limit", "Used and hard amounts of the limits.* resources."),
            age_column(),
        ),
        resourcequota_cells,
    ),
    ("", "componentstatuses"): TableSpec(
        (
            name_column(),
            column("Status", "Status of the component conditions"),
            column("Message", "Message of the component conditions"),
            column("Error", "Error of the component conditions"),
        ),
        componentstatus_cells,
    ),
}
