"""Webhook configurations without a network: rules, selectors, policies, validation, reviews."""

from __future__ import annotations

import pytest

from kybernetes.api.builtin_kinds import builtin_registry
from kybernetes.api.errors import ApiError
from kybernetes.apiserver.admission import CREATE, DELETE, UPDATE, Attributes
from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.webhook_admission import denial
from kybernetes.apiserver.webhook_client import build_review
from kybernetes.apiserver.webhook_config import Rule, match_rules, parse_configuration, selectors_match
from kybernetes.apiserver.webhook_validation import validate_configuration

REGISTRY = builtin_registry()
PODS = REGISTRY.get("", "v1", "pods")
NAMESPACES = REGISTRY.get("", "v1", "namespaces")
NODES = REGISTRY.get("", "v1", "nodes")
HPA_V2 = REGISTRY.get("autoscaling", "v2", "horizontalpodautoscalers")


def hook(rules: list[dict], **extra) -> dict:
    return {"name": "h.example.com", "clientConfig": {"url": "https://127.0.0.1/x"}, "rules": rules,
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}


def one(rule: dict, **extra):
    [parsed] = parse_configuration({"metadata": {"name": "c"}, "webhooks": [hook([rule], **extra)]}, mutating=False)
    return parsed


def rule(resources, operations=("*",), groups=("",), versions=("v1",), **extra) -> dict:
    return {"operations": list(operations), "apiGroups": list(groups), "apiVersions": list(versions),
            "resources": list(resources), **extra}


@pytest.mark.parametrize("resources, subresource, expected", [
    (["pods"], "", True),
    (["pods"], "status", False),
    (["pods/status"], "status", True),
    (["pods/*"], "status", True),
    (["pods/*"], "", True),  # upstream's matcher: "*" matches the empty subresource too
    (["*"], "", True),
    (["*"], "status", False),
    (["*/status"], "status", True),
    (["*/status"], "binding", False),
    (["*/*"], "binding", True),
    (["services"], "", False),
])
def test_resource_and_subresource_matching(resources, subresource, expected):
    matched = match_rules(one(rule(resources)), REGISTRY, PODS, UPDATE, subresource, "default")
    assert (matched is not None) is expected


def test_operations_groups_versions_and_scope():
    assert match_rules(one(rule(["pods"], operations=["CREATE"])), REGISTRY, PODS, DELETE, "", "ns") is None
    assert match_rules(one(rule(["pods"], groups=["apps"])), REGISTRY, PODS, CREATE, "", "ns") is None
    assert match_rules(one(rule(["*"], groups=["*"], versions=["*"])), REGISTRY, PODS, CREATE, "", "ns") == PODS
    namespaced = one(rule(["*"], scope="Namespaced"))
    cluster = one(rule(["*"], scope="Cluster"))
    assert match_rules(namespaced, REGISTRY, PODS, CREATE, "", "ns") == PODS
    assert match_rules(namespaced, REGISTRY, NODES, CREATE, "", None) is None
    assert match_rules(cluster, REGISTRY, NODES, CREATE, "", None) == NODES
    # A namespace object is cluster-scoped even though its request names it as the namespace.
    assert match_rules(cluster, REGISTRY, NAMESPACES, CREATE, "", "team-a") == NAMESPACES
    assert match_rules(namespaced, REGISTRY, NAMESPACES, CREATE, "", "team-a") is None


def test_match_policy_equivalent_matches_other_versions_of_the_resource():
    v1_rule = rule(["horizontalpodautoscalers"], groups=["autoscaling"], versions=["v1"])
    matched = match_rules(one(v1_rule), REGISTRY, HPA_V2, CREATE, "", "ns")
    assert matched is not None and matched.version == "v1"
    assert match_rules(one(v1_rule, matchPolicy="Exact"), REGISTRY, HPA_V2, CREATE, "", "ns") is None


