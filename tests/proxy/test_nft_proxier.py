"""The nftables proxier's syncs against a recording fake nft: full first, then partial transactions
that touch only the changed services; deletions, shared addresses, failures."""

from __future__ import annotations

import pytest

from kybernetes.proxy.nft_proxier import NftProxier
from kybernetes.proxy.nft_rules import is_service_chain
from kybernetes.proxy.nft_tool import NftError
from kybernetes.proxy.proxier import ProxyConfig


class FakeNft:
    binary = "nft"

    def __init__(self):
        self.applied: list[list[str]] = []
        self.fail_next: list[str] = []  # substrings: a transaction containing one fails
        self.chains: set[str] = set()
        self.table_there = True

    async def apply(self, lines: list[str]) -> None:
        text = "\n".join(lines)
        for marker in list(self.fail_next):
            if marker in text:
                self.fail_next.remove(marker)
                raise NftError(f"refused: {marker}")
        self.applied.append(lines)

    async def list(self, *what: str) -> str | None:
        if what[0] == "chains":
            body = "".join(f"\tchain {c} {{\n\t}}\n" for c in sorted(self.chains))
            return f"table ip kybernetes-proxy-kt {{\n{body}}}\n"
        return ""

    async def has_object(self, *what: str) -> bool:
        return self.table_there


def service(name: str, ip: str, **spec) -> dict:
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"clusterIP": ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}}


