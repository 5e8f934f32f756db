"""Rule generation for one service, golden-ish: Services + endpoints in, iptables-restore lines out."""

from __future__ import annotations

from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.rules_service import RuleContext, port_rules, probability
from tests.proxy.port_fixtures import eps, web

N = ChainNames("KUBE")
CTX = RuleContext(N, cluster_cidr="10.42.0.0/16")


def chains_of(port: ServicePort, *ips: str) -> tuple[str, str, list[str]]:
    h = N.service_hash(port.name_string, port.proto)
    return N.svc(h), N.ext(h), [N.sep(port.name_string, port.proto, f"{ip}:8080") for ip in ips]


def test_cluster_ip_balances_randomly_over_ready_endpoints():
    port = web()
    svc, _, seps = chains_of(port, "10.42.1.2", "10.42.1.3", "10.42.2.4")
    rules = port_rules(port, eps("10.42.1.2", "10.42.1.3", "10.42.2.4"), CTX)
    assert rules.nat_services == [
        f'-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp '
        f"-d 10.43.0.10 --dport 80 -j {svc}"]
    assert rules.chains == [svc, *seps]
    assert rules.chain_rules == [
        f'-A {svc} -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.43.0.10 --dport 80 '
        f"! -s 10.42.0.0/16 -j KUBE-MARK-MASQ",
        f'-A {svc} -m comment --comment "default/web:http -> 10.42.1.2:8080" -m statistic --mode random '
        f"--probability 0.3333333333 -j {seps[0]}",
        f'-A {svc} -m comment --comment "default/web:http -> 10.42.1.3:8080" -m statistic --mode random '
        f"--probability 0.5000000000 -j {seps[1]}",
        f'-A {svc} -m comment --comment "default/web:http -> 10.42.2.4:8080" -j {seps[2]}',
        f'-A {seps[0]} -m comment --comment "default/web:http" -s 10.42.1.2 -j KUBE-MARK-MASQ',
        f'-A {seps[0]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.42.1.2:8080',
        f'-A {seps[1]} -m comment --comment "default/web:http" -s 10.42.1.3 -j KUBE-MARK-MASQ',
        f'-A {seps[1]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.42.1.3:8080',
        f'-A {seps[2]} -m comment --comment "default/web:http" -s 10.42.2.4 -j KUBE-MARK-MASQ',
        f'-A {seps[2]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.42.2.4:8080',
    ]
    assert rules.filter_services == [] and rules.filter_external == []


def test_chain_names_are_stable_and_fit_iptables():
    assert N.service_hash("default/web:http", "tcp") == N.service_hash("default/web:http", "tcp")
    assert N.service_hash("default/web:http", "tcp") != N.service_hash("default/web:http", "udp")
    assert len(ChainNames("KT12345").sep("a/b:c", "tcp", "10.0.0.1:80")) <= 28
    assert len(ChainNames("KT12345").external_services) <= 28


def test_no_endpoints_rejects_in_filter_and_writes_no_nat_chain():
    rules = port_rules(web(node_port=30080), [], CTX)
    assert rules.nat_services == [] and rules.chains == [] and rules.nat_nodeports == []
    assert rules.filter_services == [
        '-A KUBE-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp -p tcp '
        "-d 10.43.0.10 --dport 80 -j REJECT"]
    assert rules.filter_external == [
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no endpoints" '
        "-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT"]


def test_terminating_endpoints_only_when_none_is_ready():
    port = web()
    ready = Endpoint("10.42.1.2", 8080)
    term = Endpoint("10.42.1.3", 8080, ready=False, serving=True, terminating=True)
    gone = Endpoint("10.42.1.4", 8080, ready=False, serving=False, terminating=True)
    with_ready = port_rules(port, [ready, term, gone], CTX)
    assert [line for line in with_ready.chain_rules if "DNAT" in line] == [
        f'-A {N.sep(port.name_string, "tcp", "10.42.1.2:8080")} -m comment --comment "default/web:http" '
        "-m tcp -p tcp -j DNAT --to-destination 10.42.1.2:8080"]
    only_terminating = port_rules(port, [term, gone], CTX)
    assert [line.rsplit(" ", 1)[-1] for line in only_terminating.chain_rules if "DNAT" in line] == ["10.42.1.3:8080"]
    assert port_rules(port, [gone], CTX).filter_services[0].endswith("-j REJECT")


def test_session_affinity_uses_recent_with_the_timeout():
    port = web(affinity_timeout=60)
    svc, _, seps = chains_of(port, "10.42.1.2", "10.42.1.3")
    rules = port_rules(port, eps("10.42.1.2", "10.42.1.3"), CTX)
    assert f'-A {svc} -m comment --comment "default/web:http -> 10.42.1.2:8080" -m recent --name {seps[0]} ' \
           f"--rcheck --seconds 60 --reap -j {seps[0]}" in rules.chain_rules
    assert f'-A {seps[1]} -m comment --comment "default/web:http" -m recent --name {seps[1]} --set -m tcp -p tcp ' \
           "-j DNAT --to-destination 10.42.1.3:8080" in rules.chain_rules
    # the affinity checks come before the random choice
    svc_rules = [line for line in rules.chain_rules if line.startswith(f"-A {svc} ")]
    assert "--rcheck" in svc_rules[1] and "--rcheck" in svc_rules[2] and "statistic" in svc_rules[3]