def test_selectors():
    labelled = {"metadata": {"labels": {"tier": "db"}}}
    plain = {"metadata": {"labels": {}}}
    by_object = one(rule(["pods"]), objectSelector={"matchLabels": {"tier": "db"}})
    assert selectors_match(by_object, PODS, {}, labelled, None)
    assert not selectors_match(by_object, PODS, {}, plain, None)
    assert selectors_match(by_object, PODS, {}, plain, labelled)  # the old object counts
    by_ns = one(rule(["*"]), namespaceSelector={"matchExpressions": [{"key": "env", "operator": "NotIn",
                                                                      "values": ["prod"]}]})
    assert selectors_match(by_ns, PODS, {"env": "dev"}, plain, None)
    assert not selectors_match(by_ns, PODS, {"env": "prod"}, plain, None)
    assert selectors_match(by_ns, NODES, None, plain, None)  # cluster-scoped: no namespace to select
    prod_ns = {"metadata": {"labels": {"env": "prod"}}}
    assert not selectors_match(by_ns, NAMESPACES, None, prod_ns, None)  # a namespace is its own
    bad = one(rule(["*"]), objectSelector={"matchExpressions": [{"key": "a", "operator": "Near"}]})
    with pytest.raises(ApiError):
        selectors_match(bad, PODS, {}, plain, None)


def test_parse_orders_defaults_and_skips_malformed_entries():
    config = {"metadata": {"name": "c"}, "webhooks": [hook([rule(["pods"])]), "junk", {"clientConfig": {}},
                                                      {**hook([]), "name": "b.example.com", "timeoutSeconds": 3}]}
    first, second = parse_configuration(config, mutating=True)
    assert (first.failure_policy, first.match_policy, first.timeout_seconds) == ("Fail", "Equivalent", 10)
    assert first.reinvocation_policy == "Never" and first.key == ("c", "h.example.com")
    assert second.timeout_seconds == 3 and second.rules == []
    assert first.rules == [Rule(("*",), ("",), ("v1",), ("pods",), "*")]


@pytest.mark.parametrize("change, message", [
    ({"name": "short.name"}, 'webhooks[0].name: Invalid value: "short.name": should be a domain with at least '
                             'three segments separated by dots'),
    ({"clientConfig": {"url": "http://x.example.com/"}},
     "webhooks[0].clientConfig.url: Invalid value: \"http://x.example.com/\": 'https' is the only allowed URL scheme"),
    ({"clientConfig": {}}, "webhooks[0].clientConfig: Required value: exactly one of url or service is required"),
    ({"sideEffects": None}, "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"),
    ({"admissionReviewVersions": ["v2"]},
     "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1"),
    ({"failurePolicy": "Maybe"}, 'webhooks[0].failurePolicy: Unsupported value: "Maybe": supported values: '
                                 '"Fail", "Ignore"'),
    ({"timeoutSeconds": 31}, "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between "
                             "1 and 30 seconds"),
])
def test_configuration_validation(change, message):
    bad = {**hook([rule(["pods"])]), **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    with pytest.raises(ApiError) as caught:
        validate_configuration({"metadata": {"name": "c"}, "webhooks": [bad]}, mutating=False)
    assert caught.value.code == 422
    assert caught.value.message == f'ValidatingWebhookConfiguration.admissionregistration.k8s.io "c" is invalid: {message}'


def test_duplicate_webhook_names_are_invalid():
    with pytest.raises(ApiError) as caught:
        validate_configuration({"metadata": {"name": "c"}, "webhooks": [hook([]), hook([])]}, mutating=True)
    assert caught.value.message.endswith('webhooks[1].name: Duplicate value: "h.example.com"')
    validate_configuration({"metadata": {"name": "c"}, "webhooks": [hook([rule(["pods"])])]}, mutating=True)


def test_review_of_a_namespace_names_it_as_the_namespace_and_carries_the_user():
    user = UserInfo("alice", uid="42", groups=("dev",), extra={"scopes": ("a",)})
    obj = {"metadata": {"name": "team-a"}}
    attrs = Attributes(DELETE, NAMESPACES, None, "team-a", None, obj, user=user, dry_run=True)
    request = build_review(attrs, one(rule(["*"])), NAMESPACES)["request"]
    assert request["namespace"] == "team-a" and request["object"] is None and request["oldObject"] == obj
    assert request["userInfo"] == {"username": "alice", "uid": "42", "groups": ["dev"], "extra": {"scopes": ["a"]}}
    assert request["options"] == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]}


def test_denial_wording_and_codes():
    h = one(rule(["*"]))
    assert denial(h, {"status": {"code": 200, "message": "m"}}).code == 403
    err = denial(h, {"status": {"reason": "NotAllowed"}})
    assert err.message == 'admission webhook "h.example.com" denied the request: NotAllowed'
    err = denial(h, {"status": {"code": 409, "message": "busy", "details": {"causes": [{"field": "spec"}]}}})
    assert (err.code, err.causes[0].field) == (409, "spec")
