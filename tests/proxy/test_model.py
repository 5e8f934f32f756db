"""Services and EndpointSlices parsed into what the rules need."""

from __future__ import annotations

from kybernetes.proxy.model import endpoints_from_slices, proxied, service_ports, slice_service_key


def svc(**spec) -> dict:
    base = {"clusterIP": "10.43.0.10", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    base.update(spec)
    return {"metadata": {"namespace": "default", "name": "web"}, "spec": base}


def test_cluster_ip_service_ports():
    [port] = service_ports(svc())
    assert (port.cluster_ip, port.port, port.protocol, port.name_string) == ("10.43.0.10", 80, "TCP", "default/web:http")
    assert port.node_port == 0 and not port.externally_accessible and port.affinity_timeout == 0


def test_headless_external_name_and_other_proxies_are_skipped():
    assert not proxied(svc(clusterIP="None"))
    assert not proxied(svc(type="ExternalName", externalName="example.com"))
    other = svc()
    other["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "other"}
    assert service_ports(other) == [] and service_ports(svc(clusterIP="fd00::1")) == []


def test_node_port_load_balancer_affinity_and_policies():
    obj = svc(type="LoadBalancer", externalTrafficPolicy="Local", internalTrafficPolicy="Local",
              sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
              healthCheckNodePort=31000, externalIPs=["192.0.2.7", "bogus"], loadBalancerSourceRanges=["203.0.113.9/24"],
              ports=[{"name": "http", "port": 80, "nodePort": 30080}, {"name": "dns", "port": 53, "protocol": "UDP"},
                     {"name": "weird", "port": 1, "protocol": "ICMP"}])
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}, {"hostname": "lb.example"}]}}
    http, dns = service_ports(obj)
    assert http.node_port == 30080 and http.external_ips == ("192.0.2.7",) and http.load_balancer_ips == ("192.0.2.50",)
    assert http.load_balancer_source_ranges == ("203.0.113.0/24",) and http.affinity_timeout == 30
    assert http.external_policy_local and http.internal_policy_local and http.health_check_node_port == 31000
    assert dns.protocol == "UDP" and dns.node_port == 0
    assert service_ports(svc(sessionAffinity="ClientIP"))[0].affinity_timeout == 10800
    # nodePort means nothing on a ClusterIP service
    assert service_ports(svc(ports=[{"port": 80, "nodePort": 30001}]))[0].node_port == 0


def eps_slice(name: str, *endpoints: dict, address_type: str = "IPv4") -> dict:
    return {"metadata": {"namespace": "default", "name": name, "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": address_type, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": list(endpoints)}


def test_slices_merge_by_port_with_conditions_and_locality():
    a = eps_slice("web-a", {"addresses": ["10.42.1.2"], "nodeName": "n1"},
                  {"addresses": ["10.42.1.3"], "conditions": {"ready": False, "serving": True, "terminating": True}})
    b = eps_slice("web-b", {"addresses": ["10.42.1.3"], "conditions": {"ready": True}},
                  {"addresses": ["10.42.1.4"], "conditions": {"ready": False}})
    v6 = eps_slice("web-c", {"addresses": ["fd00::1"]}, address_type="IPv6")
    assert slice_service_key(a) == "default/web"
    result = endpoints_from_slices([a, b, v6], "n1")
    got = result[("http", "TCP")]
    assert [(e.address, e.ready, e.serving, e.terminating, e.is_local) for e in got] == [
        ("10.42.1.2:8080", True, True, False, True),
        ("10.42.1.3:8080", True, True, False, False),  # the ready copy wins
        ("10.42.1.4:8080", False, False, False, False),
    ]
