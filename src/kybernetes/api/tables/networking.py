"""networking.k8s.io/v1 and discovery.k8s.io/v1: ingresses, ingressclasses, networkpolicies,
servicecidrs, ipaddresses and endpointslices, following printIngress, printIngressClass,
printNetworkPolicy, printServiceCIDR, printIPAddress and printEndpointSlice in kubernetes
pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_int,
    as_list,
    as_str,
    column,
    dig,
    format_selector,
    meta_name,
    more_list,
    name_column,
)


def _hosts(rules: list) -> str:
    # Mirrors formatHosts: at most three hosts; rules without a host are skipped but still
    # count toward the "+ N more..." total.
    shown: list[str] = []
    limit, more = 3, False
    for rule in rules:
        if len(shown) == limit:
            more = True
        host = as_str(as_dict(rule).get("host"))
        if not more and host:
            shown.append(host)
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - limit} more..." if more else text


def _addresses(status: dict) -> str:
    # Clipped to 16 characters only for non-wide output, and the server always prints wide.
    found: set[str] = set()
    for entry in as_list(dig(status, "loadBalancer", "ingress")):
        entry = as_dict(entry)
        value = as_str(entry.get("ip")) or as_str(entry.get("hostname"))
        if value:
            found.add(value)
    return ",".join(sorted(found))


def ingress_cells(ingress: dict, now: dt.datetime) -> list:
    spec = as_dict(ingress.get("spec"))
    class_name = spec.get("ingressClassName")
    return [
        meta_name(ingress),
        "<none>" if class_name is None else as_str(class_name),
        _hosts(as_list(spec.get("rules"))),
        _addresses(as_dict(ingress.get("status"))),
        "80, 443" if as_list(spec.get("tls")) else "80",
        age(ingress, now),
    ]


def ingressclass_cells(ic: dict, now: dt.datetime) -> list:
    spec = as_dict(ic.get("spec"))
    parameters = "<none>"
    params = spec.get("parameters")
    if isinstance(params, dict):
        parameters = as_str(params.get("kind"))
        if params.get("apiGroup") is not None:
            parameters += "." + as_str(params.get("apiGroup"))
        parameters += "/" + as_str(params.get("name"))
    return [meta_name(ic), as_str(spec.get("controller")), parameters, age(ic, now)]


def networkpolicy_cells(np: dict, now: dt.datetime) -> list:
    # podSelector is a value (not a pointer) upstream, so an absent one is the empty selector.
    selector = dig(np, "spec", "podSelector")
    return [meta_name(np), format_selector({} if selector is None else selector), age(np, now)]


def servicecidr_cells(cidr: dict, now: dt.datetime) -> list:
    cidrs = [as_str(c) for c in as_list(dig(cidr, "spec", "cidrs"))]
    return [meta_name(cidr), ",".join(cidrs), age(cidr, now)]


def ipaddress_cells(ip: dict, now: dt.datetime) -> list:
    parent = dig(ip, "spec", "parentRef")
    text = "<none>"
    if isinstance(parent, dict):
        group, resource = as_str(parent.get("group")), as_str(parent.get("resource"))
        text = (f"{resource}.{group}" if group else resource).lower()
        if as_str(parent.get("namespace")):
            text += "/" + parent["namespace"]
        text += "/" + as_str(parent.get("name"))
    return [meta_name(ip), text, age(ip, now)]


def _slice_ports(ports: list) -> str:
    shown = []
    for port in ports:
        port = as_dict(port)
        if port.get("port") is not None:
            shown.append(str(as_int(port.get("port"))))
        elif port.get("name") is not None:
            shown.append(as_str(port.get("name")))
        else:
            shown.append("*")
    return more_list(shown, len(shown), 3, "<unset>")


def _slice_endpoints(endpoints: list) -> str:
    addresses = [as_str(a) for e in endpoints for a in as_list(as_dict(e).get("addresses"))]
    return more_list(addresses, len(addresses), 3, "<unset>")


def endpointslice_cells(eps: dict, now: dt.datetime) -> list:
    return [
        meta_name(eps),
        as_str(eps.get("addressType")),
        _slice_ports(as_list(eps.get("ports"))),
        _slice_endpoints(as_list(eps.get("endpoints"))),
        age(eps, now),
    ]


TABLES = {
    ("networking.k8s.io", "ingresses"): TableSpec(
        (
            name_column(),
            column(
                "Class",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            column("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            column("Address", "Address is a list containing ingress points for the load-balancer"),
            column("Ports", "Ports of TLS configurations that open"),
            age_column(),
        ),
        ingress_cells,
    ),
    ("networking.k8s.io", "ingressclasses"): TableSpec(
        (
            name_column(),
            column("Controller", "Controller that is responsible for handling this class"),
            column("Parameters", "A reference to a resource with additional parameters"),
            age_column(),
        ),
        ingressclass_cells,
    ),
    ("networking.k8s.io", "networkpolicies"): TableSpec(
        (name_column(), column("Pod-Selector", "Pods the policy applies to."), age_column()),
        networkpolicy_cells,
    ),
    ("networking.k8s.io", "servicecidrs"): TableSpec(
        (name_column(), column("CIDRs", "Ranges service IPs are allocated from."), age_column()),
        servicecidr_cells,
    ),
    ("networking.k8s.io", "ipaddresses"): TableSpec(
        # Upstream declares only two columns here but fills three cells; we declare the Age column
        # so every row matches its columns.
        (name_column(), column("ParentRef", "The object the address is allocated to."), age_column()),
        ipaddress_cells,
    ),
    ("discovery.k8s.io", "endpointslices"): TableSpec(
        (
            name_column(),
            column("AddressType", "IPv4, IPv6 or FQDN."),
            column("Ports", "Port numbers (or names) the endpoints serve."),
            column("Endpoints", "Addresses of the endpoints."),
            age_column(),
        ),
        endpointslice_cells,
    ),
}
