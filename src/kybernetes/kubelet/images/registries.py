"""registries.yaml, in k3s' format: where to pull each registry's images from, and how to log in.

    mirrors:
      docker.io:                     # images named docker.io/... (and "nginx", "me/app")
        endpoint:
          - "http://127.0.0.1:5000"  # tried in order; the registry itself is tried last
      "*":                           # any registry without its own entry
        endpoint: ["https://mirror.example.com"]
    configs:
      mirror.example.com:            # keyed by the host an endpoint points at
        auth: {username: u, password: p}        # or auth: base64(u:p), or identitytoken
        tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}

Plain HTTP is only spoken to registries on loopback (127.0.0.0/8, ::1, localhost): an
``http://`` endpoint elsewhere is refused, and a registry host without a mirror entry is reached
over HTTPS unless it is on loopback.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kybernetes.kubelet.images.errors import RegistriesConfigError
from kybernetes.kubelet.runtime.protocol import AuthConfig

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"


@dataclass(frozen=True)
class TLSConfig:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True)
class RegistryConfig:
    auth: AuthConfig | None = None
    tls: TLSConfig | None = None


@dataclass(frozen=True)
class Endpoint:
    url: str  # scheme://host[:port][/path], without /v2
    host: str  # host[:port]: the key of configs

    @property
    def api(self) -> str:
        return self.url.rstrip("/") + "/v2"


@dataclass
class RegistriesConfig:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    configs: dict[str, RegistryConfig] = field(default_factory=dict)
    default_endpoint: bool = True  # also try the registry itself, after its mirrors

    def endpoints(self, registry: str) -> list[Endpoint]:
        """Where to pull ``registry``'s images from, in order."""
        urls = list(self.mirrors.get(registry, self.mirrors.get("*", [])))
        if self.default_endpoint or not urls:
            if registry == "docker.io":
                urls.append(DOCKER_HUB_ENDPOINT)
            else:
                urls.append(f"{'http' if is_loopback(registry) else 'https'}://{registry}")
        out: list[Endpoint] = []
        for url in urls:
            split = urllib.parse.urlsplit(url)
            endpoint = Endpoint(url.rstrip("/").removesuffix("/v2"), split.netloc)
            if endpoint not in out:
                out.append(endpoint)
        return out

    def config_for(self, host: str) -> RegistryConfig:
        return self.configs.get(host, RegistryConfig())


def is_loopback(host: str) -> bool:
    """host[:port] on loopback: localhost, 127.0.0.0/8 or ::1."""
    name = host
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _auth(raw: object, where: str) -> AuthConfig:
    if not isinstance(raw, dict):
        raise RegistriesConfigError(f"{where}: auth must be a mapping")
    username, password = str(raw.get("username") or ""), str(raw.get("password") or "")
    encoded = str(raw.get("auth") or "")
    if encoded and not username:
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise RegistriesConfigError(f"{where}: auth is not base64 of user:password") from None
    return AuthConfig(username=username, password=password, auth=encoded,
                      identity_token=str(raw.get("identitytoken") or raw.get("identity_token") or ""))


def _tls(raw: object, where: str) -> TLSConfig:
    if not isinstance(raw, dict):
        raise RegistriesConfigError(f"{where}: tls must be a mapping")
    tls = TLSConfig(str(raw.get("ca_file") or ""), str(raw.get("cert_file") or ""), str(raw.get("key_file") or ""),
                    bool(raw.get("insecure_skip_verify", False)))
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name)
        if path and not Path(path).is_file():
            raise RegistriesConfigError(f"{where}: {name} {path!r} does not exist")
    if tls.key_file and not tls.cert_file:
        raise RegistriesConfigError(f"{where}: key_file without cert_file")
    return tls


def parse_registries(doc: object, source: str = "registries.yaml") -> RegistriesConfig:
    if doc is None:
        return RegistriesConfig()
    if not isinstance(doc, dict):
        raise RegistriesConfigError(f"{source}: expected a mapping with mirrors: and configs:")
    mirrors: dict[str, list[str]] = {}
    for host, entry in (doc.get("mirrors") or {}).items():
        where = f"{source}: mirrors.{host}"
        endpoints = entry.get("endpoint") if isinstance(entry, dict) else None
        if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
            raise RegistriesConfigError(f"{where}: endpoint must be a list of URLs")
        for url in endpoints:
            split = urllib.parse.urlsplit(url)
            if split.scheme not in ("http", "https") or not split.netloc:
                raise RegistriesConfigError(f"{where}: {url!r} is not an http(s) URL")
            if split.scheme == "http" and not is_loopback(split.netloc):
                raise RegistriesConfigError(f"{where}: {url!r}: plain HTTP is only allowed to loopback registries")
        mirrors[str(host)] = list(endpoints)
    configs: dict[str, RegistryConfig] = {}
    for host, entry in (doc.get("configs") or {}).items():
        where = f"{source}: configs.{host}"
        if not isinstance(entry, dict):
            raise RegistriesConfigError(f"{where}: expected a mapping with auth: and/or tls:")
        configs[str(host)] = RegistryConfig(_auth(entry["auth"], where) if entry.get("auth") else None,
                                            _tls(entry["tls"], where) if entry.get("tls") else None)
    return RegistriesConfig(mirrors, configs)


def load_registries(path: str | Path | None) -> RegistriesConfig:
    """The file's configuration; an empty one when ``path`` is None or does not exist."""
    if path is None or not Path(path).exists():
        return RegistriesConfig()
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise RegistriesConfigError(f"{path}: {e}") from None
    return parse_registries(doc, str(path))
