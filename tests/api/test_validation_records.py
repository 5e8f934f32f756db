"""Lease, EndpointSlice and Event validation."""

import pytest

from tests.api.api_validation_helpers import errors_of


def lease(**spec):
    return {"metadata": {"name": "l", "namespace": "kube-system"}, "spec": spec}


@pytest.mark.parametrize("obj,expected", [
    (lease(holderIdentity="a", leaseDurationSeconds=15, leaseTransitions=0), []),
    (lease(leaseDurationSeconds=0), [("spec.leaseDurationSeconds", "FieldValueInvalid",
                                      "Invalid value: 0: must be greater than 0")]),
    (lease(leaseTransitions=-1), [("spec.leaseTransitions", "FieldValueInvalid",
                                   "Invalid value: -1: must be greater than or equal to 0")]),
    (lease(preferredHolder="b"), [("spec.preferredHolder", "FieldValueForbidden",
                                   "Forbidden: may only be specified if `strategy` is defined")]),
])
def test_lease(obj, expected):
    assert errors_of("coordination.k8s.io", "leases", obj) == expected


def endpoint_slice(address_type="IPv4", addresses=("10.0.0.5",), ports=None):
    return {"metadata": {"name": "s", "namespace": "default"}, "addressType": address_type,
            "endpoints": [{"addresses": list(addresses)}], "ports": ports or [{"port": 80}]}


@pytest.mark.parametrize("obj,expected", [
    (endpoint_slice(), []),
    (endpoint_slice(address_type=""), [("addressType", "FieldValueRequired", "Required value")]),
    (endpoint_slice(address_type="IPv5"),
     [("addressType", "FieldValueNotSupported", 'Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"')]),
    (endpoint_slice(addresses=()),
     [("endpoints[0].addresses", "FieldValueRequired", "Required value: must contain at least 1 address")]),
    (endpoint_slice(addresses=("fd00::1",)),
     [("endpoints[0].addresses[0]", "FieldValueInvalid", 'Invalid value: "fd00::1": must be a valid IPv4 address')]),
    (endpoint_slice(addresses=("0.0.0.0",)),
     [("endpoints[0].addresses[0]", "FieldValueInvalid", 'Invalid value: "0.0.0.0": may not be unspecified '
                                                         "(0.0.0.0)")]),
    (endpoint_slice(address_type="IPv6", addresses=("fd00::1",)), []),
    (endpoint_slice(address_type="FQDN", addresses=("db.example.com",)), []),
    (endpoint_slice(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81, "protocol": "ICMP"}]),
     [("ports[1].name", "FieldValueDuplicate", 'Duplicate value: "http"'),
      ("ports[1].protocol", "FieldValueNotSupported", 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", '
                                                      '"UDP"')]),
])
def test_endpoint_slice(obj, expected):
    assert errors_of("discovery.k8s.io", "endpointslices", obj) == expected


def test_endpoint_slice_defaults_and_address_type_immutable():
    old = endpoint_slice()
    errors_of("discovery.k8s.io", "endpointslices", old)
    assert old["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    new = endpoint_slice(address_type="IPv6", addresses=("fd00::1",))
    assert errors_of("discovery.k8s.io", "endpointslices", new, old=old) == [
        ("addressType", "FieldValueInvalid", 'Invalid value: "IPv6": field is immutable')]


def core_event(namespace="default", **fields):
    return {"metadata": {"name": "e", "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace}, "reason": "Started",
            "message": "started", "type": "Normal", **fields}


def test_core_events():
    assert errors_of("", "events", core_event()) == []
    mismatch = core_event()
    mismatch["involvedObject"]["namespace"] = "other"
    assert errors_of("", "events", mismatch) == [
        ("involvedObject.namespace", "FieldValueInvalid", 'Invalid value: "other": does not match event.namespace')]
    strict = core_event(eventTime="2024-01-01T00:00:00.000000Z")
    assert errors_of("", "events", strict) == [
        ("reportingComponent", "FieldValueRequired", "Required value"),
        ("reportingComponent", "FieldValueInvalid", 'Invalid value: "": name part must be non-empty'),
        ("reportingInstance", "FieldValueRequired", "Required value"),
        ("action", "FieldValueRequired", "Required value")]


def new_event(**fields):
    body = {"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Started", "note": "ok",
            "type": "Normal", "action": "Start", "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-1"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def test_events_v1():
    assert errors_of("events.k8s.io", "events", new_event()) == []
    errs = errors_of("events.k8s.io", "events", new_event(type="Odd", deprecatedCount=3, reportingController=None))
    assert errs == [("reportingController", "FieldValueRequired", "Required value"),
                    ("reportingController", "FieldValueInvalid", 'Invalid value: "": name part must be non-empty'),
                    ("type", "FieldValueInvalid", 'Invalid value: "": has invalid value: Odd'),
                    ("count", "FieldValueInvalid", 'Invalid value: "": needs to be unset')]
    missing_time = errors_of("events.k8s.io", "events", new_event(eventTime=None))
    assert ("eventTime", "FieldValueRequired", "Required value") in missing_time
