"""A pod's resolv.conf per dnsPolicy (kybernetes.api.dns_config), as the kubelet writes it."""

from __future__ import annotations

import pytest

from kybernetes.api.dns_config import DnsConfigError, parse_resolv_conf, pod_resolv_conf

HOST = parse_resolv_conf("""# written by the host
nameserver 192.168.1.1
nameserver 192.168.1.2 ; second
domain ignored.example
search corp.example lab.example.
options edns0 timeout:2
""")
CLUSTER = {"cluster_dns": ["10.43.0.10"], "cluster_domain": "cluster.local", "host": HOST}


def pod(policy=None, host_network=False, dns_config=None, ns="shop"):
    spec = {"containers": [{"name": "c", "image": "i"}], "hostNetwork": host_network}
    if policy:
        spec["dnsPolicy"] = policy
    if dns_config is not None:
        spec["dnsConfig"] = dns_config
    return {"metadata": {"name": "p", "namespace": ns}, "spec": spec}


def test_parse_host_resolv_conf():
    assert HOST.nameservers == ["192.168.1.1", "192.168.1.2"]
    assert HOST.searches == ["corp.example", "lab.example"]  # the last search/domain line wins
    assert HOST.options == ["edns0", "timeout:2"]


def test_cluster_first_is_the_default():
    conf = pod_resolv_conf(pod(), **CLUSTER)
    assert conf.render() == (
        "nameserver 10.43.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
        "options ndots:5\n")
    assert conf.warnings == []


def test_cluster_first_with_host_network_uses_the_host():
    conf = pod_resolv_conf(pod("ClusterFirst", host_network=True), **CLUSTER)
    assert (conf.nameservers, conf.searches, conf.options) == (HOST.nameservers, HOST.searches, HOST.options)


def test_cluster_first_with_host_net_uses_the_cluster():
    conf = pod_resolv_conf(pod("ClusterFirstWithHostNet", host_network=True), **CLUSTER)
    assert conf.nameservers == ["10.43.0.10"] and conf.options == ["ndots:5"]
    assert conf.searches[0] == "shop.svc.cluster.local"


def test_default_uses_the_host():
    conf = pod_resolv_conf(pod("Default"), **CLUSTER)
    assert conf.render() == ("nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
                             "search corp.example lab.example\noptions edns0 timeout:2\n")


def test_none_takes_only_dns_config():
    conf = pod_resolv_conf(pod("None", dns_config={
        "nameservers": ["1.2.3.4"], "searches": ["ns1.svc.cluster-domain.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}), **CLUSTER)
    assert conf.render() == ("nameserver 1.2.3.4\nsearch ns1.svc.cluster-domain.example\n"
                             "options ndots:2 edns0\n")


def test_dns_config_merges_into_cluster_first():
    conf = pod_resolv_conf(pod(dns_config={
        "nameservers": ["10.43.0.10", "8.8.8.8"], "searches": ["extra.example", "svc.cluster.local"],
        "options": [{"name": "ndots", "value": "3"}, {"name": "single-request"}]}), **CLUSTER)
    assert conf.nameservers == ["10.43.0.10", "8.8.8.8"]  # duplicates dropped
    assert conf.searches[-1] == "extra.example" and conf.searches.count("svc.cluster.local") == 1
    assert conf.options == ["ndots:3", "single-request"]  # same name: the pod's value wins


def test_cluster_policy_without_cluster_dns_falls_back_to_host():
    conf = pod_resolv_conf(pod(), cluster_dns=[], cluster_domain="cluster.local", host=HOST)
    assert conf.nameservers == HOST.nameservers and conf.warnings


def test_limits_are_applied_with_warnings():
    conf = pod_resolv_conf(pod(dns_config={"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
                                            "searches": [f"d{i}.example" for i in range(40)]}), **CLUSTER)
    assert conf.nameservers == ["10.43.0.10", "1.1.1.1", "2.2.2.2"]
    assert len(conf.searches) == 32
    assert len(conf.warnings) == 2


def test_bad_input_is_a_typed_error():
    with pytest.raises(DnsConfigError, match="dnsPolicy"):
        pod_resolv_conf(pod("Sometimes"), **CLUSTER)
    with pytest.raises(DnsConfigError, match="nameservers"):
        pod_resolv_conf(pod(dns_config={"nameservers": "1.1.1.1"}), **CLUSTER)
    with pytest.raises(DnsConfigError, match="options"):
        pod_resolv_conf(pod(dns_config={"options": [{"value": "1"}]}), **CLUSTER)
