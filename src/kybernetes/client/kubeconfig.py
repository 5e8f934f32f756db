"""Kubeconfig files: write the admin one, read any one, merge ours into ~/.kube/config.

A kubeconfig names clusters (server URL + CA), users (client certificate/key or token) and
contexts (a cluster + a user + a default namespace). ``load_kubeconfig`` resolves the current
(or a chosen) context into one ``ClusterAccess``: everything a client needs to open a TLS
connection and authenticate. ``*-data`` fields are base64 PEM; their file variants are read
relative to the kubeconfig's directory, as kubectl does.

Every file written here is mode 0600 from creation: it holds a private key or a token.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kybernetes.util.files import write_atomic

DEFAULT_NAME = "kybernetes"


class KubeconfigError(ValueError):
    """A kubeconfig that is missing, unreadable, or lacks what the chosen context needs."""


@dataclass(frozen=True)
class ClusterAccess:
    """The resolved context: where the apiserver is and how to prove who we are."""

    context: str
    server: str
    namespace: str = "default"
    ca_data: bytes | None = None  # PEM
    client_cert_data: bytes | None = None  # PEM
    client_key_data: bytes | None = None  # PEM
    token: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context for https servers (None for http://)."""
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context(cadata=self.ca_data.decode() if self.ca_data else None)
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_data and self.client_key_data:
            _load_cert_chain_from_memory(ctx, self.client_cert_data, self.client_key_data)
        return ctx


def _load_cert_chain_from_memory(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads a certificate chain from files: go through a private temporary directory.
    with tempfile.TemporaryDirectory(prefix="kyb-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        write_atomic(cert_file, cert)
        write_atomic(key_file, key)
        ctx.load_cert_chain(str(cert_file), str(key_file))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def admin_kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, *,
                     name: str = DEFAULT_NAME, user: str = "admin") -> dict[str, Any]:
    """A kubeconfig with one cluster, one certificate user and one context, all embedded."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(cert_pem),
                                          "client-key-data": _b64(key_pem)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def dump_kubeconfig(config: dict[str, Any]) -> bytes:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False).encode()


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dump_kubeconfig(config))


def read_kubeconfig(path: Path) -> dict[str, Any]:
    """The raw document; a missing or empty file is an empty config."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping")
    for section in ("clusters", "users", "contexts"):
        entries = doc.get(section) or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("name") for e in entries):
            raise KubeconfigError(f"kubeconfig {path}: {section} must be a list of named entries")
    return doc


def _named(doc: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    key = section[:-1]  # clusters -> cluster
    for entry in doc.get(section) or []:
        if entry.get("name") == name:
            return entry.get(key) or {}
    raise KubeconfigError(f'kubeconfig {path}: {key} "{name}" not found')


def _data_or_file(entry: dict[str, Any], data_key: str, file_key: str, base: Path) -> bytes | None:
    if entry.get(data_key):
        try:
            return base64.b64decode(entry[data_key], validate=True)
        except (ValueError, TypeError):
            raise KubeconfigError(f"{data_key} is not valid base64") from None
    if entry.get(file_key):
        file = Path(os.path.expanduser(entry[file_key]))
        try:
            return (base / file if not file.is_absolute() else file).read_bytes()
        except OSError as e:
            raise KubeconfigError(f"cannot read {file_key} {file}: {e.strerror}") from None
    return None


def default_kubeconfig_path() -> Path:
    """$KUBECONFIG's first entry, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> ClusterAccess:
    """Resolve ``context`` (default: current-context) of the kubeconfig at ``path``."""
    path = Path(path) if path is not None else default_kubeconfig_path()
    if not path.exists():
        raise KubeconfigError(f"kubeconfig {path} does not exist")
    doc = read_kubeconfig(path)
    context = context or doc.get("current-context")
    if not context:
        raise KubeconfigError(f"kubeconfig {path} has no current-context; choose a context")
    ctx = _named(doc, "contexts", context, path)
    cluster = _named(doc, "clusters", ctx.get("cluster", ""), path)
    user = _named(doc, "users", ctx["user"], path) if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f'kubeconfig {path}: cluster "{ctx.get("cluster")}" has no server')
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (_data_or_file(user, "", "tokenFile", base) or b"").decode().strip()
    return ClusterAccess(
        context=context,
        server=server.rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        ca_data=_data_or_file(cluster, "certificate-authority-data", "certificate-authority", base),
        client_cert_data=_data_or_file(user, "client-certificate-data", "client-certificate", base),
        client_key_data=_data_or_file(user, "client-key-data", "client-key", base),
        token=token or None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
    )


def _upsert(entries: list[dict[str, Any]], new: dict[str, Any]) -> None:
    for i, entry in enumerate(entries):
        if entry.get("name") == new["name"]:
            entries[i] = new
            return
    entries.append(new)


def merge_into(path: Path, source: dict[str, Any], *, make_current: bool = False) -> None:
    """Merge the clusters, users and contexts of ``source`` into the kubeconfig at ``path``
    (created if missing). Entries with the same names are replaced; every other entry, and the
    current-context unless ``make_current`` (or the file had none), are left as they were."""
    path = Path(path)
    target = read_kubeconfig(path)
    target.setdefault("apiVersion", "v1")
    target.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        entries = list(target.get(section) or [])
        for entry in source.get(section) or []:
            _upsert(entries, entry)
        target[section] = entries
    if source.get("current-context") and (make_current or not target.get("current-context")):
        target["current-context"] = source["current-context"]
    write_kubeconfig(path.resolve() if path.is_symlink() else path, target)
