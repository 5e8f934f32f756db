"""The admissionregistration.k8s.io/v1 rules for webhook configurations (422 Invalid).

The apiserver must refuse a configuration it could not call correctly, with the field paths
and words of the real server: a webhook name of three dot-separated segments at least, unique
in its configuration; exactly one of clientConfig.url (https, no fragment or query) and
clientConfig.service; sideEffects None or NoneOnDryRun (the only ones v1 allows); at least one
known admissionReviewVersion; failurePolicy, matchPolicy and reinvocationPolicy from their
sets; timeoutSeconds between 1 and 30; rules with operations, groups, versions and resources.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from kybernetes.api import errors
from kybernetes.api.errors import Cause

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _unsupported(path: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    return Cause("FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {_quoted(allowed)}',
                 path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", f"Required value{': ' + detail if detail else ''}", path)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return Cause("FieldValueInvalid", f"Invalid value: {shown}: {detail}", path)


def _client_config(path: str, client: Any) -> list[Cause]:
    if not isinstance(client, dict) or bool(client.get("url")) == bool(client.get("service")):
        return [_required(path, "exactly one of url or service is required")]
    url = client.get("url")
    if url:
        parts = urlsplit(str(url))
        if parts.scheme != "https":
            return [_invalid(f"{path}.url", url, "'https' is the only allowed URL scheme")]
        if not parts.hostname:
            return [_invalid(f"{path}.url", url, "host must be specified")]
        if parts.fragment or parts.query:
            return [_invalid(f"{path}.url", url, "fragments and query parameters are not permitted")]
        return []
    service = client["service"]
    causes = []
    for key in ("namespace", "name"):
        if not (service or {}).get(key):
            causes.append(_required(f"{path}.service.{key}", f"service {key} is required"))
    port = (service or {}).get("port", 443)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        causes.append(_invalid(f"{path}.service.port", port, "port is not valid: must be between 1 and 65535"))
    return causes


def _rules(path: str, rules: Any) -> list[Cause]:
    causes = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        at = f"{path}[{i}]"
        if not isinstance(rule, dict):
            causes.append(_invalid(at, rule, "must be an object"))
            continue
        for key in ("operations", "apiGroups", "apiVersions", "resources"):
            if not rule.get(key):
                causes.append(_required(f"{at}.{key}"))
        for j, op in enumerate(rule.get("operations") or []):
            if op not in _OPERATIONS:
                causes.append(_unsupported(f"{at}.operations[{j}]", op, _OPERATIONS))
        scope = rule.get("scope", "*")
        if scope not in ("*", "Cluster", "Namespaced"):
            causes.append(_unsupported(f"{at}.scope", scope, ("*", "Cluster", "Namespaced")))
    return causes


def _webhook(path: str, hook: dict[str, Any], mutating: bool) -> list[Cause]:
    causes: list[Cause] = []
    name = hook.get("name") or ""
    labels = str(name).split(".")
    if not name:
        causes.append(_required(f"{path}.name"))
    elif len(labels) < 3 or not all(_DNS_LABEL.match(label) for label in labels):
        causes.append(_invalid(f"{path}.name", name, "should be a domain with at least three segments "
                                                     "separated by dots"))
    causes += _client_config(f"{path}.clientConfig", hook.get("clientConfig"))
    causes += _rules(f"{path}.rules", hook.get("rules"))
    side_effects = hook.get("sideEffects")
    if side_effects is None:
        causes.append(_required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif side_effects not in ("None", "NoneOnDryRun"):
        causes.append(_unsupported(f"{path}.sideEffects", side_effects, ("None", "NoneOnDryRun")))
    versions = hook.get("admissionReviewVersions") or []
    if not any(v in ("v1", "v1beta1") for v in versions if isinstance(v, str)):
        causes.append(_required(f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1"))
    for key, allowed in (("failurePolicy", ("Fail", "Ignore")), ("matchPolicy", ("Equivalent", "Exact"))):
        if key in hook and hook[key] not in allowed:
            causes.append(_unsupported(f"{path}.{key}", hook[key], allowed))
    if mutating and "reinvocationPolicy" in hook and hook["reinvocationPolicy"] not in ("IfNeeded", "Never"):
        causes.append(_unsupported(f"{path}.reinvocationPolicy", hook["reinvocationPolicy"], ("IfNeeded", "Never")))
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and (not isinstance(timeout, int) or not 1 <= timeout <= 30):
        causes.append(_invalid(f"{path}.timeoutSeconds", timeout,
                               "the timeout value must be between 1 and 30 seconds"))
    return causes


def validate_configuration(obj: dict[str, Any], mutating: bool) -> None:
    """Raise 422 Invalid when ``obj`` is not a configuration the server can use."""
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, hook in enumerate(obj.get("webhooks") or []):
        path = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            causes.append(_invalid(path, hook, "must be an object"))
            continue
        causes += _webhook(path, hook, mutating)
        name = hook.get("name")
        if name in seen:
            causes.append(Cause("FieldValueDuplicate", f'Duplicate value: "{name}"', f"{path}.name"))
        seen.add(name)
    if causes:
        kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(kind, name, causes, group="admissionregistration.k8s.io")
