"""Ingress, IngressClass and NetworkPolicy validation, worded as the real server words it."""

import copy

import pytest

from tests.api.api_validation_helpers import errors_of

NET = "networking.k8s.io"


def ingress(**spec):
    body = {"rules": [{"host": "web.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    body.update(spec)
    return {"metadata": {"name": "i", "namespace": "default"}, "spec": body}


def with_path(**entry):
    base = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}
    base.update(entry)
    return ingress(rules=[{"http": {"paths": [{k: v for k, v in base.items() if v is not None}]}}])


P = "spec.rules[0].http.paths[0]"


@pytest.mark.parametrize("obj,expected", [
    (ingress(), []),
    (ingress(rules=[]), [("spec", "FieldValueInvalid", "Invalid value: []networking.IngressRule(nil): either "
                                                         "`defaultBackend` or `rules` must be specified")]),
    (with_path(pathType=None), [(f"{P}.pathType", "FieldValueRequired", "Required value: pathType must be specified")]),
    (with_path(pathType="Regex"), [(f"{P}.pathType", "FieldValueNotSupported", 'Unsupported value: "Regex": '
                                    'supported values: "Exact", "ImplementationSpecific", "Prefix"')]),
    (with_path(path="api"), [(f"{P}.path", "FieldValueInvalid", 'Invalid value: "api": must be an absolute path')]),
    (with_path(path="/a//b"), [(f"{P}.path", "FieldValueInvalid", "Invalid value: \"/a//b\": must not contain '//'")]),
    (with_path(path="/a/.."), [(f"{P}.path", "FieldValueInvalid", "Invalid value: \"/a/..\": cannot end with '/..'")]),
    (with_path(pathType="ImplementationSpecific", path=""), []),
    (with_path(backend={}), [(f"{P}.backend", "FieldValueInvalid",
                              'Invalid value: "": resource or service backend is required')]),
    (with_path(backend={"service": {"name": "web", "port": {}}}),
     [(f"{P}.backend", "FieldValueRequired", "Required value: port name or number is required")]),
    (with_path(backend={"service": {"name": "web", "port": {"name": "http", "number": 80}}}),
     [(f"{P}.backend", "FieldValueInvalid", 'Invalid value: "": cannot set both port name & port number')]),
    (with_path(backend={"service": {"port": {"number": 70000}}}),
     [(f"{P}.backend.service.name", "FieldValueRequired", "Required value"),
      (f"{P}.backend.service.port.number", "FieldValueInvalid",
       "Invalid value: 70000: must be between 1 and 65535, inclusive")]),
    (with_path(backend={"service": {"name": "web", "port": {"number": 80}},
                        "resource": {"kind": "Bucket", "name": "b"}}),
     [(f"{P}.backend", "FieldValueInvalid", 'Invalid value: "": cannot set both resource and service backends')]),
    (with_path(backend={"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket"}}),
     [(f"{P}.backend.resource.name", "FieldValueRequired", "Required value")]),
    (ingress(rules=[{"host": "10.0.0.1", "http": {"paths": []}}]),
     [("spec.rules[0].host", "FieldValueInvalid", 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address'),
      ("spec.rules[0].http.paths", "FieldValueRequired", "Required value")]),
    (ingress(rules=[{"host": "*.example.com"}]), []),
    (ingress(tls=[{"hosts": ["Bad_Host"], "secretName": "tls"}]), "tls"),
    (ingress(ingressClassName="nginx"), []),
])
def test_ingress(obj, expected):
    errs = errors_of(NET, "ingresses", obj)
    if expected == "tls":
        assert [e[0] for e in errs] == ["spec.tls[0].hosts[0]"] and "RFC 1123 subdomain" in errs[0][2]
    else:
        assert errs == expected


def test_ingress_wildcard_host_wording():
    errs = errors_of(NET, "ingresses", ingress(rules=[{"host": "*.*.example.com"}]))
    assert errs[0][0] == "spec.rules[0].host"
    assert "a wildcard DNS-1123 subdomain must start with '*.'" in errs[0][2]


def ingress_class(**spec):
    return {"metadata": {"name": "nginx"}, "spec": {"controller": "example.com/ingress-nginx", **spec}}


@pytest.mark.parametrize("obj,expected", [
    (ingress_class(), []),
    (ingress_class(controller=""), [("spec.controller", "FieldValueRequired", "Required value")]),
    (ingress_class(controller="nginx"), [("spec.controller", "FieldValueInvalid",
                                          'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")')]),
    (ingress_class(parameters={"kind": "Params", "name": "p"}), []),
    (ingress_class(parameters={"kind": "Params", "name": "p", "scope": "Namespace"}),
     [("spec.parameters.namespace", "FieldValueRequired", "Required value: `parameters.scope` is set to 'Namespace'")]),
    (ingress_class(parameters={"kind": "Params", "name": "p", "scope": "Cluster", "namespace": "x"}),
     [("spec.parameters.namespace", "FieldValueForbidden", "Forbidden: `parameters.scope` is set to 'Cluster'")]),
    (ingress_class(parameters={"kind": "Params", "name": "p", "scope": "Galaxy"}),
     [("spec.parameters.scope", "FieldValueNotSupported",
       'Unsupported value: "Galaxy": supported values: "Cluster", "Namespace"')]),
])
def test_ingress_class(obj, expected):
    assert errors_of(NET, "ingressclasses", obj) == expected


def test_ingress_class_defaults_scope_and_controller_is_immutable():
    obj = ingress_class(parameters={"kind": "Params", "name": "p"})
    errors_of(NET, "ingressclasses", obj)
    assert obj["spec"]["parameters"]["scope"] == "Cluster"
    new = copy.deepcopy(obj)
    new["spec"]["controller"] = "example.com/other"
    assert errors_of(NET, "ingressclasses", new, old=obj) == [
        ("spec.controller", "FieldValueInvalid", 'Invalid value: "example.com/other": field is immutable')]


def netpol(**spec):
    return {"metadata": {"name": "np", "namespace": "default"}, "spec": {"podSelector": {}, **spec}}


def peer_rule(peer, **rule):
    return {"ingress": [{"from": [peer], **rule}]}


F = "spec.ingress[0].from[0]"


@pytest.mark.parametrize("obj,expected", [
    (netpol(), []),
    (netpol(**peer_rule({})), [(F, "FieldValueRequired", "Required value: must specify a peer")]),
    (netpol(**peer_rule({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})),
     [(F, "FieldValueForbidden", "Forbidden: may not specify both ipBlock and another peer")]),
    (netpol(**peer_rule({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}})), []),
    (netpol(**peer_rule({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}})),
     [(f"{F}.ipBlock.except[0]", "FieldValueInvalid", 'Invalid value: "192.168.0.0/16": must be a strict subset of '
                                                      "`cidr`")]),
    (netpol(**peer_rule({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}})),
     [(f"{F}.ipBlock.except[0]", "FieldValueInvalid", 'Invalid value: "10.0.0.0/8": must be a strict subset of '
                                                      "`cidr`")]),
    (netpol(**peer_rule({"ipBlock": {"cidr": "10.0.0.0"}})),
     [(f"{F}.ipBlock.cidr", "FieldValueInvalid",
       'Invalid value: "10.0.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')]),
    (netpol(**peer_rule({"ipBlock": {}})), [(f"{F}.ipBlock.cidr", "FieldValueRequired", "Required value")]),
    (netpol(**peer_rule({"podSelector": {}}, ports=[{"protocol": "ICMP", "port": 80}])),
     [("spec.ingress[0].ports[0].protocol", "FieldValueNotSupported",
       'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"')]),
    (netpol(**peer_rule({"podSelector": {}}, ports=[{"port": 90, "endPort": 80}])),
     [("spec.ingress[0].ports[0].endPort", "FieldValueInvalid", "Invalid value: 80: must be greater than or equal "
                                                                 "to `port`")]),
    (netpol(**peer_rule({"podSelector": {}}, ports=[{"port": "http", "endPort": 80}])),
     [("spec.ingress[0].ports[0].endPort", "FieldValueInvalid",
       "Invalid value: 80: may not be specified when `port` is non-numeric")]),
    (netpol(policyTypes=["Ingress", "Sideways"]),
     [("spec.policyTypes[1]", "FieldValueNotSupported",
       'Unsupported value: "Sideways": supported values: "Ingress", "Egress"')]),
    (netpol(policyTypes=["Ingress", "Egress", "Ingress"]),
     [("spec.policyTypes", "FieldValueInvalid",
       'Invalid value: []string{"Ingress", "Egress", "Ingress"}: may not specify more than two policyTypes')]),
])
def test_network_policy(obj, expected):
    assert errors_of(NET, "networkpolicies", obj) == expected


def test_network_policy_defaults():
    obj = netpol(egress=[{"ports": [{"port": 53}]}])
    assert errors_of(NET, "networkpolicies", obj) == []
    assert obj["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    only_ingress = netpol()
    errors_of(NET, "networkpolicies", only_ingress)
    assert only_ingress["spec"]["policyTypes"] == ["Ingress"]
