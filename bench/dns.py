"""Benchmark the cluster DNS server at 1k services beside a minimal dnslib server, in one run.

    .venv/bin/python bench/dns.py [--quick] [--services 1000] [--clients 2] [--concurrency 16]

Measured (each server in its own process; load from --clients processes, each keeping
--concurrency UDP queries in flight, closed loop, for --seconds):
  kyb         A queries for random <svc>.bench.svc.cluster.local among --services Services that a
              real apiserver (in the server's process) holds, answered from the informer cache
  kyb-srv     SRV queries for _http._tcp.<svc>... (bigger answers, additional records)
  kyb-cached  A queries for names outside the cluster, answered from the forwarder's cache
  baseline    the same A queries against a minimal server on the same stack (uvloop, dnslib)
              that parses each query and answers one static record: what any Python server built
              on this wire-format library pays per query before it knows anything
For each: queries/s, p50 and p99 latency (ms), and answers that were wrong or lost. The load
runs on loopback rather than from a pod, so the figures are the server's, not the pod network's.
The figures are printed; the LAST line is one JSON object with them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import statistics
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

NS = "bench"


# --- servers (child processes) ----------------------------------------------------------------

def serve_kyb(services: int, ready, stop) -> None:
    import uvloop
    from tests.dns.fake_upstream import FakeUpstream

    from kybernetes.client.resource import NAMESPACES, SERVICES
    from kybernetes.dns import ClusterDns, DnsConfig
    from kybernetes.testing.apiserver import TestApiServer

    async def main() -> None:
        async with FakeUpstream() as upstream, TestApiServer() as srv, srv.client() as client:
            await client.create(NAMESPACES, {"metadata": {"name": NS}})
            gate = asyncio.Semaphore(32)

            async def create(i: int) -> None:
                async with gate:
                    ip = f"10.43.{100 + i // 250}.{i % 250 + 1}"  # clear of allocated IPs
                    await client.create(SERVICES, {"metadata": {"name": f"svc-{i}"}, "spec": {
                        "clusterIP": ip, "clusterIPs": [ip],
                        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}, NS)

            await asyncio.gather(*(create(i) for i in range(services)))
            config = DnsConfig(host="127.0.0.1", port=0, upstreams=[("127.0.0.1", upstream.port)])
            async with ClusterDns(client, config) as dns:
                while sum(1 for key in dns.records.services if key[0] == NS) < services:
                    await asyncio.sleep(0.05)
                ready.put(dns.address[1])
                while not stop.is_set():
                    await asyncio.sleep(0.1)

    uvloop.run(main())


def serve_baseline(ready, stop) -> None:
    """A minimal dnslib server on the same event loop (uvloop): parse, one static A record, pack."""
    import uvloop
    from dnslib import QTYPE, RR, A, DNSRecord

    class Static(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            request = DNSRecord.parse(data)
            reply = request.reply()
            reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=5, rdata=A("10.43.0.1")))
            self.transport.sendto(reply.pack(), addr)

    async def main() -> None:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Static, local_addr=("127.0.0.1", 0))
        ready.put(transport.get_extra_info("sockname")[1])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        transport.close()

    uvloop.run(main())


# --- load (child processes) -----------------------------------------------------------------------

def load(port: int, names: list[str], qtype: str, concurrency: int, seconds: float, results) -> None:
    import uvloop
    from dnslib import DNSRecord

    packed = [DNSRecord.question(n, qtype).pack() for n in names]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        waiting: dict[int, asyncio.Future[bytes]] = {}

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                fut = waiting.pop(struct.unpack("!H", data[:2])[0], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
        latencies: list[float] = []
        bad = lost = 0
        next_id = random.randrange(65536)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal bad, lost, next_id
            while time.perf_counter() < deadline:
                next_id = (next_id + 1) % 65536
                message_id = next_id
                query = struct.pack("!H", message_id) + random.choice(packed)[2:]
                fut = loop.create_future()
                waiting[message_id] = fut
                started = time.perf_counter()
                transport.sendto(query)
                try:
                    data = await asyncio.wait_for(fut, 1.0)
                except TimeoutError:
                    waiting.pop(message_id, None)
                    lost += 1
                    continue
                latencies.append(time.perf_counter() - started)
                # Header only (rcode, answer count): parsing whole replies would make the load
                # generator, not the server, the bottleneck.
                if data[3] & 0x0F != 0 or struct.unpack("!H", data[6:8])[0] == 0:
                    bad += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        transport.close()
        results.put({"latencies": latencies, "bad": bad, "lost": lost})

    uvloop.run(main())


def measure(ctx, port: int, names: list[str], qtype: str, args) -> dict:
    results = ctx.Queue()
    procs = [ctx.Process(target=load, args=(port, names, qtype, args.concurrency, args.seconds, results))
             for _ in range(args.clients)]
    for p in procs:
        p.start()
    parts = [results.get(timeout=args.seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for part in parts for x in part["latencies"])
    if not latencies:
        return {"qps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "bad": 0, "lost": sum(p["lost"] for p in parts)}
    return {
        "qps": round(len(latencies) / args.seconds, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 3),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
        "bad": sum(p["bad"] for p in parts),
        "lost": sum(p["lost"] for p in parts),
    }


def wait_ready(ready, proc, timeout: float) -> int:
    """The port a server child reports, or exit at once if that child died first."""
    import queue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return ready.get(timeout=0.2)
        except queue.Empty:
            if not proc.is_alive():
                raise SystemExit(f"bench server {proc.name} exited with {proc.exitcode} before it was ready") from None
    raise SystemExit(f"bench server {proc.name} not ready after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (under a minute in all)")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=0.0)
    args = parser.parse_args()
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)

    ctx = mp.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Queue()
    started = time.perf_counter()
    kyb = ctx.Process(target=serve_kyb, args=(args.services, ready, stop), daemon=True)
    base = ctx.Process(target=serve_baseline, args=(ready, stop), daemon=True)
    kyb.start()
    kyb_port = wait_ready(ready, kyb, 180)
    setup_s = time.perf_counter() - started
    base.start()
    base_port = wait_ready(ready, base, 30)
    try:
        services = [f"svc-{i}.{NS}.svc.cluster.local" for i in range(args.services)]
        result: dict = {"services": args.services, "clients": args.clients, "concurrency": args.concurrency,
                        "seconds": args.seconds, "setup_s": round(setup_s, 2)}
        for label, port, names, qtype in (
                ("kyb", kyb_port, services, "A"),
                ("kyb_srv", kyb_port, ["_http._tcp." + n for n in services], "SRV"),
                ("kyb_cached", kyb_port, [f"host-{i}.example.test" for i in range(100)], "A"),
                ("baseline", base_port, services, "A")):
            figures = measure(ctx, port, names, qtype, args)
            result[label] = figures
            print(f"{label:11s} {figures['qps']:>9.0f} q/s   p50 {figures['p50_ms']:.2f} ms   "
                  f"p99 {figures['p99_ms']:.2f} ms   bad {figures['bad']}  lost {figures['lost']}", flush=True)
        if result["baseline"]["qps"]:
            result["kyb_vs_baseline"] = round(result["kyb"]["qps"] / result["baseline"]["qps"], 2)
            print(f"kyb / baseline: {result['kyb_vs_baseline']:.2f}x queries/s")
    finally:
        stop.set()
        for p in (kyb, base):
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
