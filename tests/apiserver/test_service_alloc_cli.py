"""The Service flags of `kyb apiserver` and `kyb up`: bad values are one clear line, good ones
reach the apiserver's configuration."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kybernetes.cli.control_plane import ControlPlane, apiserver_spec
from kybernetes.cli.main import cli


def test_apiserver_refuses_bad_service_flags():
    runner = CliRunner()
    for args, words in [(["--service-cluster-ip-range", "10.0.0.0/33"], "not a valid CIDR"),
                        (["--service-node-port-range", "40000-30000"], "node port range"),
                        (["--advertise-address", "not-an-ip"], "does not appear to be")]:
        result = runner.invoke(cli, ["apiserver", *args])
        assert result.exit_code == 2, result.output
        assert words in result.output and "Traceback" not in result.output


def test_up_refuses_a_bad_service_cidr():
    result = CliRunner().invoke(cli, ["up", "--service-cidr", "10.1.0.0/16,10.2.0.0/16"])
    assert result.exit_code == 2 and "different IP families" in result.output


def test_control_plane_passes_the_service_cidr_on(tmp_path: Path, monkeypatch):
    import kybernetes.cli.control_plane as control_plane

    monkeypatch.setattr(control_plane, "ca_ssl_context", lambda path: None)  # no CA in this test
    class Pki:
        serving_cert_file = serving_key_file = ca_cert_file = tmp_path / "x"

    plane = ControlPlane(tmp_path, Pki(), tmp_path / "kubeconfig", "https://127.0.0.1:6443", "0.0.0.0", 6443, "",
                         service_cidr="10.96.0.0/12")
    argv = apiserver_spec(plane).argv
    assert argv[argv.index("--service-cluster-ip-range") + 1] == "10.96.0.0/12"