def test_node_port_with_cluster_policy_masquerades_via_the_ext_chain():
    port = web(node_port=30080)
    svc, ext, _ = chains_of(port, "10.42.1.2")
    rules = port_rules(port, eps("10.42.1.2"), CTX)
    assert rules.nat_nodeports == [f'-A KUBE-NODEPORTS -m comment --comment "default/web:http" -m tcp -p tcp '
                                   f"--dport 30080 -j {ext}"]
    assert f'-A {ext} -m comment --comment "masquerade traffic for default/web:http external destinations" ' \
           "-j KUBE-MARK-MASQ" in rules.chain_rules
    assert f"-A {ext} -j {svc}" in rules.chain_rules


def test_external_traffic_policy_local_uses_local_endpoints_and_short_circuits_local_traffic():
    port = web(node_port=30080, external_policy_local=True)
    h = N.service_hash(port.name_string, "tcp")
    local = Endpoint("10.42.1.2", 8080, node_name="n1", is_local=True)
    remote = Endpoint("10.42.2.2", 8080, node_name="n2")
    rules = port_rules(port, [local, remote], CTX)
    ext, svc, svl = N.ext(h), N.svc(h), N.svl(h)
    assert rules.chains[:3] == [ext, svc, svl]
    assert [line for line in rules.chain_rules if line.startswith(f"-A {ext} ")] == [
        f'-A {ext} -m comment --comment "pod traffic for default/web:http external destinations" '
        f"-s 10.42.0.0/16 -j {svc}",
        f'-A {ext} -m comment --comment "masquerade LOCAL traffic for default/web:http external destinations" '
        "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
        f'-A {ext} -m comment --comment "route LOCAL traffic for default/web:http external destinations" '
        f"-m addrtype --src-type LOCAL -j {svc}",
        f"-A {ext} -j {svl}"]
    svl_rules = [line for line in rules.chain_rules if line.startswith(f"-A {svl} ")]
    assert len(svl_rules) == 1 and "10.42.1.2:8080" in svl_rules[0]
    # no local endpoint: node-port traffic from outside is dropped, the cluster IP still works
    rules = port_rules(port, [remote], CTX)
    assert rules.filter_external[0].endswith("--dport 30080 -j DROP")
    assert "has no local endpoints" in rules.filter_external[0]
    assert rules.nat_services[0].endswith(f"-j {svc}")


def test_internal_traffic_policy_local_sends_the_cluster_ip_to_local_endpoints_only():
    port = web(internal_policy_local=True)
    h = N.service_hash(port.name_string, "tcp")
    rules = port_rules(port, [Endpoint("10.42.1.2", 8080, node_name="n1", is_local=True),
                              Endpoint("10.42.2.2", 8080, node_name="n2")], CTX)
    assert rules.nat_services[0].endswith(f"-j {N.svl(h)}")
    assert rules.chains == [N.svl(h), N.sep(port.name_string, "tcp", "10.42.1.2:8080")]
    dropped = port_rules(port, [Endpoint("10.42.2.2", 8080, node_name="n2")], CTX)
    assert dropped.nat_services == []
    assert dropped.filter_services[0].endswith("-j DROP") and "no local endpoints" in dropped.filter_services[0]


def test_load_balancer_ips_and_source_ranges_use_the_fw_chain():
    port = web(node_port=30080, load_balancer_ips=("192.0.2.10",), load_balancer_source_ranges=("203.0.113.0/24",))
    h = N.service_hash(port.name_string, "tcp")
    rules = port_rules(port, eps("10.42.1.2"), CTX)
    assert f'-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -m tcp -p tcp ' \
           f"-d 192.0.2.10 --dport 80 -j {N.fw(h)}" in rules.nat_services
    assert f'-A {N.fw(h)} -m comment --comment "default/web:http loadbalancer IP" -s 203.0.113.0/24 ' \
           f"-j {N.ext(h)}" in rules.chain_rules
    assert rules.filter_firewall == [
        f'-A KUBE-PROXY-FIREWALL -m comment --comment "default/web:http traffic not accepted by {N.fw(h)}" '
        "-m tcp -p tcp -d 192.0.2.10 --dport 80 -j DROP"]
    plain = port_rules(web(load_balancer_ips=("192.0.2.10",)), eps("10.42.1.2"), CTX)
    assert plain.nat_services[1].endswith(f"-j {N.ext(h)}") and plain.filter_firewall == []


def test_masquerade_all_and_no_cluster_cidr():
    port = web()
    svc, _, _ = chains_of(port)
    everything = port_rules(port, eps("10.42.1.2"), RuleContext(N, masquerade_all=True))
    assert everything.chain_rules[0].endswith("--dport 80 -j KUBE-MARK-MASQ") and "! -s" not in everything.chain_rules[0]
    nothing = port_rules(port, eps("10.42.1.2"), RuleContext(N))
    assert not any(line.startswith(f"-A {svc} ") and "MARK-MASQ" in line for line in nothing.chain_rules)


def test_probabilities_are_written_like_kube_proxy():
    assert probability(2) == "0.5000000000" and probability(3) == "0.3333333333" and probability(7) == "0.1428571429"


def test_udp_targets_for_conntrack_cleanup():
    rules = port_rules(web(protocol="UDP", port=53), eps("10.42.1.2", "10.42.1.3"), CTX)
    assert rules.udp_targets == {("10.43.0.10", 0): frozenset({"10.42.1.2", "10.42.1.3"})}
    assert "-m udp -p udp" in rules.nat_services[0]
