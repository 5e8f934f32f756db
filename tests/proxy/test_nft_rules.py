"""The nftables mode's rule derivation, golden: a service port and its endpoints in, map elements,
chains and sets out; and the rendering of a sync's transaction."""

from __future__ import annotations

from kybernetes.proxy.model import Endpoint
from kybernetes.proxy.nft_rules import (
    FIREWALL_IPS,
    HAIRPIN,
    NO_ENDPOINT_NODEPORTS,
    NO_ENDPOINT_SERVICES,
    SERVICE_IPS,
    SERVICE_NODEPORTS,
    NftContext,
    affinity_set,
    endpoint_chain,
    is_affinity_set,
    is_service_chain,
    port_objects,
    service_chain,
)
from kybernetes.proxy.nft_table import Changes, NftTableOptions, base_rules, render, table_name, table_objects
from tests.proxy.port_fixtures import eps, web

CTX = NftContext(cluster_cidr="10.42.0.0/16")


def test_cluster_ip_balances_uniformly_with_a_numgen_cascade_and_hairpin_pairs():
    port = web()
    svc = service_chain("service", port)
    assert svc.startswith("service-") and svc.endswith("-default/web/tcp/http") and is_service_chain(svc)
    out = port_objects(port, eps("10.42.1.2", "10.42.1.3", "10.42.2.4"), CTX)
    assert out.elements == {
        (SERVICE_IPS, "10.43.0.10 . tcp . 80"): f"goto {svc}",
        (HAIRPIN, "10.42.1.2 . 10.42.1.2"): "",
        (HAIRPIN, "10.42.1.3 . 10.42.1.3"): "",
        (HAIRPIN, "10.42.2.4 . 10.42.2.4"): "",
    }
    assert out.chains == {svc: [
        "ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
        "meta l4proto tcp numgen random mod 3 0 dnat to 10.42.1.2:8080",
        "meta l4proto tcp numgen random mod 2 0 dnat to 10.42.1.3:8080",
        "meta l4proto tcp dnat to 10.42.2.4:8080",
    ]}
    assert out.sets == {} and out.endpoint_count == 3


def test_masquerade_all_and_no_cluster_cidr():
    port = web()
    svc = service_chain("service", port)
    everything = port_objects(port, eps("10.42.1.2"), NftContext(masquerade_all=True))
    assert everything.chains[svc][0] == "ip daddr 10.43.0.10 tcp dport 80 jump mark-for-masquerade"
    nothing = port_objects(port, eps("10.42.1.2"), NftContext())
    assert nothing.chains[svc] == ["meta l4proto tcp dnat to 10.42.1.2:8080"]


def test_no_endpoints_rejects_cluster_ip_and_node_port_and_writes_no_chain():
    out = port_objects(web(node_port=30080, protocol="UDP"), [], CTX)
    assert out.chains == {} and out.sets == {}
    assert out.elements == {
        (NO_ENDPOINT_SERVICES, "10.43.0.10 . udp . 80"): "goto reject-chain",
        (NO_ENDPOINT_NODEPORTS, "udp . 30080"): "goto reject-chain",
    }
    assert out.udp_targets == {("10.43.0.10", 30080): frozenset()}


def test_terminating_endpoints_only_when_none_is_ready():
    port = web()
    svc = service_chain("service", port)
    ready = Endpoint("10.42.1.2", 8080)
    term = Endpoint("10.42.1.3", 8080, ready=False, serving=True, terminating=True)
    assert port_objects(port, [ready, term], CTX).chains[svc][1:] == ["meta l4proto tcp dnat to 10.42.1.2:8080"]
    assert port_objects(port, [term], CTX).chains[svc][1:] == ["meta l4proto tcp dnat to 10.42.1.3:8080"]