def endpoint_slice(name: str, *ips: str) -> dict:
    return {"metadata": {"namespace": "default", "name": f"{name}-x", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": "n1"} for ip in ips]}


@pytest.fixture
def proxier() -> NftProxier:
    p = NftProxier(ProxyConfig(node_name="n1", cluster_cidr="10.42.0.0/16", chain_prefix="KT"), nft=FakeNft())
    p.services_synced = p.slices_synced = True
    return p


async def test_full_then_partial_sync_touches_only_the_changed_service(proxier: NftProxier):
    nft = proxier.nft
    for i in range(20):
        proxier.on_service(service(f"s{i}", f"10.43.0.{i + 1}"))
        proxier.on_slice(endpoint_slice(f"s{i}", f"10.42.0.{i + 1}", f"10.42.1.{i + 1}"))
    await proxier.sync()
    assert proxier.full_syncs == 1 and len(nft.applied) == 1
    full = nft.applied[0]
    assert any(line.startswith("add table ip kybernetes-proxy-kt") for line in full)
    assert sum(line.startswith("add chain ip kybernetes-proxy-kt ") and is_service_chain(line.split()[-1])
               for line in full) == 20

    proxier.on_slice(endpoint_slice("s7", "10.42.0.8"))
    await proxier.sync()
    assert proxier.full_syncs == 1 and proxier.syncs == 2
    chain = next(c for c in proxier._objects["default/s7"].chains)
    t = "ip kybernetes-proxy-kt"
    assert nft.applied[1] == [
        f"delete element {t} endpoint-hairpin {{ 10.42.1.8 . 10.42.1.8 }}",
        f"flush chain {t} {chain}",
        f"add rule {t} {chain} ip daddr 10.43.0.8 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
        f"add rule {t} {chain} meta l4proto tcp dnat to 10.42.0.8:8080",
    ]


async def test_deleting_a_service_deletes_its_elements_and_chains_in_the_same_transaction(proxier: NftProxier):
    proxier.on_service(service("a", "10.43.0.1", sessionAffinity="ClientIP"))
    proxier.on_slice(endpoint_slice("a", "10.42.0.1"))
    await proxier.sync()
    chains = list(proxier._objects["default/a"].chains)
    sets = list(proxier._objects["default/a"].sets)
    assert len(chains) == 2 and len(sets) == 1
    proxier.on_service_delete(service("a", "10.43.0.1"))
    await proxier.sync()
    lines = proxier.nft.applied[-1]
    t = "ip kybernetes-proxy-kt"
    assert lines[:2] == [f"delete element {t} service-ips {{ 10.43.0.1 . tcp . 80 }}",
                         f"delete element {t} endpoint-hairpin {{ 10.42.0.1 . 10.42.0.1 }}"]
    assert {f"delete chain {t} {c}" for c in chains} <= set(lines)
    assert f"delete set {t} {sets[0]}" in lines
    assert not any(line.startswith("add ") for line in lines)
    assert proxier._programmed == {} and proxier._elements == {}


async def test_an_address_claimed_twice_goes_to_one_service_then_to_the_other(proxier: NftProxier):
    lb = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    proxier.on_service(service("a", "10.43.0.1", type="LoadBalancer") | lb)
    proxier.on_service(service("b", "10.43.0.2", type="LoadBalancer") | lb)
    proxier.on_slice(endpoint_slice("a", "10.42.0.1"))
    proxier.on_slice(endpoint_slice("b", "10.42.0.2"))
    await proxier.sync()
    key = ("service-ips", "192.0.2.1 . tcp . 80")
    assert "/a/" in proxier._elements[key]
    full = proxier.nft.applied[0]
    assert sum("192.0.2.1 . tcp . 80" in line for line in full) == 1  # one element: no duplicate in the map
    proxier.on_service_delete(service("a", "10.43.0.1"))
    await proxier.sync()
    assert "/b/" in proxier._elements[key]
    lines = proxier.nft.applied[-1]
    assert any(line.startswith("add element") and "192.0.2.1 . tcp . 80 : goto external-" in line and "/b/" in line
               for line in lines)


async def test_failure_makes_the_next_sync_full_and_keeps_the_change_pending(proxier: NftProxier):
    proxier.on_service(service("a", "10.43.0.1"))
    await proxier.sync()
    retries: list[float] = []
    proxier.retry_after = retries.append
    proxier.nft.fail_next.append("10.42.0.9")
    proxier.on_slice(endpoint_slice("a", "10.42.0.9"))
    await proxier.sync()
    assert proxier.failures == 1 and not proxier.healthy and retries == [proxier.config.sync_period]
    assert "default/a" in proxier._pending
    await proxier.sync()
    assert proxier.full_syncs == 2 and proxier.healthy
    assert "goto service-" in proxier._elements[("service-ips", "10.43.0.1 . tcp . 80")]
    # the failed sync was a partial one: the full sync keeps the table (and its affinity state)
    assert "delete table ip kybernetes-proxy-kt" not in proxier.nft.applied[-1]


async def test_a_failed_full_sync_is_followed_by_one_that_rebuilds_the_table(proxier: NftProxier):
    proxier.on_service(service("a", "10.43.0.1"))
    proxier.nft.fail_next.append("add table")
    await proxier.sync()
    assert proxier.failures == 1 and proxier.full_syncs == 0
    await proxier.sync()
    t = "ip kybernetes-proxy-kt"
    assert proxier.nft.applied[-1][:2] == [f"add table {t}", f"delete table {t}"]
    assert proxier.full_syncs == 1
    proxier._need_full = True
    await proxier.sync()
    assert proxier.nft.applied[-1][1] != f"delete table {t}"


async def test_chains_the_kernel_will_not_delete_yet_are_flushed_now_and_deleted_next_time(proxier: NftProxier):
    proxier.on_service(service("a", "10.43.0.1"))
    proxier.on_slice(endpoint_slice("a", "10.42.0.1"))
    await proxier.sync()
    chain = next(iter(proxier._objects["default/a"].chains))
    proxier.nft.fail_next.append(f"delete chain ip kybernetes-proxy-kt {chain}")
    proxier.on_service_delete(service("a", "10.43.0.1"))
    await proxier.sync()
    assert proxier.failures == 0
    assert f"flush chain ip kybernetes-proxy-kt {chain}" in proxier.nft.applied[-1]
    assert not any(line.startswith("delete chain") for line in proxier.nft.applied[-1])
    proxier.on_service(service("b", "10.43.0.2"))
    await proxier.sync()
    assert f"delete chain ip kybernetes-proxy-kt {chain}" in proxier.nft.applied[-1]


async def test_full_sync_deletes_chains_no_service_wants(proxier: NftProxier):
    proxier.nft.chains = {"services", "service-0123ABCD-default/gone/tcp/http", "firewall-check"}
    proxier.on_service(service("a", "10.43.0.1"))
    await proxier.sync()
    lines = proxier.nft.applied[0]
    gone = "ip kybernetes-proxy-kt service-0123ABCD-default/gone/tcp/http"
    assert lines.index(f"flush chain {gone}") < lines.index(f"delete chain {gone}")
    assert not any("delete chain" in line and ("firewall-check" in line or line.endswith(" services"))
                   for line in lines)


async def test_health_checks_follow_the_services(proxier: NftProxier):
    lb = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    proxier.on_service(service("a", "10.43.0.1", type="LoadBalancer", externalTrafficPolicy="Local",
                               healthCheckNodePort=31000) | lb)
    proxier.on_slice(endpoint_slice("a", "10.42.0.1"))
    await proxier.sync()
    checks = proxier.health_checks()
    assert list(checks) == ["default/a"] and checks["default/a"].local_endpoints == 1


def test_cli_takes_the_two_modes_and_refuses_others():
    from click.testing import CliRunner

    from kybernetes.cli.proxy import proxy

    result = CliRunner().invoke(proxy, ["--proxy-mode", "ipvs"])
    assert result.exit_code == 2 and "'ipvs' is not one of 'iptables', 'nftables'" in result.output
    assert "--proxy-mode [iptables|nftables]" in CliRunner().invoke(proxy, ["--help"]).output


async def test_run_service_proxy_refuses_an_unknown_mode():
    from kybernetes.proxy.run import run_service_proxy

    with pytest.raises(ValueError, match="proxy mode 'ipvs'"):
        await run_service_proxy(None, ProxyConfig(), mode="ipvs")  # type: ignore[arg-type]


async def test_a_deleted_table_is_noticed_by_an_idle_sync_and_rewritten(proxier: NftProxier):
    proxier.on_service(service("a", "10.43.0.1"))
    await proxier.sync()
    await proxier.sync()  # idle: the table is there, nothing to do
    assert proxier.full_syncs == 1 and len(proxier.nft.applied) == 1
    proxier.nft.table_there = False
    await proxier.sync()
    assert proxier.full_syncs == 2 and proxier.nft.applied[-1][0].startswith("add table ip kybernetes-proxy-kt")


async def test_a_forced_full_sync_rewrites_everything_but_rederives_only_changed_services(proxier: NftProxier,
                                                                                         monkeypatch):
    for name, ip, ep in (("a", "10.43.0.1", "10.42.0.5"), ("b", "10.43.0.2", "10.42.0.6")):
        proxier.on_service(service(name, ip))
        proxier.on_slice(endpoint_slice(name, ep))
    await proxier.sync()
    derived: list[str] = []
    original = proxier._derive
    monkeypatch.setattr(proxier, "_derive", lambda key: (derived.append(key), original(key)))
    proxier.on_slice(endpoint_slice("b", "10.42.0.7"))
    proxier.force_full_sync()
    await proxier.sync()
    assert derived == ["default/b"] and proxier.full_syncs == 2
    text = "\n".join(proxier.nft.applied[-1])
    assert "10.42.0.5:8080" in text and "10.42.0.7:8080" in text and "10.42.0.6:8080" not in text


def test_gc_paused_restores_the_collector_as_it_was():
    import gc

    from kybernetes.proxy.gc_pause import gc_paused

    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
