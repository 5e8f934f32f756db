"""Reading query names: the cluster schema and reverse names."""

from __future__ import annotations

import pytest

from kybernetes.dns.names import (
    EndpointName,
    Interior,
    NameServerName,
    PodName,
    PortName,
    ServiceName,
    VersionName,
    dashed,
    in_zone,
    parse_cluster_name,
    reverse_address,
)

Z = "cluster.local"


@pytest.mark.parametrize(("name", "expected"), [
    ("web.default.svc.cluster.local", ServiceName("default", "web")),
    ("db-0.db.default.svc.cluster.local", EndpointName("default", "db", "db-0")),
    ("_http._tcp.web.default.svc.cluster.local", PortName("default", "web", "http", "tcp")),
    ("*.*.web.default.svc.cluster.local", PortName("default", "web", "*", "*")),
    ("10-1-2-3.default.pod.cluster.local", PodName("default", "10.1.2.3")),
    ("fd00--1.default.pod.cluster.local", PodName("default", "fd00::1")),
    ("default.svc.cluster.local", Interior(namespace="default")),
    ("_tcp.web.default.svc.cluster.local", Interior(namespace="default")),
    ("svc.cluster.local", Interior()),
    ("cluster.local", Interior(apex=True)),
    ("dns-version.cluster.local", VersionName()),
    ("ns.dns.cluster.local", NameServerName()),
    ("x.10-1-2-3.default.pod.cluster.local", None),
    ("nope.default.pod.cluster.local", None),
    ("a.b._http._tcp.web.default.svc.cluster.local", None),
    ("_http.web.default.svc.cluster.local", None),
    ("what.cluster.local", None),
])
def test_parse_cluster_name(name, expected):
    assert parse_cluster_name(name, Z) == expected


def test_in_zone_needs_a_label_boundary():
    assert in_zone("a.cluster.local", Z) and in_zone(Z, Z)
    assert not in_zone("xcluster.local", Z)


@pytest.mark.parametrize(("name", "address"), [
    ("1.0.43.10.in-addr.arpa", "10.43.0.1"),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "fd00::1"),
    ("0.43.10.in-addr.arpa", None),
    ("x.0.43.10.in-addr.arpa", None),
    ("300.0.43.10.in-addr.arpa", None),
    ("example.com", None),
])
def test_reverse_address(name, address):
    assert reverse_address(name) == address


def test_dashed():
    assert dashed("10.1.2.3") == "10-1-2-3" and dashed("fd00::1") == "fd00--1"
