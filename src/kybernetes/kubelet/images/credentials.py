"""Registry credentials: imagePullSecrets lookups and the registries' auth challenges.

``auth_for_image`` is the kubelet's keyring: given the decoded ``.dockerconfigjson`` (or legacy
``.dockercfg``) of a pod's imagePullSecrets, the AuthConfig for an image's registry, matched as
Kubernetes matches it (``https://index.docker.io/v1/`` and friends mean docker.io; a key may carry
a scheme, a port and a path prefix; ``*.example.com`` globs one label).

``parse_challenge`` reads ``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``
(Docker Hub's token auth) or ``Basic realm="..."``.
"""

from __future__ import annotations

import base64
import fnmatch
import re
import urllib.parse

from kybernetes.kubelet.images.reference import ImageReference
from kybernetes.kubelet.runtime.protocol import AuthConfig

_DOCKER_HUB_KEYS = ("index.docker.io", "docker.io", "registry-1.docker.io")
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _key_host_path(key: str) -> tuple[str, str]:
    if "://" not in key:
        key = "https://" + key
    split = urllib.parse.urlsplit(key)
    host, path = split.netloc, split.path.strip("/")
    if host in _DOCKER_HUB_KEYS:
        host, path = "docker.io", ""  # .../v1/ and .../v2/ are API paths, not repository prefixes
    elif path in ("v1", "v2"):
        path = ""
    return host, path


def _entry_auth(entry: dict, server: str) -> AuthConfig | None:
    if not isinstance(entry, dict):
        return None
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    encoded = str(entry.get("auth") or "")
    if encoded and not username:
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    if not username and not entry.get("identitytoken") and not entry.get("registrytoken"):
        return None
    return AuthConfig(username=username, password=password, auth=encoded, server_address=server,
                      identity_token=str(entry.get("identitytoken") or ""),
                      registry_token=str(entry.get("registrytoken") or ""))


def auth_for_image(docker_configs: list[dict], ref: ImageReference) -> AuthConfig | None:
    """The first matching credential of the pod's pull secrets (most specific key first)."""
    best: tuple[int, AuthConfig] | None = None
    for config in docker_configs:
        auths = config.get("auths", config) if isinstance(config, dict) else {}
        for key, entry in (auths or {}).items():
            host, path = _key_host_path(str(key))
            if "*" in host:
                if host.count(".") != ref.registry.count(".") or not fnmatch.fnmatchcase(ref.registry, host):
                    continue
            elif host != ref.registry:
                continue
            if path and not (ref.repository == path or ref.repository.startswith(path + "/")):
                continue
            auth = _entry_auth(entry, host)
            if auth is not None and (best is None or len(path) > best[0]):
                best = (len(path), auth)
    return best[1] if best else None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """(scheme lower-cased, params) of a WWW-Authenticate header."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def basic_header(auth: AuthConfig) -> str:
    if auth.username or auth.password:
        return "Basic " + base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
    return "Basic " + auth.auth
