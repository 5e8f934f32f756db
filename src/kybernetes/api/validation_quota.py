"""Validation of ResourceQuota and LimitRange, and of CertificateSigningRequests.

Quota admission adds and compares these quantities on every pod, so each must parse, be
non-negative, and be whole where counting objects; scopes must be known and not contradict each
other. A LimitRange's min <= defaultRequest <= default <= max ordering is what its defaulting
relies on. A CSR must carry a parsable PEM request, a signer of the form 'domain/path' and
usages from the known set, which signers read without re-checking.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .errors import Cause
from .field_errors import dns1123_subdomain_errors, duplicate, forbidden, invalid, not_supported, required
from .quantity import Quantity, QuantityError, parse_quantity

_COMPUTE = ("cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
            "limits.cpu", "limits.memory", "limits.ephemeral-storage")
_COUNTED = ("pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
            "persistentvolumeclaims", "services.nodeports", "services.loadbalancers")
STANDARD_QUOTA_RESOURCES = frozenset(_COMPUTE + _COUNTED + ("requests.storage",))
QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                "CrossNamespacePodAffinity", "VolumeAttributesClass")
_POD_SCOPE_RESOURCES = frozenset(_COMPUTE + ("pods",))
_SCOPE_RESOURCES = {"BestEffort": frozenset(("pods",)), "CrossNamespacePodAffinity": frozenset(("pods",)),
                    "VolumeAttributesClass": frozenset(("persistentvolumeclaims", "requests.storage"))}
_CONFLICTING_SCOPES = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))
SCOPE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def _quantity(value: Any, path: str) -> tuple[Quantity | None, list[Cause]]:
    try:
        return parse_quantity(value), []
    except QuantityError as e:
        return None, [invalid(path, value, str(e))]


def _is_integer_resource(name: str) -> bool:
    return name in _COUNTED or name.startswith("count/")


def _resource_quantity(name: str, value: Any, path: str) -> list[Cause]:
    qty, causes = _quantity(value, path)
    if qty is None:
        return causes
    if qty.value < 0:
        causes.append(invalid(path, str(qty), "must be greater than or equal to 0"))
    if _is_integer_resource(name) and qty.value.denominator != 1:
        causes.append(invalid(path, str(qty), "must be an integer"))
    return causes


def _is_standard_quota_resource(name: str) -> bool:
    return name in STANDARD_QUOTA_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))


def validate_resource_quota(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    hard = spec.get("hard") if isinstance(spec.get("hard"), dict) else {}
    causes: list[Cause] = []
    for name, value in hard.items():
        path = f"spec.hard[{name}]"
        if "/" not in name and not _is_standard_quota_resource(name):
            causes.append(invalid(path, name, "must be a standard resource for quota"))
        causes += _resource_quantity(name, value, path)
    scopes = spec.get("scopes") or []
    for scope in scopes:
        if scope not in QUOTA_SCOPES:
            causes.append(invalid("spec.scopes", scopes, "unsupported scope"))
            continue
        allowed = _SCOPE_RESOURCES.get(scope, _POD_SCOPE_RESOURCES)
        if any(_is_standard_quota_resource(name) and name not in allowed for name in hard):
            causes.append(invalid("spec.scopes", scopes, "unsupported scope applied to resource"))
    for pair in _CONFLICTING_SCOPES:
        if all(scope in scopes for scope in pair):
            causes.append(invalid("spec.scopes", scopes, "conflicting scopes"))
    selector = spec.get("scopeSelector") if isinstance(spec.get("scopeSelector"), dict) else {}
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"spec.scopeSelector.matchExpressions[{i}]"
        expr = expr if isinstance(expr, dict) else {}
        if expr.get("scopeName") not in QUOTA_SCOPES:
            causes.append(invalid(f"{p}.scopeName", expr.get("scopeName"), "unsupported scope"))
        operator = expr.get("operator")
        if operator not in SCOPE_OPERATORS:
            causes.append(invalid(f"{p}.operator", operator, "not a valid selector operator"))
        elif operator in ("In", "NotIn") and not expr.get("values"):
            causes.append(required(f"{p}.values", "must be at least one value when `operator` is 'In' or 'NotIn' "
                                                  "for scope selector"))
        elif operator in ("Exists", "DoesNotExist") and expr.get("values"):
            causes.append(invalid(f"{p}.values", expr.get("values"),
                                  "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
    return causes


def _limit_quantities(limit: dict[str, Any], field: str, path: str) -> tuple[dict[str, Quantity], list[Cause]]:
    values = limit.get(field) if isinstance(limit.get(field), dict) else {}
    parsed, causes = {}, []
    for name, value in values.items():
        qty, errs = _quantity(value, f"{path}.{field}[{name}]")
        causes += errs
        if qty is not None:
            parsed[name] = qty
    return parsed, causes


def _limit_item(limit: Any, path: str) -> list[Cause]:
    limit = limit if isinstance(limit, dict) else {}
    causes: list[Cause] = []
    kind = limit.get("type") or ""
    if "/" not in kind and kind not in LIMIT_TYPES:
        causes.append(invalid(f"{path}.type", kind, "must be a standard limit type or fully qualified"))
    q: dict[str, dict[str, Quantity]] = {}
    for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
        q[field], errs = _limit_quantities(limit, field, path)
        causes += errs
    if kind == "Pod":
        for field in ("default", "defaultRequest"):
            if limit.get(field):
                causes.append(forbidden(f"{path}.{field}", "may not be specified when `type` is 'Pod'"))
    if kind == "PersistentVolumeClaim" and "storage" not in q["min"] and "storage" not in q["max"]:
        causes.append(required(f"{path}.limits",
                               "either minimum or maximum storage value is required, but neither was provided"))
    keys = sorted(set().union(*(set(v) for v in q.values())))
    for k in keys:
        lo, hi, dflt, req, ratio = (q[f].get(k) for f in ("min", "max", "default", "defaultRequest",
                                                         "maxLimitRequestRatio"))
        if lo is not None and hi is not None and lo > hi:
            causes.append(invalid(f"{path}.min[{k}]", str(lo), f"min value {lo} is greater than max value {hi}"))
        if req is not None and lo is not None and lo > req:
            causes.append(invalid(f"{path}.defaultRequest[{k}]", str(req),
                                  f"min value {lo} is greater than default request value {req}"))
        if req is not None and hi is not None and req > hi:
            causes.append(invalid(f"{path}.defaultRequest[{k}]", str(req),
                                  f"default request value {req} is greater than max value {hi}"))
        if req is not None and dflt is not None and req > dflt:
            causes.append(invalid(f"{path}.defaultRequest[{k}]", str(req),
                                  f"default request value {req} is greater than default limit value {dflt}"))
        if dflt is not None and lo is not None and lo > dflt:
            causes.append(invalid(f"{path}.default[{k}]", str(lo), f"min value {lo} is greater than default value {dflt}"))
        if dflt is not None and hi is not None and dflt > hi:
            causes.append(invalid(f"{path}.default[{k}]", str(hi), f"default value {dflt} is greater than max value {hi}"))
        if ratio is not None and ratio.value < 1:
            causes.append(invalid(f"{path}.maxLimitRequestRatio[{k}]", str(ratio), f"ratio {ratio} is less than 1"))
    return causes


def validate_limit_range(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, limit in enumerate(spec.get("limits") or []):
        kind = (limit or {}).get("type") if isinstance(limit, dict) else None
        if kind in seen:
            causes.append(duplicate(f"spec.limits[{i}].type", kind))
        seen.add(kind or "")
        causes += _limit_item(limit, f"spec.limits[{i}]")
    return causes


USAGES = ("any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment",
          "decipher only", "digital signature", "email protection", "encipher only", "ipsec end system",
          "ipsec tunnel", "ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc",
          "ocsp signing", "s/mime", "server auth", "signing", "timestamping")
LEGACY_SIGNER = "kubernetes.io/legacy-unknown"


def _request_error(request: Any) -> str:
    try:
        pem = base64.b64decode(str(request), validate=True)
    except (binascii.Error, ValueError):
        return "PEM block type must be CERTIFICATE REQUEST"
    from cryptography import x509

    text = pem.decode("latin-1")
    if "-----BEGIN CERTIFICATE REQUEST-----" not in text:
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        x509.load_pem_x509_csr(pem)
    except ValueError as e:
        return f"x509: malformed certificate request: {e}"
    return ""


def _go_bytes(request: Any) -> str:
    try:
        data = base64.b64decode(str(request))
    except (binascii.Error, ValueError):
        data = str(request).encode()
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"


def _signer_errors(signer: str, path: str) -> list[Cause]:
    if not signer:
        return [required(path)]
    if signer == LEGACY_SIGNER:
        return [invalid(path, signer, "the legacy signerName is not allowed via this API version")]
    domain, _, rest = signer.partition("/")
    if not rest and "/" not in signer:
        return [invalid(path, signer, "must be a fully qualified domain and path of the form "
                                      "'example.com/signer-name'")]
    causes = [invalid(path, signer, f"validating domain component: {m}") for m in dns1123_subdomain_errors(domain)]
    if not rest:
        causes.append(invalid(path, signer, "validating path component: must not be empty"))
    return causes


def validate_certificate_signing_request(obj: dict[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    causes: list[Cause] = []
    error = _request_error(spec.get("request") or "")
    if error:
        causes.append(Cause("FieldValueInvalid", f"Invalid value: {_go_bytes(spec.get('request') or '')}: {error}",
                            "spec.request"))
    usages = spec.get("usages") or []
    if not usages:
        causes.append(required("spec.usages"))
    seen: set[str] = set()
    for i, usage in enumerate(usages):
        if usage not in USAGES:
            causes.append(not_supported(f"spec.usages[{i}]", usage, USAGES))
        if usage in seen:
            causes.append(duplicate(f"spec.usages[{i}]", usage))
        seen.add(usage)
    causes += _signer_errors(str(spec.get("signerName") or ""), "spec.signerName")
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and seconds < 600:
        causes.append(invalid("spec.expirationSeconds", seconds,
                              "may not specify a duration less than 600 seconds (10 minutes)"))
    return causes


VALIDATORS = {
    ("", "resourcequotas"): (validate_resource_quota, None),
    ("", "limitranges"): (validate_limit_range, None),
    ("certificates.k8s.io", "certificatesigningrequests"): (validate_certificate_signing_request, None),
}
