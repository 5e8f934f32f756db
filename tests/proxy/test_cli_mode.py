"""The proxy mode as `kyb proxy`, `kyb up` and `kyb agent` take it: nftables by default, iptables
on request, anything else refused before anything starts; up and agent hand it to `kyb proxy`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kybernetes.cli.agent import agent_specs, node_service_specs
from kybernetes.cli.main import cli
from kybernetes.cli.proxy import DEFAULT_PROXY_MODE


def proxy_argv(specs: list) -> list[str]:
    [proxy] = [s for s in specs if s.name == "proxy"]
    return proxy.argv


def mode_of(argv: list[str]) -> str:
    return argv[argv.index("--proxy-mode") + 1]


def test_nftables_is_the_default_mode():
    assert DEFAULT_PROXY_MODE == "nftables"
    for command in (["proxy"], ["up"], ["agent"]):
        help_text = CliRunner().invoke(cli, [*command, "--help"]).output
        assert "--proxy-mode [iptables|nftables]" in help_text and "[default: nftables]" in help_text, command


def test_node_service_specs_pass_the_mode_to_kyb_proxy(tmp_path: Path):
    common = {"kubeconfig": tmp_path / "kc", "node_name": "n1", "node_address": "127.0.0.1"}
    assert mode_of(proxy_argv(node_service_specs(**common))) == "nftables"
    assert mode_of(proxy_argv(node_service_specs(**common, proxy_mode="iptables"))) == "iptables"
    specs = agent_specs(kubeconfig=tmp_path / "kc", data_dir=tmp_path, node_name="n1", node_ip="127.0.0.1",
                        registry_config=None, kubelet_port=0, tls=(None, None, None), disabled=("dns",),
                        stop_pods=False, quiet=True, proxy_mode="iptables")
    assert mode_of(proxy_argv(specs)) == "iptables"


def test_up_and_agent_refuse_an_unknown_mode(tmp_path: Path):
    for command in (["up", "--data-dir", str(tmp_path)], ["agent", "--kubeconfig", __file__], ["proxy"]):
        result = CliRunner().invoke(cli, [*command, "--proxy-mode", "ipvs"])
        assert result.exit_code == 2 and "'ipvs' is not one of 'iptables', 'nftables'" in result.output, command
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_kyb_up_hands_its_mode_to_the_node_proxy(tmp_path: Path):
    from kybernetes.cli.control_plane import prepare
    from kybernetes.cli.up import node_specs

    plane = prepare(tmp_path / "data", port=0, bind_address="127.0.0.1", store_url="", disabled=("dns",),
                    service_cidr="10.43.0.0/16")
    for mode in ("iptables", "nftables"):
        specs = node_specs(plane, node_name="n1", node_ip="127.0.0.1", kubelet_port=0, registry_config=None,
                           stop_pods=False, quiet=True, proxy_mode=mode)
        assert [s.name for s in specs] == ["proxy", "kubelet"]
        assert mode_of(proxy_argv(specs)) == mode
