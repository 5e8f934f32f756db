"""The service-account token volume every pod gets, unless it opts out.

Kubernetes' ServiceAccount admission plugin adds a projected volume ``kube-api-access-<suffix>``
(token with expirationSeconds 3607, ca.crt from the kube-root-ca.crt ConfigMap, the namespace
from the downward API) and mounts it read-only at /var/run/secrets/kubernetes.io/serviceaccount
in every container that has nothing there. When a pod arrives without it (our apiserver may not
add it), the kubelet adds the same volume itself, under a name derived from the pod's uid so that
every sync adds the very same one. ``automountServiceAccountToken: false`` on the pod, or on its
ServiceAccount when the pod does not say, opts out; a volume already named kube-api-access-* or
a mount already at the path wins over ours.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_EXPIRATION_SECONDS = 3607
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the letters Kubernetes' random suffixes use


def volume_name(uid: str) -> str:
    digest = hashlib.sha256(uid.encode()).digest()
    return VOLUME_PREFIX + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def wants_token(pod: Obj, service_account: Obj | None) -> bool:
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if service_account is not None and service_account.get("automountServiceAccountToken") is not None:
        return bool(service_account["automountServiceAccountToken"])
    return True


def token_mount(pod: Obj) -> tuple[Obj | None, Obj | None]:
    """(the volume to add, the volumeMount containers without one get), each None when not needed.
    A pod whose volumes already hold a kube-api-access-* volume needs nothing added."""
    spec = pod.get("spec") or {}
    volumes = spec.get("volumes") or []
    if any(str(v.get("name", "")).startswith(VOLUME_PREFIX) for v in volumes):
        return None, None
    name = volume_name((pod.get("metadata") or {}).get("uid") or "")
    return token_volume(name), {"name": name, "mountPath": MOUNT_PATH, "readOnly": True}


def has_mount_at(container: Obj, path: str) -> bool:
    return any((m.get("mountPath") or "").rstrip("/") == path for m in container.get("volumeMounts") or [])
