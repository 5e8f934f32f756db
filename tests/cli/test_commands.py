"""The `kyb` commands that need no running cluster: version, flag checks, default paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kybernetes import KUBERNETES_VERSION, __version__
from kybernetes.cli import paths
from kybernetes.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version_prints_ours_and_the_kubernetes_version():
    result = run("version")
    assert result.exit_code == 0
    assert __version__ in result.output and KUBERNETES_VERSION in result.output
    assert run("version", "--short").output.strip() == __version__


def test_every_command_is_registered():
    out = run("--help").output
    for command in ("version", "apiserver", "server", "up"):
        assert command in out


def test_apiserver_flags_cover_every_config_field():
    out = run("apiserver", "--help").output
    for flag in ("--data-dir", "--bind-address", "--port", "--store", "--tls-cert-file",
                 "--tls-private-key-file", "--client-ca-file", "--token-auth-file", "--anonymous-admin"):
        assert flag in out


def test_apiserver_rejects_a_certificate_without_its_key(tmp_path):
    cert = tmp_path / "tls.crt"
    cert.write_text("x")
    result = CliRunner().invoke(cli, ["apiserver", "--tls-cert-file", str(cert)])
    assert result.exit_code == 2 and "go together" in result.output


@pytest.mark.parametrize("args", [["--port", "0"], ["--port", "70000"], ["--port", "x"]])
def test_up_rejects_bad_ports_without_a_traceback(args, tmp_path):
    result = CliRunner().invoke(cli, ["up", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_up_refuses_a_broken_pki_with_a_clear_message(tmp_path):
    (tmp_path / "pki").mkdir(mode=0o700)
    (tmp_path / "pki" / "ca.crt").write_text("garbage")
    result = CliRunner().invoke(cli, ["up", "--data-dir", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert "ca.crt and ca.key" in result.output


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(paths.os, "geteuid", lambda: 0)
    assert paths.default_data_dir() == Path("/var/lib/kybernetes")
    monkeypatch.setattr(paths.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert paths.default_data_dir() == tmp_path / ".local" / "share" / "kybernetes"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.default_data_dir() == tmp_path / "xdg" / "kybernetes"


@pytest.mark.parametrize("bind,url", [
    ("0.0.0.0", "https://127.0.0.1:6443"),
    ("::", "https://127.0.0.1:6443"),
    ("127.0.0.1", "https://127.0.0.1:6443"),
    ("192.0.2.5", "https://192.0.2.5:6443"),
    ("fd00::2", "https://[fd00::2]:6443"),
    ("localhost", "https://127.0.0.1:6443"),
])
def test_local_server_url(bind, url):
    assert paths.local_server_url(bind, 6443) == url


def test_kubeconfig_command_prints_and_merges(tmp_path):
    from kybernetes.cli.control_plane import prepare
    from kybernetes.client.kubeconfig import load_kubeconfig, write_kubeconfig

    data = tmp_path / "data"
    assert CliRunner().invoke(cli, ["kubeconfig", "--data-dir", str(data)]).exit_code == 1
    plane = prepare(data, port=7443, bind_address="127.0.0.1", store_url="")
    printed = run("kubeconfig", "--data-dir", str(data)).output
    assert printed == plane.kubeconfig.read_text()
    home = tmp_path / "home-config"
    write_kubeconfig(home, {"clusters": [{"name": "w", "cluster": {"server": "https://w:1"}}],
                            "contexts": [{"name": "w", "context": {"cluster": "w"}}], "current-context": "w"})
    assert run("kubeconfig", "--data-dir", str(data), "--merge", "--into", str(home)).exit_code == 0
    assert load_kubeconfig(home).context == "w"
    assert load_kubeconfig(home, "kybernetes").server == "https://127.0.0.1:7443"
    run("kubeconfig", "--data-dir", str(data), "--merge", "--use", "--into", str(home))
    assert load_kubeconfig(home).context == "kybernetes"


def test_prepare_writes_pki_and_a_private_kubeconfig_and_is_idempotent(tmp_path):
    from kybernetes.cli.control_plane import prepare
    from kybernetes.client.kubeconfig import load_kubeconfig

    data = tmp_path / "data"
    plane = prepare(data, port=7443, bind_address="0.0.0.0", store_url="")
    assert data.stat().st_mode & 0o777 == 0o700
    assert plane.kubeconfig.stat().st_mode & 0o777 == 0o600
    ca = plane.pki.ca_cert_file.read_bytes()
    again = prepare(data, port=8443, bind_address="0.0.0.0", store_url="")
    assert again.pki.ca_cert_file.read_bytes() == ca
    assert load_kubeconfig(again.kubeconfig).server == "https://127.0.0.1:8443"


def test_the_serving_certificate_names_the_kubernetes_service_ip(tmp_path):
    """In-cluster clients dial KUBERNETES_SERVICE_HOST, the first address of the service CIDR."""
    from cryptography import x509

    from kybernetes.cli.control_plane import kubernetes_service_ips, prepare

    assert kubernetes_service_ips("10.43.0.0/16,fd00:43::/112") == ["10.43.0.1", "fd00:43::1"]
    plane = prepare(tmp_path / "data", port=7443, bind_address="0.0.0.0", store_url="", service_cidr="10.96.0.0/12")
    cert = x509.load_pem_x509_certificate(plane.pki.serving_cert_file.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.96.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}


@pytest.mark.parametrize("command", ["up", "server", "apiserver"])
def test_an_unknown_store_scheme_is_a_usage_error(command, tmp_path):
    result = CliRunner().invoke(cli, [command, "--data-dir", str(tmp_path), "--store", "bogus://x"])
    assert result.exit_code == 2
    assert "sqlite:///PATH" in result.output and "Traceback" not in result.output
