"""Admission webhooks as configured: parsing the configurations and deciding who is called.

    MutatingWebhookConfiguration / ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1)
        └─ webhooks[]: clientConfig (url | service, caBundle), rules, namespaceSelector,
           objectSelector, matchPolicy, failurePolicy, sideEffects, timeoutSeconds,
           reinvocationPolicy (mutating), admissionReviewVersions

Webhooks are called in the order the real server uses: configurations sorted by name, then
webhooks in their order within a configuration.

A request matches a webhook when one rule matches it (operation, API group, version, resource
with its subresource - "*", "pods/*", "*/status", "*/*" -, and scope; as upstream's matcher,
"pods/*" covers pods itself too), and both selectors match:
the namespaceSelector against the labels of the request's namespace (of the namespace object
itself for namespaces; cluster-scoped objects always pass), the objectSelector against the labels
of the new or the old object. With matchPolicy Equivalent a rule naming another version of the
same resource matches too; the request then names that version (the object is not converted:
the built-in kinds with several versions here share one storage shape).

Requests for the admission configuration kinds themselves never go to webhooks, so a broken
webhook can always be removed, as upstream guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.api.selectors import LabelSelector, label_selector_from_spec

GROUP = "admissionregistration.k8s.io"
MUTATING_RESOURCE = "mutatingwebhookconfigurations"
VALIDATING_RESOURCE = "validatingwebhookconfigurations"
# Never sent to webhooks (upstream's IsExemptAdmissionConfigurationResource).
EXEMPT_RESOURCES = frozenset({
    MUTATING_RESOURCE, VALIDATING_RESOURCE, "validatingadmissionpolicies",
    "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings",
})
KNOWN_REVIEW_VERSIONS = ("v1", "v1beta1")
DEFAULT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Rule:
    operations: tuple[str, ...]
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str = "*"

    def matches_resource(self, group: str, version: str, resource: str, subresource: str) -> bool:
        if "*" not in self.groups and group not in self.groups:
            return False
        if "*" not in self.versions and version not in self.versions:
            return False
        for entry in self.resources:
            name, _, sub = entry.partition("/")
            if (name == "*" or name == resource) and (sub == "*" or sub == subresource):
                return True
        return False

    def matches_operation(self, operation: str) -> bool:
        return "*" in self.operations or operation in self.operations

    def matches_scope(self, resource: str, group: str, namespace: str | None) -> bool:
        is_namespace = group == "" and resource == "namespaces"
        if self.scope == "Namespaced":
            return not is_namespace and bool(namespace)
        if self.scope == "Cluster":
            return is_namespace or not namespace
        return True


@dataclass
class Webhook:
    name: str
    configuration: str
    mutating: bool
    url: str = ""
    service: dict[str, Any] | None = None
    ca_bundle: str = ""  # base64 PEM, as in the object
    rules: list[Rule] = field(default_factory=list)
    failure_policy: str = "Fail"
    match_policy: str = "Equivalent"
    namespace_selector: dict[str, Any] = field(default_factory=dict)
    object_selector: dict[str, Any] = field(default_factory=dict)
    side_effects: str = ""
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    reinvocation_policy: str = "Never"
    review_versions: tuple[str, ...] = ("v1",)

    @property
    def key(self) -> tuple[str, str]:
        return (self.configuration, self.name)

    @property
    def ignores_failures(self) -> bool:
        return self.failure_policy == "Ignore"

    def selectors(self) -> tuple[LabelSelector, LabelSelector]:
        """(namespace selector, object selector); raises ApiError for a malformed one."""
        return (label_selector_from_spec(self.namespace_selector or {}),
                label_selector_from_spec(self.object_selector or {}))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse_configuration(obj: dict[str, Any], mutating: bool) -> list[Webhook]:
    """The webhooks of one stored configuration object (malformed entries are left out)."""
    config_name = (obj.get("metadata") or {}).get("name") or ""
    hooks: list[Webhook] = []
    for raw in obj.get("webhooks") or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        client = raw.get("clientConfig") if isinstance(raw.get("clientConfig"), dict) else {}
        rules = []
        for r in raw.get("rules") or []:
            if isinstance(r, dict):
                rules.append(Rule(_strings(r.get("operations")), _strings(r.get("apiGroups")),
                                  _strings(r.get("apiVersions")), _strings(r.get("resources")),
                                  str(r.get("scope") or "*")))
        timeout = raw.get("timeoutSeconds")
        hooks.append(Webhook(
            name=str(raw["name"]), configuration=config_name, mutating=mutating,
            url=str(client.get("url") or ""),
            service=client.get("service") if isinstance(client.get("service"), dict) else None,
            ca_bundle=str(client.get("caBundle") or ""),
            rules=rules,
            failure_policy=str(raw.get("failurePolicy") or "Fail"),
            match_policy=str(raw.get("matchPolicy") or "Equivalent"),
            namespace_selector=raw.get("namespaceSelector") or {},
            object_selector=raw.get("objectSelector") or {},
            side_effects=str(raw.get("sideEffects") or ""),
            timeout_seconds=timeout if isinstance(timeout, int) and timeout > 0 else DEFAULT_TIMEOUT_SECONDS,
            reinvocation_policy=str(raw.get("reinvocationPolicy") or "Never"),
            review_versions=_strings(raw.get("admissionReviewVersions")) or ("v1",),
        ))
    return hooks


def match_rules(hook: Webhook, registry: Registry, info: ResourceInfo, operation: str,
                subresource: str, namespace: str | None) -> ResourceInfo | None:
    """The resource version under which ``hook`` wants this request, or None."""
    candidates = [info]
    if hook.match_policy != "Exact":
        candidates += [other for other in registry.resources(info.group)
                       if other.resource == info.resource and other.version != info.version]
    for candidate in candidates:
        for rule in hook.rules:
            if (rule.matches_operation(operation)
                    and rule.matches_resource(candidate.group, candidate.version, candidate.resource, subresource)
                    and rule.matches_scope(info.resource, info.group, namespace)):
                return candidate
    return None


def labels_of(obj: dict[str, Any] | None) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def selectors_match(hook: Webhook, info: ResourceInfo, namespace_labels: dict[str, str] | None,
                    obj: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """Both selectors; ``namespace_labels`` None means the object is cluster-scoped.
    Raises ApiError for a malformed selector (a webhook error: failurePolicy decides)."""
    ns_selector, obj_selector = hook.selectors()
    if info.group == "" and info.resource == "namespaces":
        if not ns_selector.matches(labels_of(obj if isinstance(obj, dict) else old)):
            return False
    elif namespace_labels is not None and not ns_selector.matches(namespace_labels):
        return False
    if obj_selector.empty:
        return True
    return obj_selector.matches(labels_of(obj)) or obj_selector.matches(labels_of(old))