def test_session_affinity_uses_endpoint_chains_and_timed_sets():
    port = web(affinity_timeout=60)
    svc = service_chain("service", port)
    a, b = eps("10.42.1.2", "10.42.1.3")
    ea, eb = endpoint_chain(port, a), endpoint_chain(port, b)
    sa, sb = affinity_set(port, a), affinity_set(port, b)
    assert is_affinity_set(sa) and not is_service_chain(sa) and is_service_chain(ea)
    out = port_objects(port, [a, b], CTX)
    assert out.sets == {sa: 60, sb: 60}
    assert out.chains == {
        svc: ["ip daddr 10.43.0.10 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
              f"ip saddr @{sa} goto {ea}", f"ip saddr @{sb} goto {eb}",
              f"numgen random mod 2 0 goto {ea}", f"goto {eb}"],
        ea: [f"update @{sa} {{ ip saddr }}", "meta l4proto tcp dnat to 10.42.1.2:8080"],
        eb: [f"update @{sb} {{ ip saddr }}", "meta l4proto tcp dnat to 10.42.1.3:8080"],
    }


def test_node_port_and_external_ip_with_cluster_policy_masquerade_then_balance():
    port = web(node_port=30080, external_ips=("192.0.2.7",))
    svc, ext = service_chain("service", port), service_chain("external", port)
    out = port_objects(port, eps("10.42.1.2"), CTX)
    assert out.elements[(SERVICE_NODEPORTS, "tcp . 30080")] == f"goto {ext}"
    assert out.elements[(SERVICE_IPS, "192.0.2.7 . tcp . 80")] == f"goto {ext}"
    assert out.chains[ext] == ["jump mark-for-masquerade", f"goto {svc}"]


def test_external_policy_local_short_circuits_pods_and_node_and_drops_without_local_endpoint():
    port = web(node_port=30080, external_policy_local=True)
    svc, svl, ext = (service_chain(k, port) for k in ("service", "local", "external"))
    local = Endpoint("10.42.1.2", 8080, is_local=True)
    remote = Endpoint("10.42.2.2", 8080)
    out = port_objects(port, [local, remote], CTX)
    assert out.chains[ext] == [f"ip saddr 10.42.0.0/16 goto {svc}", "fib saddr type local jump mark-for-masquerade",
                               f"fib saddr type local goto {svc}", f"goto {svl}"]
    assert out.chains[svl][-1] == "meta l4proto tcp dnat to 10.42.1.2:8080"
    assert len(out.chains[svc]) == 3  # masquerade + both endpoints
    only_remote = port_objects(port, [remote], CTX)
    assert only_remote.elements[(NO_ENDPOINT_NODEPORTS, "tcp . 30080")] == "drop"
    assert only_remote.elements[(SERVICE_NODEPORTS, "tcp . 30080")] == f"goto {ext}"
    assert only_remote.chains[ext][-1] == f"fib saddr type local goto {svc}" and svl not in only_remote.chains


def test_internal_policy_local_without_local_endpoint_drops_cluster_ip():
    port = web(internal_policy_local=True)
    out = port_objects(port, eps("10.42.2.2"), CTX)
    assert out.elements == {(NO_ENDPOINT_SERVICES, "10.43.0.10 . tcp . 80"): "drop"}
    with_local = port_objects(port, [Endpoint("10.42.1.2", 8080, is_local=True)], CTX)
    assert with_local.elements[(SERVICE_IPS, "10.43.0.10 . tcp . 80")] == f"goto {service_chain('local', port)}"


def test_load_balancer_source_ranges_filter_before_dnat():
    port = web(load_balancer_ips=("192.0.2.9",), load_balancer_source_ranges=("198.51.100.0/24", "192.0.2.0/24"))
    fw, ext = service_chain("firewall", port), service_chain("external", port)
    out = port_objects(port, eps("10.42.1.2"), NftContext(cluster_cidr="10.42.0.0/16", node_ip="192.0.2.9"))
    assert out.elements[(FIREWALL_IPS, "192.0.2.9 . tcp . 80")] == f"goto {fw}"
    assert out.elements[(SERVICE_IPS, "192.0.2.9 . tcp . 80")] == f"goto {ext}"
    # the node is inside a range: its own LB address is allowed as a source too
    assert out.chains[fw] == ["ip saddr 198.51.100.0/24 return", "ip saddr 192.0.2.0/24 return",
                              "ip saddr 192.0.2.9 return", "drop"]


