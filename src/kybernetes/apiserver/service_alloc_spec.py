"""What a Service's spec says it needs, and the spec fixes the server makes before allocating.

Pure functions over the spec dict (no I/O):

- needs_*: which allocations a spec calls for (cluster IPs unless ExternalName; node ports for
  NodePort and LoadBalancer; a health-check node port for LoadBalancer with externalTrafficPolicy
  Local).
- prepare_service_update: what the real strategy does before an update is validated. Values the
  server allocated and the client left out are kept (a PUT of a manifest without clusterIP or
  nodePort keeps them), and values the new type no longer uses are dropped when the client did not
  change them (NodePort -> ClusterIP drops the node ports; -> ExternalName drops the cluster IPs).
- init_ip_families: ipFamilyPolicy, ipFamilies and clusterIPs made consistent with each other and
  with the cluster's service CIDRs (422 with the real wording otherwise).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, meta
from kybernetes.api.field_errors import invalid
from kybernetes.apiserver.service_alloc_ranges import IPV4, IPV6, family_of

NONE = "None"
SINGLE, PREFER_DUAL, REQUIRE_DUAL = "SingleStack", "PreferDualStack", "RequireDualStack"


def service_type(spec: dict[str, Any]) -> str:
    return str(spec.get("type") or "ClusterIP")


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return service_type(spec) != "ExternalName"


def is_headless(spec: dict[str, Any]) -> bool:
    ips = spec.get("clusterIPs") if isinstance(spec.get("clusterIPs"), list) else []
    return spec.get("clusterIP") == NONE or (bool(ips) and ips[0] == NONE)


def needs_node_ports(spec: dict[str, Any]) -> bool:
    return service_type(spec) in ("NodePort", "LoadBalancer")


def allocates_node_ports(spec: dict[str, Any]) -> bool:
    """NodePort always; LoadBalancer unless allocateLoadBalancerNodePorts is false."""
    kind = service_type(spec)
    return kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


def needs_health_check_port(spec: dict[str, Any]) -> bool:
    return service_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def ports_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ports = spec.get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def node_ports_of(spec: dict[str, Any]) -> set[int]:
    """Every node port the spec holds (the health-check port included)."""
    out = {p["nodePort"] for p in ports_of(spec) if isinstance(p.get("nodePort"), int) and p["nodePort"] > 0}
    hc = spec.get("healthCheckNodePort")
    if isinstance(hc, int) and hc > 0:
        out.add(hc)
    return out


def cluster_ips_of(spec: dict[str, Any]) -> list[str]:
    """The allocated cluster IPs (none for headless or ExternalName services)."""
    if not needs_cluster_ip(spec) or is_headless(spec):
        return []
    ips = spec.get("clusterIPs") if isinstance(spec.get("clusterIPs"), list) else []
    if not ips and spec.get("clusterIP"):
        ips = [spec["clusterIP"]]
    return [ip for ip in ips if isinstance(ip, str) and ip]


# -- update: keep what was allocated, drop what the new type does not use --------------------------


def prepare_service_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec, old_spec = new.get("spec"), old.get("spec")
    if not isinstance(new_spec, dict) or not isinstance(old_spec, dict):
        return
    _keep_allocated(new_spec, old_spec)
    _drop_type_dependent(new_spec, old_spec)


def _keep_allocated(new: dict[str, Any], old: dict[str, Any]) -> None:
    if needs_cluster_ip(old) and needs_cluster_ip(new) and old.get("clusterIP") and not new.get("clusterIP") \
            and not new.get("clusterIPs"):
        new["clusterIP"] = old["clusterIP"]
        if old.get("clusterIPs"):
            new["clusterIPs"] = list(old["clusterIPs"])
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        for field_name in ("ipFamilies", "ipFamilyPolicy"):
            if not new.get(field_name) and old.get(field_name):
                new[field_name] = meta.deep_copy(old[field_name])
    if needs_node_ports(old) and needs_node_ports(new):
        used = node_ports_of(old) & {p.get("nodePort") for p in ports_of(new)}
        by_name = {str(p.get("name") or ""): p.get("nodePort") for p in ports_of(old)}
        for port in ports_of(new):
            if not port.get("nodePort"):
                old_value = by_name.get(str(port.get("name") or ""))
                if old_value and old_value not in used:
                    port["nodePort"] = old_value
    if needs_health_check_port(old) and needs_health_check_port(new) and not new.get("healthCheckNodePort") \
            and old.get("healthCheckNodePort"):
        new["healthCheckNodePort"] = old["healthCheckNodePort"]


def _drop_type_dependent(new: dict[str, Any], old: dict[str, Any]) -> None:
    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if new.get("clusterIP") == old.get("clusterIP") and new.get("clusterIPs") in (None, old.get("clusterIPs")):
            new.pop("clusterIP", None)
            new.pop("clusterIPs", None)
        for field_name in ("ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
            if new.get(field_name) == old.get(field_name):
                new.pop(field_name, None)
    if needs_node_ports(old) and not needs_node_ports(new):
        held = node_ports_of(old)
        for port in ports_of(new):
            if port.get("nodePort") in held:  # allocated, not a new choice of the client's
                port.pop("nodePort", None)
    if needs_health_check_port(old) and not needs_health_check_port(new) \
            and new.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
        new.pop("healthCheckNodePort", None)
    if service_type(old) == "LoadBalancer" and service_type(new) != "LoadBalancer":
        for field_name in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if new.get(field_name) == old.get(field_name):
                new.pop(field_name, None)
    if needs_node_ports(old) and not needs_node_ports(new) \
            and new.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
        new.pop("externalTrafficPolicy", None)


# -- IP families -----------------------------------------------------------------------------------


def _bad(name: str, causes: list) -> errors.ApiError:
    return errors.invalid("Service", name, causes)


def init_ip_families(svc: dict[str, Any], old: dict[str, Any] | None, families: tuple[str, ...]) -> None:
    """Fill ipFamilyPolicy / ipFamilies / clusterIPs for the cluster's ``families`` (primary first).

    Defaulting leaves these fields alone, so what the client left out is chosen here (a service
    with no ipFamilies on an IPv6-first cluster gets an IPv6 cluster IP)."""
    spec = svc["spec"]
    name = (svc.get("metadata") or {}).get("name") or ""
    if not needs_cluster_ip(spec):
        return
    requested = spec
    old_spec = (old or {}).get("spec") or {}
    ips = spec.get("clusterIPs") if isinstance(spec.get("clusterIPs"), list) else []
    if spec.get("clusterIP") and not ips:
        ips = [spec["clusterIP"]]
    if spec.get("clusterIP") and ips and ips[0] != spec["clusterIP"]:
        raise _bad(name, [invalid("spec.clusterIPs", ips, "first value must match `clusterIP`")])
    if ips and not spec.get("clusterIP"):
        spec["clusterIP"] = ips[0]
    policy = requested.get("ipFamilyPolicy") or old_spec.get("ipFamilyPolicy")
    old_ips = old_spec.get("clusterIPs") if isinstance(old_spec.get("clusterIPs"), list) else []
    if old and policy == SINGLE and len(ips) > 1 and ips == old_ips:
        ips = ips[:1]  # SingleStack on a dual-stack service: clear intent to drop the secondary IP
        if isinstance(requested.get("ipFamilies"), list) and requested["ipFamilies"] == old_spec.get("ipFamilies"):
            requested = {**requested, "ipFamilies": requested["ipFamilies"][:1]}
    if ips:
        spec["clusterIPs"] = list(ips)
    if not policy:
        policy = REQUIRE_DUAL if is_headless(spec) and not spec.get("selector") else SINGLE
    user_families = requested.get("ipFamilies") if isinstance(requested.get("ipFamilies"), list) else None
    if user_families is None and old and isinstance(old_spec.get("ipFamilies"), list):
        user_families = list(old_spec["ipFamilies"])
    fams: list[str] = [f for f in (user_families or []) if isinstance(f, str)]
    if old and policy == SINGLE and len(fams) == 2 and fams == old_spec.get("ipFamilies"):
        fams = fams[:1]
    causes = []
    if policy not in (SINGLE, PREFER_DUAL, REQUIRE_DUAL):
        causes.append(invalid("spec.ipFamilyPolicy", policy, f'supported values: "{SINGLE}", '
                                                             f'"{PREFER_DUAL}", "{REQUIRE_DUAL}"'))
    for i, fam in enumerate(fams):
        if fam not in (IPV4, IPV6):
            causes.append(invalid(f"spec.ipFamilies[{i}]", fam, 'supported values: "IPv4", "IPv6"'))
    if len(fams) > 2 or len(ips) > 2:
        causes.append(invalid("spec.clusterIPs" if len(ips) > 2 else "spec.ipFamilies",
                              ips if len(ips) > 2 else fams, "may not have more than two entries"))
    if len(fams) == 2 and fams[0] == fams[1]:
        causes.append(invalid("spec.ipFamilies[1]", fams[1], "must be a different family from ipFamilies[0]"))
    if policy == SINGLE:
        if len(ips) == 2:
            causes.append(invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or 'PreferDualStack' "
                                                                 "when multiple cluster IPs are specified"))
        if len(fams) == 2:
            causes.append(invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or 'PreferDualStack' "
                                                                 "when multiple IP families are specified"))
    headless = is_headless(spec)
    if not headless:
        for i, ip in enumerate(ips):
            fam = family_of(ip) if isinstance(ip, str) else None
            if fam is None:
                causes.append(invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, "
                                                                   "(e.g. 10.9.8.7 or 2001:db8::ffff)"))
            elif i < len(fams) and fams[i] != fam:
                causes.append(invalid(f"spec.clusterIPs[{i}]", ips, f"expected an {fams[i]} value as "
                                                                    f"indicated by `ipFamilies[{i}]`"))
            elif i >= len(fams):
                if fam not in families:
                    causes.append(invalid(f"spec.clusterIPs[{i}]", ips, f"{fam} is not configured on this cluster"))
                else:
                    fams.append(fam)
        if len(ips) == 2 and len(fams) == 2 and fams[0] == fams[1]:
            causes.append(invalid("spec.clusterIPs[1]", ips, "must be a different IP family from clusterIPs[0]"))
    if causes:
        raise _bad(name, causes)
    if headless and not spec.get("selector"):
        fams = fams or [families[0]]
        if len(fams) < 2 and policy != SINGLE:
            fams.append(IPV6 if fams[0] == IPV4 else IPV4)
        spec["ipFamilyPolicy"], spec["ipFamilies"] = policy, fams
        return
    if policy == REQUIRE_DUAL and len(families) < 2:
        causes.append(invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"))
    for i, fam in enumerate(fams):
        if fam not in families:
            causes.append(invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster"))
    if causes:
        raise _bad(name, causes)
    fams = fams or [families[0]]
    if policy != SINGLE and len(fams) == 1 and len(families) == 2:
        fams.append(IPV6 if fams[0] == IPV4 else IPV4)
    spec["ipFamilyPolicy"], spec["ipFamilies"] = policy, fams
