"""The cluster PKI: what is created, with which modes and SANs, and what a restart reuses."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kybernetes.apiserver import pki
from kybernetes.apiserver.pki import PkiError, ensure_cluster_pki, issue_client_cert


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(ext.get_values_for_type(x509.DNSName)),
            {str(a) for a in ext.get_values_for_type(x509.IPAddress)})


def _mtimes(directory) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def test_first_start_creates_ca_serving_and_admin_with_private_keys(tmp_path):
    d = tmp_path / "pki"
    cluster = ensure_cluster_pki(d, ["192.0.2.10", "node-a"])
    assert {p.name for p in d.iterdir()} == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key",
                                             "admin.crt", "admin.key", "sa.key", "sa.pub"}
    assert d.stat().st_mode & 0o777 == 0o700
    for key in ("ca.key", "apiserver.key", "admin.key", "sa.key"):
        assert (d / key).stat().st_mode & 0o777 == 0o600, key
    assert (d / "ca.crt").stat().st_mode & 0o022 == 0  # certificates are public, never writable by others

    ca = _cert(cluster.ca_cert_file)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > dt.timedelta(days=3600)
    for leaf in (cluster.serving_cert_file, cluster.admin_cert_file):
        _cert(leaf).verify_directly_issued_by(ca)


def test_key_files_are_never_wider_than_0600_even_with_a_permissive_umask(tmp_path):
    import os

    old = os.umask(0)
    try:
        ensure_cluster_pki(tmp_path / "pki", [])
    finally:
        os.umask(old)
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_serving_certificate_names_loopback_host_and_cluster_service(tmp_path):
    cluster = ensure_cluster_pki(tmp_path / "pki", ["192.0.2.10", "Node-A", "0.0.0.0"])
    cert = _cert(cluster.serving_cert_file)
    dns, ips = _sans(cert)
    assert {"localhost", "node-a", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"} <= dns
    assert {"127.0.0.1", "::1", "192.0.2.10"} <= ips
    assert "0.0.0.0" not in ips  # a wildcard bind address is no name anyone dials
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_admin_certificate_is_system_masters(tmp_path):
    cluster = ensure_cluster_pki(tmp_path / "pki", [])
    subject = _cert(cluster.admin_cert_file).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]


def test_second_start_reuses_everything(tmp_path):
    d = tmp_path / "pki"
    ensure_cluster_pki(d, ["192.0.2.10"])
    before = _mtimes(d)
    again = ensure_cluster_pki(d, ["192.0.2.10"])
    assert _mtimes(d) == before
    assert again.ca.cert == _cert(d / "ca.crt")


def test_new_host_address_reissues_only_the_serving_certificate(tmp_path):
    d = tmp_path / "pki"
    ensure_cluster_pki(d, ["192.0.2.10"])
    before = _mtimes(d)
    ensure_cluster_pki(d, ["192.0.2.10", "198.51.100.7"])
    changed = {name for name, t in _mtimes(d).items() if before[name] != t}
    assert changed == {"apiserver.crt", "apiserver.key"}
    assert "198.51.100.7" in _sans(_cert(d / "apiserver.crt"))[1]


def test_leaves_not_signed_by_the_ca_on_disk_are_reissued(tmp_path):
    d = tmp_path / "pki"
    ensure_cluster_pki(d, [])
    other = pki.new_certificate_authority("someone-else")
    stray = issue_client_cert(other, "kubernetes-admin", ["system:masters"])
    (d / "admin.crt").write_bytes(stray.cert_pem)
    (d / "admin.key").write_bytes(stray.key_pem)
    cluster = ensure_cluster_pki(d, [])
    assert cluster.ca.issued(_cert(d / "admin.crt"))


def test_a_ca_certificate_without_its_key_is_an_error_not_a_new_ca(tmp_path):
    d = tmp_path / "pki"
    ensure_cluster_pki(d, [])
    (d / "ca.key").unlink()
    with pytest.raises(PkiError, match="ca.crt and ca.key"):
        ensure_cluster_pki(d, [])
    (d / "ca.key").write_text("not a key")
    with pytest.raises(PkiError):
        ensure_cluster_pki(d, [])


def test_issue_client_cert_maps_groups_to_organizations(tmp_path):
    ca = pki.new_certificate_authority()
    issued = issue_client_cert(ca, "system:node:n1", ["system:nodes", "extra"])
    subject = issued.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:nodes", "extra"]
    eku = issued.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(PkiError):
        issue_client_cert(ca, "", [])


def test_serving_context_loads_and_requests_optional_client_certs(tmp_path):
    cluster = ensure_cluster_pki(tmp_path / "pki", [])
    ctx = pki.serving_ssl_context(cluster.serving_cert_file, cluster.serving_key_file, cluster.ca_cert_file)
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