def test_render_partial_changes_in_dependency_order():
    opts = NftTableOptions("t")
    changes = Changes(delete_elements=[(SERVICE_IPS, "10.0.0.1 . tcp . 80"), (HAIRPIN, "10.1.0.1 . 10.1.0.1")],
                      flush_chains=["service-AAAAAAAA-a/b/tcp/"], delete_chains=["service-AAAAAAAA-a/b/tcp/"],
                      delete_sets=["affinity-BBBBBBBB-x"], add_sets={"affinity-CCCCCCCC-y": 30},
                      add_chains=["service-DDDDDDDD-c/d/tcp/"],
                      rules={"service-DDDDDDDD-c/d/tcp/": ["meta l4proto tcp dnat to 10.1.0.2:80"]},
                      add_elements={(SERVICE_IPS, "10.0.0.2 . tcp . 80"): "goto service-DDDDDDDD-c/d/tcp/",
                                    (HAIRPIN, "10.1.0.2 . 10.1.0.2"): ""})
    assert render(opts, changes) == [
        "delete element ip t service-ips { 10.0.0.1 . tcp . 80 }",
        "delete element ip t endpoint-hairpin { 10.1.0.1 . 10.1.0.1 }",
        "flush chain ip t service-AAAAAAAA-a/b/tcp/",
        "delete chain ip t service-AAAAAAAA-a/b/tcp/",
        "delete set ip t affinity-BBBBBBBB-x",
        "add set ip t affinity-CCCCCCCC-y { type ipv4_addr ; flags dynamic,timeout ; timeout 30s ; }",
        "add chain ip t service-DDDDDDDD-c/d/tcp/",
        "add rule ip t service-DDDDDDDD-c/d/tcp/ meta l4proto tcp dnat to 10.1.0.2:80",
        "add element ip t service-ips { 10.0.0.2 . tcp . 80 : goto service-DDDDDDDD-c/d/tcp/ }",
        "add element ip t endpoint-hairpin { 10.1.0.2 . 10.1.0.2 }",
    ]
    assert Changes().empty and not changes.empty


def test_render_full_sync_declares_and_flushes_the_base_and_masquerades_on_the_mark():
    opts = NftTableOptions("t", masquerade_mark=0x2000, localhost_nodeports=False)
    lines = render(opts, Changes(base=True))
    assert lines[0].startswith("add table ip t ")
    assert "add chain ip t nat-prerouting { type nat hook prerouting priority -100 ; }" in lines
    assert "flush map ip t service-ips" in lines and "flush set ip t endpoint-hairpin" in lines
    assert "add rule ip t mark-for-masquerade meta mark set meta mark or 0x2000" in lines
    rules = base_rules(opts)
    assert rules["masquerading"] == [
        "ct status dnat ip saddr . ip daddr @endpoint-hairpin masquerade fully-random",
        "meta mark & 0x2000 == 0 return", "meta mark set meta mark xor 0x2000", "masquerade fully-random"]
    assert "ip daddr != 127.0.0.0/8" in rules["services"][1]
    with_localhost = base_rules(NftTableOptions("t"))
    assert "127.0.0.0/8" not in with_localhost["services"][1]
    assert any("ct status & dnat == 0 drop" in r for r in with_localhost["filter-input"])


def test_table_names_and_listing_parse():
    assert table_name() == "kybernetes-proxy" and table_name("KT12") == "kybernetes-proxy-kt12"
    listing = """table ip nat {
\tchain PREROUTING {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t}
}
table ip kybernetes-proxy {
\tset affinity-AAAAAAAA-a/b/tcp/__1.2.3.4/80 {
\t\ttype ipv4_addr
\t}
\tchain services {
\t}
\tchain service-AAAAAAAA-a/b/tcp/ {
\t}
}
"""
    chains, sets = table_objects(listing, "kybernetes-proxy")
    assert chains == {"services", "service-AAAAAAAA-a/b/tcp/"}
    assert sets == {"affinity-AAAAAAAA-a/b/tcp/__1.2.3.4/80"}
    assert not is_service_chain("service-endpoints-check") and not is_service_chain("firewall-check")
