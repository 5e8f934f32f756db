"""The proxier's sync decisions against a recording iptables: full vs partial, staging, stale chains."""

from __future__ import annotations

from kybernetes.proxy.proxier import Proxier, ProxyConfig
from kybernetes.proxy.sync_runner import SyncRunner
from kybernetes.util.clock import FakeClock


class RecordingIptables:
    def __init__(self):
        self.batches: list[list[str]] = []
        self.nat_chains: set[str] = set()

    async def restore(self, lines):
        self.batches.append(list(lines))

    async def chain_names(self, table):
        return set(self.nat_chains)

    async def list_chain(self, table, chain):
        return []


def svc(i: int) -> dict:
    return {"metadata": {"namespace": "ns", "name": f"s{i}"},
            "spec": {"clusterIP": f"10.43.0.{i + 1}", "ports": [{"name": "p", "port": 80}]}}


def eps(i: int, count: int) -> dict:
    return {"metadata": {"namespace": "ns", "name": f"s{i}-x", "labels": {"kubernetes.io/service-name": f"s{i}"}},
            "addressType": "IPv4", "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.42.{i}.{e + 1}"]} for e in range(count)]}


def loaded(n: int, **config) -> tuple[Proxier, RecordingIptables]:
    ipt = RecordingIptables()
    p = Proxier(ipt, ProxyConfig(localhost_nodeports=False, **config), conntrack=None)
    p.conntrack.binary = None
    for i in range(n):
        p.on_service(svc(i))
        p.on_slice(eps(i, 3))
    p.services_synced = p.slices_synced = True
    return p, ipt


async def test_first_sync_is_full_with_jumps_then_partial_syncs_touch_only_the_changed_service():
    p, ipt = loaded(3)
    await p.sync()
    assert p.full_syncs == 1 and len(ipt.batches) == 1
    text = "\n".join(ipt.batches[0])
    assert "-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES" in text
    assert ":KUBE-PROXY-CANARY - [0:0]" in text and text.count("-j DNAT") == 9

    p.on_slice(eps(1, 2))  # one endpoint of s1 goes away
    await p.sync()
    assert p.full_syncs == 1 and len(ipt.batches) == 2
    partial = ipt.batches[1]
    dnat = [line for line in partial if "-j DNAT" in line]
    assert len(dnat) == 2 and all("ns/s1:p" in line for line in dnat)
    deleted = [line for line in partial if line.startswith("-X ")]
    assert len(deleted) == 1 and deleted[0].startswith("-X KUBE-SEP-")
    # every service still has its cluster-IP line (the top-level chains are rewritten each time)
    assert sum("cluster IP\" -m tcp -p tcp -d 10.43.0." in line and line.startswith("-A KUBE-SERVICES")
               for line in partial) == 3
    assert not any(line.startswith("-I ") for line in partial)

    p.on_service_delete(svc(2))
    await p.sync()
    last = ipt.batches[2]
    assert len([line for line in last if line.startswith("-X ")]) == 4  # SVC + 3 SEP


async def test_a_large_full_sync_is_staged_in_batches_top_level_first():
    p, ipt = loaded(20, chunk_chains=10)  # 20 services x 4 chains, 3 services a batch
    await p.sync()
    first, *middle, final = ipt.batches
    assert first == ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]",
                     ":KUBE-MARK-MASQ - [0:0]", "COMMIT"]
    assert len(middle) == 7 and all(b[0] == "*nat" and not any("KUBE-SERVICES" in line for line in b) for b in middle)
    assert final[0] == "*filter" and sum(line.startswith("-A KUBE-SERVICES") and "cluster IP" in line
                                         for line in final) == 20


async def test_stale_chains_found_on_a_full_sync_are_deleted():
    p, ipt = loaded(1)
    ipt.nat_chains = {"KUBE-SVC-OLDOLDOLDOLDOLDO", "KUBE-SERVICES", "OTHER-CHAIN"}
    await p.sync()
    assert "-X KUBE-SVC-OLDOLDOLDOLDOLDO" in ipt.batches[0]
    assert not any("OTHER-CHAIN" in line for line in ipt.batches[0])


async def test_sync_runner_rate_limits_bursts_and_runs_periodically():
    clock = FakeClock()
    runs: list[float] = []

    async def fn():
        runs.append(clock.now())

    runner = SyncRunner(fn, min_interval=1.0, max_interval=30.0, burst=2, clock=clock)
    import asyncio

    task = asyncio.create_task(runner.run())
    try:
        for _ in range(5):
            runner.request()
            await clock.advance(0.01)
        await clock.advance(0.01)
        assert len(runs) == 2  # the burst
        await clock.advance(1.0)
        assert len(runs) == 3  # then one per min_interval, the requests folded into it
        await clock.advance(5.0)
        assert len(runs) == 3
        await clock.advance(30.0)
        assert len(runs) == 4  # the periodic run
    finally:
        task.cancel()
