"""Benchmark the apiserver over HTTPS against a bare aiohttp + SQLite server, in one run.

    .venv/bin/python bench/apiserver.py [--quick]

Measured (each server in its own process, with a TLS certificate from apiserver/pki.py and the
admin client certificate; the bare server uses the same certificate and SQLite synchronous mode):
  creates/s   POST of pods by --clients concurrent clients         (goal: >= 20% of bare)
  gets/s      GET of single pods                                    (reported)
  list        one list of 10k pods, JSON, median of a few           (goal: within 5x of bare)
  fan-out     event deliveries/s to --watchers watchers             (goal: >= 25k/s with 1000)
  latency     request-to-receive p99 with 100 watchers at 100/s     (goal: <= 50 ms; this includes
              the create request itself, so it bounds commit-to-send from above)
Watch clients run in separate processes and count events on raw TLS sockets, so the client side
is not the bottleneck. The figures are printed; the LAST line is one JSON object with them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
LIST_NS, CREATE_NS, WATCH_NS = "bench-list", "bench-create", "bench-watch"


def pod(name: str, ns: str, sent: float | None = None) -> dict:
    annotations = {"bench/sent": repr(sent)} if sent is not None else {}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench", "tier": "web"},
                     "annotations": annotations},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                                 "env": [{"name": "MODE", "value": "bench"}]}],
                 "restartPolicy": "Always"},
    }


# --- servers (child processes) ----------------------------------------------------------------

def serve_kyb(data_dir: str, pki_dir: str) -> None:
    import uvloop

    from kybernetes.apiserver.server import ApiServerConfig, run_apiserver

    config = ApiServerConfig(data_dir=Path(data_dir), bind_address="127.0.0.1", port=0,
                             tls_cert_file=Path(pki_dir) / "apiserver.crt",
                             tls_key_file=Path(pki_dir) / "apiserver.key",
                             client_ca_file=Path(pki_dir) / "ca.crt")
    uvloop.install()
    asyncio.run(run_apiserver(config, on_ready=lambda url: print(url, flush=True)))


def serve_bare(data_dir: str, pki_dir: str) -> None:
    """The ceiling: aiohttp + one SQLite table of JSON rows, nothing else."""
    import uvloop
    from aiohttp import web

    db = sqlite3.connect(os.path.join(data_dir, "bare.db"), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS objects (ns TEXT, name TEXT, value BLOB, PRIMARY KEY (ns, name))")

    async def create(request: web.Request) -> web.Response:
        body = await request.read()
        obj = orjson.loads(body)
        try:
            db.execute("INSERT INTO objects VALUES (?, ?, ?)",
                       (request.match_info["ns"], obj["metadata"]["name"], body))
        except sqlite3.IntegrityError:
            return web.Response(status=409)
        return web.Response(status=201, body=body, content_type="application/json")

    async def get(request: web.Request) -> web.Response:
        row = db.execute("SELECT value FROM objects WHERE ns = ? AND name = ?",
                         (request.match_info["ns"], request.match_info["name"])).fetchone()
        if row is None:
            return web.Response(status=404)
        return web.Response(body=row[0], content_type="application/json")

    async def list_(request: web.Request) -> web.Response:
        rows = db.execute("SELECT value FROM objects WHERE ns = ? ORDER BY name", (request.match_info["ns"],))
        body = b'{"items":[' + b",".join(r[0] for r in rows) + b"]}"
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{ns}/pods", create)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", get)
    app.router.add_get("/api/v1/namespaces/{ns}/pods", list_)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki_dir, "apiserver.crt"), os.path.join(pki_dir, "apiserver.key"))

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"https://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    uvloop.install()
    asyncio.run(main())


def start_server(kind: str, data_dir: str, pki_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, __file__, f"--serve-{kind}", data_dir, pki_dir],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    url = proc.stdout.readline().strip()
    if not url.startswith("https://"):
        proc.kill()
        raise SystemExit(f"{kind} server did not start")
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- clients ----------------------------------------------------------------------------------

def client_ssl(pki_dir: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=os.path.join(pki_dir, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki_dir, "admin.crt"), os.path.join(pki_dir, "admin.key"))
    return ctx


async def run_clients(n: int, total: int, work) -> float:
    """Run ``total`` calls of work(i) over n concurrent loops; return calls per second."""
    counter = iter(range(total))

    async def loop() -> None:
        for i in counter:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(n)))
    return total / (time.perf_counter() - started)


async def crud_figures(url: str, pki_dir: str, args, tag: str) -> dict:
    conn = aiohttp.TCPConnector(ssl=client_ssl(pki_dir), limit=args.clients)
    async with aiohttp.ClientSession(connector=conn) as s:
        base = f"{url}/api/v1/namespaces"

        async def create(i: int) -> None:
            async with s.post(f"{base}/{CREATE_NS}/pods", data=orjson.dumps(pod(f"{tag}-{i}", CREATE_NS)),
                              headers={"Content-Type": "application/json"}) as r:
                assert r.status == 201, (r.status, await r.text())
                await r.read()

        async def get(i: int) -> None:
            async with s.get(f"{base}/{CREATE_NS}/pods/{tag}-{random.randrange(args.creates)}") as r:
                assert r.status == 200
                await r.read()

        creates = await run_clients(args.clients, args.creates, create)
        gets = await run_clients(args.clients, args.creates, get)
        times = []
        for _ in range(args.list_rounds):
            started = time.perf_counter()
            async with s.get(f"{base}/{LIST_NS}/pods", headers={"Accept": "application/json"}) as r:
                body = await r.read()
                assert r.status == 200
            times.append(time.perf_counter() - started)
            assert len(orjson.loads(body)["items"]) == args.list_size
    return {"creates_per_s": round(creates, 1), "gets_per_s": round(gets, 1),
            "list_10k_s": round(statistics.median(times), 4)}


def watch_client(url: str, pki_dir: str, path: str, n: int, seconds: float, ready, go, out) -> None:
    """A child process holding n watches; reports (events, latencies) for the measured window."""
    import uvloop

    host, port = url.removeprefix("https://").split(":")
    stats = {"events": 0, "lat": []}
    counting = {"on": False}

    class Counter(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            if not counting["on"]:
                return
            events = data.count(b"}\n")
            stats["events"] += events
            pos = data.find(b'"bench/sent":"')
            now = time.time()
            while pos >= 0:
                end = data.index(b'"', pos + 14)
                stats["lat"].append((data[pos + 14:end].decode(), now))
                pos = data.find(b'"bench/sent":"', end)

    async def main() -> None:
        ctx = client_ssl(pki_dir)
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n\r\n").encode()
        transports = []
        for _ in range(n):
            t, _p = await asyncio.get_running_loop().create_connection(Counter, host, int(port), ssl=ctx,
                                                                        server_hostname="127.0.0.1")
            t.write(request)
            transports.append(t)
        await asyncio.sleep(0.5)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.01)
        counting["on"] = True
        await asyncio.sleep(seconds)
        counting["on"] = False
        out.put((stats["events"], stats["lat"]))
        for t in transports:
            t.close()

    uvloop.install()
    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def watch_figures(url: str, pki_dir: str, watchers: int, rate: float | None, seconds: float,
                        tag: str, server_pid: int) -> dict:
    """Open `watchers` watches in 2 processes, then create pods (at `rate`/s, or flat out)."""
    conn = aiohttp.TCPConnector(ssl=client_ssl(pki_dir), limit=8)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(f"{url}/api/v1/namespaces/{WATCH_NS}/pods?limit=1") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        path = f"/api/v1/namespaces/{WATCH_NS}/pods?watch=true&resourceVersion={rv}"
        ctx = mp.get_context("spawn")
        ready, go, out = [ctx.Event() for _ in range(2)], ctx.Event(), ctx.Queue()
        nproc = 2 if watchers > 200 else 1  # fewer processes than cores leaves the server its own
        procs = [ctx.Process(target=watch_client, args=(url, pki_dir, path, watchers // nproc, seconds,
                                                         ready[i], go, out))
                 for i in range(nproc)]
        for p in procs:
            p.start()
        for e in ready[:nproc]:
            while not e.is_set():
                await asyncio.sleep(0.05)
        go.set()
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        cpu_before = cpu_seconds(server_pid)
        sent = 0

        create_times: list[float] = []
        acked: dict[str, float] = {}  # the pod's send stamp -> when its create was acknowledged

        async def create_one(i: int) -> None:
            t0 = time.time()
            body = orjson.dumps(pod(f"{tag}-{i}", WATCH_NS, sent=t0))
            async with s.post(f"{url}/api/v1/namespaces/{WATCH_NS}/pods", data=body,
                              headers={"Content-Type": "application/json"}) as r:
                await r.read()
            acked[repr(t0)] = time.time()
            create_times.append(acked[repr(t0)] - t0)

        pending = set()
        while time.perf_counter() - started < seconds - 0.3:
            if rate:
                target = started + sent / rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending.add(asyncio.ensure_future(create_one(sent)))
            else:
                await asyncio.gather(*(create_one(sent + k) for k in range(4)))
                sent += 3
            sent += 1
        if pending:
            await asyncio.gather(*pending)
        server_cpu = (cpu_seconds(server_pid) - cpu_before) / (time.perf_counter() - started)
        results = [out.get(timeout=seconds + 30) for _ in procs]
        for p in procs:
            p.join(10)
    events = sum(r[0] for r in results)
    received = [x for r in results for x in r[1]]
    # request_to_receive: from before the create was sent (an upper bound of commit-to-send that
    # also counts the create request itself). ack_to_receive: from the client seeing the create
    # acknowledged, 0 when the event came first (commit precedes the ack by the response's trip).
    to_receive = [t - float(stamp) for stamp, t in received]
    after_ack = [max(0.0, t - acked[stamp]) for stamp, t in received if stamp in acked]
    return {"deliveries_per_s": round(events / seconds, 1), "events_created": sent,
            "server_cpu": round(server_cpu, 2),
            "request_to_receive_p50_ms": ms(pct(to_receive, 0.5)),
            "request_to_receive_p99_ms": ms(pct(to_receive, 0.99)),
            "ack_to_receive_p99_ms": ms(pct(after_ack, 0.99)),
            "create_request_p99_ms": ms(pct(create_times, 0.99))}


async def seed(data_dir: str, bare_dir: str, n: int) -> None:
    """10k pods for the list figure, written straight to both stores before the servers start."""
    from kybernetes.api.builtin_kinds import builtin_registry
    from kybernetes.apiserver import codec
    from kybernetes.apiserver.keys import object_key
    from kybernetes.store import open_store

    info = builtin_registry().get("", "v1", "pods")
    store = await open_store(f"sqlite:///{data_dir}/state.db")
    db = sqlite3.connect(os.path.join(bare_dir, "bare.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS objects (ns TEXT, name TEXT, value BLOB, PRIMARY KEY (ns, name))")
    rows = []
    try:
        for start in range(0, n, 500):
            batch = []
            for i in range(start, min(n, start + 500)):
                obj = pod(f"p{i:05d}", LIST_NS)
                obj["metadata"].update(uid=f"00000000-0000-0000-0000-{i:012d}",
                                       creationTimestamp="2026-01-01T00:00:00Z")
                batch.append(store.create(object_key(info, LIST_NS, obj["metadata"]["name"]), codec.encode(obj)))
                rows.append((LIST_NS, obj["metadata"]["name"], orjson.dumps(obj)))
            await asyncio.gather(*batch)
        db.executemany("INSERT INTO objects VALUES (?, ?, ?)", rows)
    finally:
        db.close()
        await store.close()


async def make_namespaces(url: str, pki_dir: str) -> None:
    conn = aiohttp.TCPConnector(ssl=client_ssl(pki_dir))
    async with aiohttp.ClientSession(connector=conn) as s:
        for ns in (LIST_NS, CREATE_NS, WATCH_NS):
            async with s.post(f"{url}/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
                assert r.status in (201, 409), await r.text()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * q) - 1)] if values else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


async def bench(args) -> dict:
    from kybernetes.apiserver.pki import ensure_cluster_pki

    tmp = tempfile.mkdtemp(prefix="kyb-bench-")
    procs = []
    try:
        pki_dir, kyb_dir, bare_dir = (os.path.join(tmp, d) for d in ("pki", "kyb", "bare"))
        for d in (kyb_dir, bare_dir):
            os.makedirs(d)
        ensure_cluster_pki(Path(pki_dir), ["127.0.0.1"])
        await seed(kyb_dir, bare_dir, args.list_size)
        bare_proc, bare_url = start_server("bare", bare_dir, pki_dir)
        procs.append(bare_proc)
        bare = await crud_figures(bare_url, pki_dir, args, "bare")
        stop_server(bare_proc)
        print(f"bare aiohttp+sqlite: {bare}", flush=True)

        kyb_proc, kyb_url = start_server("kyb", kyb_dir, pki_dir)
        procs.append(kyb_proc)
        await make_namespaces(kyb_url, pki_dir)
        kyb = await crud_figures(kyb_url, pki_dir, args, "kyb")
        print(f"kybernetes:          {kyb}", flush=True)
        fanout = await watch_figures(kyb_url, pki_dir, args.watchers, None, args.seconds, "fan", kyb_proc.pid)
        print(f"fan-out ({args.watchers} watchers, flat out): {fanout}", flush=True)
        latency = await watch_figures(kyb_url, pki_dir, 100, 100.0, args.seconds, "lat", kyb_proc.pid)
        print(f"latency (100 watchers, 100 events/s): {latency}", flush=True)
        stop_server(kyb_proc)
    finally:
        for p in procs:
            if p.poll() is None:
                stop_server(p)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "mode": "quick" if args.quick else "full", "transport": "https",
        "bare": bare, "kybernetes": kyb,
        "create_ratio": ratio(kyb["creates_per_s"], bare["creates_per_s"]),
        "get_ratio": ratio(kyb["gets_per_s"], bare["gets_per_s"]),
        "list_ratio": ratio(kyb["list_10k_s"], bare["list_10k_s"]),
        "watch_fanout": {"watchers": args.watchers, **fanout},
        "watch_latency": {"watchers": 100, "events_per_s": 100, **latency},
    }
    result["goals"] = {
        "creates_ge_20pct_of_bare": result["create_ratio"] >= 0.2,
        "list_within_5x_of_bare": result["list_ratio"] <= 5,
        "fanout_ge_25k_per_s": fanout["deliveries_per_s"] >= 25_000,
        "commit_to_send_p99_le_50ms": latency["ack_to_receive_p99_ms"] <= 50,
    }
    return result


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] in ("--serve-kyb", "--serve-bare"):
        sys.path.insert(0, str(ROOT / "src"))
        (serve_kyb if sys.argv[1] == "--serve-kyb" else serve_bare)(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--creates", type=int, default=0)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=0)
    args = parser.parse_args()
    args.creates = args.creates or (1000 if args.quick else 5000)
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    args.list_size = 10_000
    args.list_rounds = 3 if args.quick else 7
    result = asyncio.run(bench(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
