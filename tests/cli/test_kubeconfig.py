"""Kubeconfig files: the admin one round-trips, merging keeps other contexts, bad files are
typed errors. (Tests client/kubeconfig.py; kept beside the CLI that writes the files.)"""

from __future__ import annotations

import base64
import ssl

import pytest
import yaml

from kybernetes.apiserver.pki import ensure_cluster_pki
from kybernetes.client.kubeconfig import (
    KubeconfigError,
    admin_kubeconfig,
    load_kubeconfig,
    merge_into,
    read_kubeconfig,
    write_kubeconfig,
)

OTHER = {
    "apiVersion": "v1", "kind": "Config", "current-context": "work",
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "me", "user": {"token": "secret"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "me", "namespace": "team"}}],
}


@pytest.fixture
def admin(tmp_path):
    cluster = ensure_cluster_pki(tmp_path / "pki", [])
    config = admin_kubeconfig("https://127.0.0.1:7443", cluster.ca.cert_pem,
                              cluster.admin_cert_file.read_bytes(), cluster.admin_key_file.read_bytes())
    return cluster, config


def test_admin_kubeconfig_round_trips_with_mode_0600(tmp_path, admin):
    cluster, config = admin
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, config)
    assert path.stat().st_mode & 0o777 == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "kybernetes"
    assert doc["contexts"] == [{"name": "kybernetes", "context": {"cluster": "kybernetes", "user": "admin"}}]
    access = load_kubeconfig(path)
    assert access.server == "https://127.0.0.1:7443"
    assert access.ca_data == cluster.ca.cert_pem
    assert access.client_cert_data == cluster.admin_cert_file.read_bytes()
    assert access.client_key_data == cluster.admin_key_file.read_bytes()
    assert access.namespace == "default" and access.token is None
    ctx = access.ssl_context()
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED


def test_file_references_are_relative_to_the_kubeconfig(tmp_path, admin):
    cluster, _ = admin
    (tmp_path / "token").write_text("tok-123\n")
    path = tmp_path / "kc"
    write_kubeconfig(path, {
        "clusters": [{"name": "c", "cluster": {"server": "https://h:1/", "certificate-authority": "pki/ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns1"}}],
    })
    access = load_kubeconfig(path, context="x")
    assert access.ca_data == cluster.ca_cert_file.read_bytes()
    assert (access.server, access.token, access.namespace) == ("https://h:1", "tok-123", "ns1")


def test_merge_keeps_other_contexts_and_the_current_one(tmp_path, admin):
    _, config = admin
    target = tmp_path / "home" / ".kube" / "config"
    write_kubeconfig(target, OTHER)
    merge_into(target, config)
    doc = read_kubeconfig(target)
    assert [c["name"] for c in doc["contexts"]] == ["work", "kybernetes"]
    assert [c["name"] for c in doc["clusters"]] == ["work", "kybernetes"]
    assert [u["name"] for u in doc["users"]] == ["me", "admin"]
    assert doc["current-context"] == "work"
    assert load_kubeconfig(target).token == "secret"
    assert load_kubeconfig(target, "kybernetes").server == "https://127.0.0.1:7443"
    assert target.stat().st_mode & 0o777 == 0o600


def test_merging_again_replaces_our_entries_and_can_switch_context(tmp_path, admin):
    _, config = admin
    target = tmp_path / "config"
    write_kubeconfig(target, OTHER)
    merge_into(target, config)
    moved = yaml.safe_load(yaml.safe_dump(config))
    moved["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9443"
    merge_into(target, moved, make_current=True)
    doc = read_kubeconfig(target)
    assert [c["name"] for c in doc["clusters"]] == ["work", "kybernetes"]
    assert doc["current-context"] == "kybernetes"
    assert load_kubeconfig(target).server == "https://127.0.0.1:9443"


def test_merge_into_a_missing_file_creates_it_with_our_context_current(tmp_path, admin):
    _, config = admin
    target = tmp_path / "new" / "config"
    merge_into(target, config)
    assert load_kubeconfig(target).context == "kybernetes"


@pytest.mark.parametrize("text,message", [
    ("clusters: [oops", "not valid YAML"),
    ("- a\n- b\n", "not a mapping"),
    ("clusters: [{cluster: {}}]\n", "list of named entries"),
    ("current-context: x\ncontexts: [{name: y, context: {}}]\n", 'context "x" not found'),
    ("clusters: [{name: c, cluster: {}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
     "current-context: x\n", "has no server"),
    ("clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!'}}]\n"
     "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n", "not valid base64"),
    ("{}\n", "no current-context"),
])
def test_bad_kubeconfigs_are_typed_errors(tmp_path, text, message):
    path = tmp_path / "kc"
    path.write_text(text)
    with pytest.raises(KubeconfigError, match=message):
        load_kubeconfig(path)


def test_missing_kubeconfig_is_a_typed_error(tmp_path):
    with pytest.raises(KubeconfigError, match="does not exist"):
        load_kubeconfig(tmp_path / "absent")


def test_embedded_data_is_base64_pem(admin):
    cluster, config = admin
    data = config["clusters"][0]["cluster"]["certificate-authority-data"]
    assert base64.b64decode(data) == cluster.ca.cert_pem
