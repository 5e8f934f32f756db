"""`kyb up` as a user runs it: TLS with the generated CA, private keys, the admin kubeconfig
working with the pinned kubectl, 401 without credentials, and a restart that keeps objects."""

from __future__ import annotations

import json
import ssl
import urllib.request

import yaml


def test_readyz_answers_over_tls_with_the_cluster_ca(kyb_cluster):
    status, body = kyb_cluster.get("/readyz")
    assert status == 200, body


def test_private_files_are_0600(kyb_cluster):
    pki = kyb_cluster.data_dir / "pki"
    for name in ("ca.key", "apiserver.key", "admin.key"):
        assert (pki / name).stat().st_mode & 0o777 == 0o600, name
    assert kyb_cluster.kubeconfig.stat().st_mode & 0o777 == 0o600
    assert pki.stat().st_mode & 0o777 == 0o700


def test_kubeconfig_points_at_loopback_with_embedded_credentials(kyb_cluster):
    doc = yaml.safe_load(kyb_cluster.kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == kyb_cluster.url
    assert cluster["certificate-authority-data"]
    assert set(doc["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}
    assert doc["current-context"] == "kybernetes"


def test_requests_without_credentials_are_401(kyb_cluster):
    status, body = kyb_cluster.get("/api/v1/namespaces")
    assert status == 401
    assert json.loads(body)["reason"] == "Unauthorized"


def test_the_admin_client_certificate_is_accepted(kyb_cluster):
    ctx = kyb_cluster.ssl_context()
    pki = kyb_cluster.data_dir / "pki"
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with urllib.request.urlopen(kyb_cluster.url + "/api/v1/namespaces", context=ctx, timeout=10) as resp:
        names = {item["metadata"]["name"] for item in json.load(resp)["items"]}
    assert {"default", "kube-system"} <= names


def test_kubectl_version_and_get_namespaces(kyb_cluster):
    version = json.loads(kyb_cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    out = kyb_cluster.kubectl("get", "ns").stdout
    assert out.splitlines()[0].split()[:2] == ["NAME", "STATUS"]
    assert "default" in out and "kube-system" in out


def test_a_certificate_from_another_ca_is_refused(kyb_cluster, tmp_path):
    from kybernetes.apiserver.pki import issue_client_cert, new_certificate_authority

    stranger = issue_client_cert(new_certificate_authority("other"), "mallory", ["system:masters"])
    (tmp_path / "c.crt").write_bytes(stranger.cert_pem)
    (tmp_path / "c.key").write_bytes(stranger.key_pem)
    ctx = kyb_cluster.ssl_context()
    ctx.load_cert_chain(str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    try:
        urllib.request.urlopen(kyb_cluster.url + "/api/v1/namespaces", context=ctx, timeout=10)
    except (ssl.SSLError, urllib.error.URLError, ConnectionError):
        return
    raise AssertionError("a client certificate from another CA was accepted")


def test_restart_keeps_objects_and_the_pki(kyb_cluster):
    ca_before = kyb_cluster.ca_file.read_bytes()
    kyb_cluster.kubectl("create", "--validate=false", "-f", "-",
                        input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: survives-restart\n")
    kyb_cluster.restart()  # asserts exit code 0 on SIGTERM
    assert kyb_cluster.ca_file.read_bytes() == ca_before
    out = kyb_cluster.kubectl("get", "ns", "survives-restart", "-o", "name").stdout.strip()
    assert out == "namespace/survives-restart"
    kyb_cluster.kubectl("delete", "ns", "survives-restart", "--wait=false")
