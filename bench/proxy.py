"""Benchmark the service proxy's rule programming against a raw restore of the same rules.

    .venv/bin/python bench/proxy.py [--mode nftables|iptables] [--quick] [--sizes 1000,5000,10000]
                                    [--raw-cap SECONDS] [--repeat N] [--no-latency]

--mode nftables (default, as ``kyb proxy``): the figures below for the nftables proxier (a table
of its own, ip kybernetes-proxy-kb<hex>), "raw" being one ``nft -f`` of the complete rule set
into an empty table. --mode iptables: the same figures with iptables-restore.

Root only; every chain carries a random prefix of its own (KB<hex>) and is removed at the end.
For each size N (services with 5 endpoints each, as in the issue):
  raw          the complete rule set as ONE iptables-restore --noflush (capped at --raw-cap seconds;
               a capped run is killed, so nothing is committed, and reported as a lower bound)
  full sync    the proxier's full sync of the same services (staged in batches above
               chunk_chains chains)                                   goal: within 1.5x raw
               (nftables: --repeat raw/full pairs back to back, 3 by default; the median pair's
               ratio is the figure, every pair's is listed: the machine's load drifts between runs)
  one change   at the largest N: one endpoint removed from one service, partial sync, repeated
               on 7 services (p50 and max; then one service added, one deleted); the time
               from the informer event to the sync's end, our computation included. nftables:
               changes_over_netlink counts those committed without an nft process (nft_tool.py)
                                                                      goal: p50 <= 100 ms at 10k
Then network programming latency at 1k services (200 with --quick): a real apiserver in this
process, the ServiceProxy with its defaults (minSyncPeriod 1 s), endpoint changes at 5/s,
change written -> the sync carrying it finished; p50 and p99         goal: p50 <= 1 s
The LAST line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kybernetes.client.resource import ENDPOINTSLICES, NAMESPACES, SERVICES  # noqa: E402
from kybernetes.proxy import (  # noqa: E402
    Proxier,
    ProxyConfig,
    ServiceProxy,
    cleanup,
    rules_table,  # noqa: E402
)
from kybernetes.proxy.iptables import Iptables, IptablesError, chain_names  # noqa: E402
from kybernetes.proxy.names import ChainNames  # noqa: E402
from kybernetes.proxy.nft_proxier import NftProxier  # noqa: E402
from kybernetes.proxy.nft_table import Changes, render  # noqa: E402
from kybernetes.proxy.nft_tool import Nft, NftError  # noqa: E402

ENDPOINTS = 5
CHANGE_REPEATS = 7
LATENCY_SERVICE_CIDR = "10.97.0.0/16"


def service(i: int) -> dict:
    return {"metadata": {"namespace": "bench", "name": f"svc-{i}"},
            "spec": {"clusterIP": f"10.{96 + i // 65536}.{(i // 256) % 256}.{i % 256}",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def endpoint_slice(i: int, count: int = ENDPOINTS) -> dict:
    return {"metadata": {"namespace": "bench", "name": f"svc-{i}-x", "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.{200 + e}.{(i // 256) % 256}.{i % 256}"], "nodeName": "bench-node"}
                          for e in range(count)]}


def loaded_proxier(iptables: Iptables, prefix: str, n: int) -> Proxier:
    proxier = Proxier(iptables, ProxyConfig(node_name="bench-node", cluster_cidr="10.200.0.0/13",
                                            chain_prefix=prefix, localhost_nodeports=False))
    for i in range(n):
        proxier.on_service(service(i))
        proxier.on_slice(endpoint_slice(i))
    proxier.services_synced = proxier.slices_synced = True
    return proxier


async def remove_prefix(iptables: Iptables, prefix: str) -> None:
    """Our chains, flushed then deleted in batches (one huge batch is slow on iptables-nft), then the rest."""
    names = ChainNames(prefix)
    ours = sorted(c for c in chain_names(await iptables.save("nat")) if names.is_ours(c))
    for i in range(0, len(ours), 2000):
        await iptables.restore(rules_table.flush_only(ours[i:i + 2000]))
    chains = [c for c in ours if names.is_service_chain(c)]
    for i in range(0, len(chains), 2000):
        await iptables.restore(rules_table.delete_only(chains[i:i + 2000]))
    await cleanup(iptables, prefix)


async def raw_restore(iptables: Iptables, proxier: Proxier, cap: float) -> tuple[float | None, float]:
    """Seconds for one restore of the whole rule set (None when it ran past ``cap``)."""
    for key in list(proxier._services):
        proxier._derive(key, proxier._context())
    opts = proxier._table_options(canary=False)
    lines = rules_table.filter_table(opts, proxier._rules.values())
    lines += rules_table.nat_table(opts, proxier._rules, None)
    raw = Iptables(iptables.backend, timeout=cap)
    start = time.perf_counter()
    try:
        await raw.restore(lines)
    except TimeoutError:
        return None, time.perf_counter() - start
    return time.perf_counter() - start, time.perf_counter() - start


async def size_run(iptables: Iptables, n: int, cap: float, one_change: bool) -> dict:
    prefix = "KB" + secrets.token_hex(2).upper()
    out: dict = {"services": n, "endpoints": n * ENDPOINTS}
    try:
        proxier = loaded_proxier(iptables, prefix, n)
        raw, waited = await raw_restore(iptables, proxier, cap)
        out["raw_restore_s"] = round(raw, 3) if raw is not None else None
        if raw is None:
            out["raw_restore_over_s"] = round(waited, 1)
        await remove_prefix(iptables, prefix)
        proxier = loaded_proxier(iptables, prefix, n)
        start = time.perf_counter()
        await proxier.sync()
        out["full_sync_s"] = round(time.perf_counter() - start, 3)
        out["full_sync_batches"] = iptables.restores
        if raw:
            out["full_vs_raw"] = round(out["full_sync_s"] / raw, 2)
        if one_change:
            proxier.on_slice(endpoint_slice(n // 2, ENDPOINTS - 1))
            start = time.perf_counter()
            await proxier.sync()
            out["one_change_s"] = round(time.perf_counter() - start, 4)
            proxier.on_slice(endpoint_slice(n // 3, ENDPOINTS - 1))
            start = time.perf_counter()
            await proxier.sync()
            out["one_change_again_s"] = round(time.perf_counter() - start, 4)
    finally:
        await remove_prefix(iptables, prefix)
    return out


def loaded_nft_proxier(nft: Nft, prefix: str, n: int) -> NftProxier:
    proxier = NftProxier(ProxyConfig(node_name="bench-node", cluster_cidr="10.200.0.0/13",
                                     chain_prefix=prefix, localhost_nodeports=False), nft=nft)
    for i in range(n):
        proxier.on_service(service(i))
        proxier.on_slice(endpoint_slice(i))
    proxier.services_synced = proxier.slices_synced = True
    return proxier


async def nft_raw_apply(n: int, prefix: str, cap: float) -> tuple[int, float | None, float]:
    """One ``nft -f`` of the complete rule set into an empty table: (lines, seconds or None past cap, waited)."""
    proxier = loaded_nft_proxier(Nft(timeout=cap), prefix, n)
    for key in list(proxier._services):
        proxier._derive(key)
    everything = Changes(base=True, add_sets=dict(s for o in proxier._objects.values() for s in o.sets.items()),
                         add_chains=[c for o in proxier._objects.values() for c in o.chains],
                         rules={c: r for o in proxier._objects.values() for c, r in o.chains.items()},
                         add_elements={k: v for k in sorted(proxier._wanted)
                                       if (v := proxier._desired(k)) is not None})
    lines = render(proxier.opts, everything)
    start = time.perf_counter()
    try:
        await proxier.nft.apply(lines)
    except TimeoutError:
        return len(lines), None, time.perf_counter() - start
    return len(lines), time.perf_counter() - start, time.perf_counter() - start


async def nft_size_run(n: int, cap: float, one_change: bool, repeat: int = 1) -> dict:
    """The nftables figures of one size: raw nft -f and full sync (``repeat`` pairs, medians), then
    one-service changes."""
    from kybernetes.proxy.cleanup import cleanup_nft

    prefix = "KB" + secrets.token_hex(2).upper()
    out: dict = {"mode": "nftables", "services": n, "endpoints": n * ENDPOINTS}
    raws: list[float] = []
    fulls: list[float] = []
    ratios: list[float] = []
    try:
        for r in range(repeat):
            # raw then full sync, each into an empty table, back to back: a pair shares the machine's load
            out["nft_lines"], raw, waited = await nft_raw_apply(n, prefix, cap)
            await cleanup_nft(prefix=prefix)
            if raw is None:
                out["raw_restore_over_s"] = round(waited, 1)
            else:
                raws.append(raw)
            proxier = loaded_nft_proxier(Nft(), prefix, n)
            start = time.perf_counter()
            await proxier.sync()
            fulls.append(time.perf_counter() - start)
            if raw is not None:
                ratios.append(fulls[-1] / raw)
            out["full_sync_batches"] = proxier.nft.transactions
            if proxier.failures:
                out["failures"] = out.get("failures", 0) + proxier.failures
            if r < repeat - 1:
                await cleanup_nft(prefix=prefix)
        out["raw_restore_s"] = round(statistics.median(raws), 3) if raws else None
        out["full_sync_s"] = round(statistics.median(fulls), 3)
        if ratios:
            out["full_vs_raw"] = round(statistics.median(ratios), 2)  # the median pair's ratio
        if repeat > 1:
            out["full_vs_raw_each"] = [round(x, 2) for x in ratios]
        if one_change:
            # Each: one endpoint removed from another service, then the partial sync that writes it
            # (derive, diff, render, commit) - the change's full cost on our side and the kernel's.
            times = []
            for k in range(CHANGE_REPEATS):
                proxier.on_slice(endpoint_slice((n // 2 + k * 7919) % n, ENDPOINTS - 1))
                start = time.perf_counter()
                await proxier.sync()
                times.append(time.perf_counter() - start)
            out["one_change_s"], out["one_change_again_s"] = round(times[0], 4), round(times[1], 4)
            out["one_change_p50_s"] = round(statistics.median(times), 4)
            out["one_change_max_s"] = round(max(times), 4)
            out["one_change_lines"] = proxier.last_transaction_lines
            for label, obj, slice_ in (("one_new_service_s", service(n), endpoint_slice(n)),
                                       ("one_service_deleted_s", None, None)):
                if obj is not None:
                    proxier.on_service(obj)
                    proxier.on_slice(slice_)
                else:
                    proxier.on_service_delete(service(n))
                    proxier.on_slice_delete(endpoint_slice(n))
                start = time.perf_counter()
                await proxier.sync()
                out[label] = round(time.perf_counter() - start, 4)
            out["changes_over_netlink"] = f"{proxier.nft.netlink_transactions}/{CHANGE_REPEATS + 2}"
            if proxier.failures:
                out["failures"] = proxier.failures
            proxier.force_full_sync()
            start = time.perf_counter()
            await proxier.sync()
            out["full_resync_s"] = round(time.perf_counter() - start, 3)
    finally:
        await cleanup_nft(prefix=prefix)
    return out


async def latency_run(iptables: Iptables | None, n: int, changes: int, mode: str = "iptables") -> dict:
    import dataclasses

    from kybernetes.testing import TestApiServer

    class BenchApiServer(TestApiServer):
        """Cluster IPs from a range of the benchmark's own: a real cluster on this host (10.43.0.0/16
        by default) must never see its service addresses captured by the benchmark's rules."""

        def _config(self):
            return dataclasses.replace(super()._config(), service_cluster_ip_range=LATENCY_SERVICE_CIDR)

    prefix = "KB" + secrets.token_hex(2).upper()
    async with BenchApiServer() as srv:
        client = srv.client()
        await client.create(NAMESPACES, {"metadata": {"name": "bench"}})
        sem = asyncio.Semaphore(32)

        async def make(i: int) -> None:
            async with sem:
                body = service(i)
                body["spec"].pop("clusterIP")
                await client.create(SERVICES, body, "bench")
                await client.create(ENDPOINTSLICES, endpoint_slice(i), "bench")

        await asyncio.gather(*(make(i) for i in range(n)))
        config = ProxyConfig(node_name="bench-node", cluster_cidr="10.200.0.0/13", chain_prefix=prefix,
                             localhost_nodeports=False)
        proxy = ServiceProxy(client, config, iptables=iptables,
                             proxier=NftProxier(config) if mode == "nftables" else None)
        latencies: list[float] = []
        waiting: dict[str, float] = {}

        def listener(pending: dict[str, float], done: float) -> None:
            for key in pending:
                if key in waiting:
                    latencies.append(time.monotonic() - waiting.pop(key))

        proxy.proxier.listeners.append(listener)
        try:
            proxy.start()
            while proxy.proxier.syncs == 0:
                await asyncio.sleep(0.05)
            for c in range(changes):
                i = (c * 7919) % n
                current = await client.get(ENDPOINTSLICES, f"svc-{i}-x", "bench")
                current["endpoints"] = current["endpoints"][:-1] if len(current["endpoints"]) > 1 else \
                    endpoint_slice(i)["endpoints"]
                waiting[f"bench/svc-{i}"] = time.monotonic()
                await client.update(ENDPOINTSLICES, current, "bench")
                await asyncio.sleep(0.2)
            deadline = time.monotonic() + 15
            while waiting and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await proxy.stop()
            if mode == "nftables":
                from kybernetes.proxy.cleanup import cleanup_nft

                await cleanup_nft(prefix=prefix)
            else:
                await remove_prefix(iptables, prefix)
    latencies.sort()
    return {"mode": mode, "services": n, "changes": changes, "measured": len(latencies),
            "p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3) if latencies else None}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--sizes", default="", help="comma-separated service counts [1000,5000,10000]")
    parser.add_argument("--raw-cap", type=float, default=0, help="give up on the raw restore after this many s")
    parser.add_argument("--latency-services", type=int, default=0)
    parser.add_argument("--mode", choices=["iptables", "nftables"], default="nftables")
    parser.add_argument("--no-latency", action="store_true", help="skip the programming latency run")
    parser.add_argument("--repeat", type=int, default=0,
                        help="nftables: raw/full-sync pairs per size, medians reported [3; 1 with --quick]")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/proxy.py needs root (it programs iptables)")
    sizes = [int(s) for s in args.sizes.split(",") if s] or ([100, 300] if args.quick else [1000, 5000, 10000])
    cap = args.raw_cap or (20.0 if args.quick else 300.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    latency_n = args.latency_services or (200 if args.quick else 1000)
    iptables = Iptables() if args.mode == "iptables" else None
    result: dict = {"mode": args.mode, "backend": iptables.backend.mode if iptables else "nft",
                    "sizes": [], "quick": args.quick}
    for n in sizes:
        if iptables is not None:
            iptables.restores = 0
            figures = await size_run(iptables, n, cap, one_change=(n == max(sizes)))
        else:
            figures = await nft_size_run(n, cap, one_change=(n == max(sizes)), repeat=args.repeat)
        print(json.dumps(figures), flush=True)
        result["sizes"].append(figures)
    if not args.no_latency:
        result["latency"] = await latency_run(iptables, latency_n, 10 if args.quick else 50, args.mode)
        print(json.dumps(result["latency"]), flush=True)
    largest = result["sizes"][-1]
    result["goals"] = {
        "full_sync_within_1.5x_raw": all(s.get("full_vs_raw", 0) <= 1.5 or s.get("raw_restore_s") is None
                                         for s in result["sizes"]),
        "one_change_at_largest_le_100ms": largest.get("one_change_p50_s", largest.get("one_change_s", 1e9)) <= 0.1,
    }
    if "latency" in result:
        result["goals"]["p50_latency_le_1s"] = (result["latency"]["p50_s"] or 1e9) <= 1.0
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except IptablesError as e:
        sys.exit(f"iptables failed: {e}")
    except NftError as e:
        sys.exit(f"nft failed: {e}")
