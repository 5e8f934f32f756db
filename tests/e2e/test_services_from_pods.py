"""Services and cluster DNS as a pod and the host see them, on `kyb up`'s real node (root).

One `kyb up` for the module, its DNS forwarding to a resolver this test runs on loopback
(--dns-upstream). Three HTTP servers answer with their pod names behind Services; a client pod
asks them with busybox wget and nslookup:

- repeated requests reach all three backends; with sessionAffinity ClientIP always the same one;
- a backend whose readiness probe starts failing (its /ready file removed) stops receiving
  traffic within seconds, and receives again once the file is back;
- a LoadBalancer gets the node's address in status.loadBalancer.ingress and answers there from
  the host; with externalTrafficPolicy Local its healthCheckNodePort says how many endpoints run
  here (200) or that none do (503); a hostPort answers at 127.0.0.1;
- DNS from the pod: A, SRV, PTR, a headless StatefulSet's pods by <pod>.<svc>, ExternalName as
  CNAME, NXDOMAIN in the cluster domain, other names forwarded to the upstream;
- deleting every Service leaves none of our service chains behind.

The proxy runs in `kyb up`'s default mode; KYB_E2E_PROXY_MODE=iptables|nftables picks another
(test_services.py runs both).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from kybernetes.cli.proxy import DEFAULT_PROXY_MODE
from kybernetes.proxy.nft_rules import HAIRPIN, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, is_service_chain
from kybernetes.proxy.nft_table import DEFAULT_TABLE
from tests.dns.fake_upstream import FakeUpstream

from .real_node_support import IMAGE, busybox_pod, condition, real_cluster, requirements_missing

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")

SERVE = "mkdir -p /www && hostname > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www"
READINESS = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}
ZONE = "default.svc.cluster.local"
# From the probe failing to the proxy no longer sending traffic: probe period (1 s) + status
# update + EndpointSlice + proxy min sync (1 s); generous for a busy 2-core machine.
READINESS_BUDGET = 8.0
PROXY_MODE = os.environ.get("KYB_E2E_PROXY_MODE") or DEFAULT_PROXY_MODE


# -- the module's cluster ----------------------------------------------------------------------------


class UpstreamThread:
    """tests/dns's fake upstream resolver on 127.0.0.1, served from a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.fake = FakeUpstream()

    def __enter__(self) -> FakeUpstream:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _proxy_cleanup() -> None:
    from kybernetes.proxy import cleanup
    from kybernetes.proxy.iptables import Iptables, detect_backend

    asyncio.run(cleanup(Iptables(detect_backend("auto"))))


def free_local_port(low: int = 20000, high: int = 29999) -> int:
    """A TCP port nobody on the host listens on (a Service port on 127.0.0.1 DNATs it away)."""
    while True:
        port = random.randint(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@pytest.fixture(scope="module")
def upstream():
    with UpstreamThread() as fake:
        yield fake


@pytest.fixture(scope="module")
def rc(tmp_path_factory, upstream):
    try:
        with real_cluster(tmp_path_factory.mktemp("svc-pods"), "--dns-upstream", f"127.0.0.1:{upstream.port}",
                          "--proxy-mode", PROXY_MODE) as cluster:
            try:
                yield cluster
            finally:
                # StatefulSets would recreate the pods real_cluster's teardown deletes.
                cluster.kubectl("delete", "statefulsets", "--all", "--wait=true", "--timeout=60s", check=False,
                                timeout=90)
        # The teardown ran the proxy's cleanup (as uninstall does): not one chain of ours is left.
        assert [line for line in iptables_save() if "KUBE-" in line] == []
        assert nft_table() is None, f"the nftables table {DEFAULT_TABLE} outlived the cleanup"
    finally:
        _proxy_cleanup()


def iptables_save(tables: tuple[str, ...] = ("nat", "filter")) -> list[str]:
    lines = []
    for table in tables:
        out = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True).stdout
        lines += [f"{table}: {line}" for line in out.splitlines()]
    return lines


def deployment(name: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": IMAGE, "command": ["sh", "-c", SERVE],
                            "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": READINESS}]}}}}


def service(name: str, selector: str = "web", port: int = 80, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {
        "selector": {"app": selector}, "ports": [{"name": "http", "port": port, "targetPort": 8080}], **spec}}


@pytest.fixture(scope="module")
def web(rc):
    """Three backends, their Services, a headless StatefulSet and a client pod, all started together."""
    rc.apply(deployment("web", 3))
    rc.apply(service("web"))
    rc.apply(service("web-sticky", sessionAffinity="ClientIP"))
    rc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {
        "clusterIP": "None", "selector": {"app": "db"}, "ports": [{"name": "http", "port": 80}]}})
    rc.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {
        "serviceName": "db", "replicas": 2, "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "db", "image": IMAGE, "command": ["sleep", "3600"]}]}}}})
    rc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"}, "spec": {
        "type": "ExternalName", "externalName": "real.example.test"}})
    rc.apply(busybox_pod("client", "sleep", "3600"))
    rc.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    rc.wait_pod("client", lambda p: condition(p, "Ready") == "True", what="Ready")
    pods = json.loads(rc.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"] for p in pods}


# -- asking from the client pod ------------------------------------------------------------------


def in_client(rc, script: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return rc.kubectl("exec", "client", "--", "sh", "-c", script, check=False, timeout=timeout)


def fetch_many(rc, url: str, count: int) -> list[str]:
    """``count`` requests from the client pod in one exec; a failed one reads FAIL."""
    out = in_client(rc, f"for i in $(seq {count}); do timeout 5 wget -qO- {url} 2>/dev/null || echo FAIL; done")
    return out.stdout.split()


def reach_all(rc, url: str, wanted: set[str], timeout: float = 30.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        seen |= set(fetch_many(rc, url, 15)) - {"FAIL"}
    assert wanted <= seen, f"{url}: answered by {seen}, wanted {wanted}"
    return seen


def nslookup(rc, *args: str) -> tuple[int, str]:
    out = in_client(rc, f"timeout 10 nslookup {' '.join(args)} 2>&1", timeout=30)
    return out.returncode, out.stdout


def service_ip(rc, name: str) -> str:
    return rc.kubectl("get", "service", name, "-o", "jsonpath={.spec.clusterIP}").stdout.strip()


def host_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


def host_reach_all(url: str, wanted: set[str], timeout: float = 30.0) -> set[str]:
    seen: set[str] = set()
    error: object = None
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        try:
            seen.add(host_get(url)[1])
        except OSError as e:
            error = e
            time.sleep(0.3)
    assert wanted <= seen, f"{url}: answered by {seen}; last error {error}"
    return seen


# -- load balancing --------------------------------------------------------------------------------


def test_repeated_requests_reach_all_three_backends(rc, web):
    assert len(web) == 3
    assert reach_all(rc, "http://web", web) == web
    assert reach_all(rc, f"http://web.{ZONE}", web) == web


def test_a_backend_reaches_itself_through_its_service(rc, web):
    me = sorted(web)[-1]
    script = "for i in $(seq 20); do timeout 5 wget -qO- http://web 2>/dev/null || echo FAIL; done"
    answers = rc.kubectl("exec", me, "--", "sh", "-c", script, timeout=60).stdout.split()
    assert me in answers and "FAIL" not in answers, answers


def test_client_ip_affinity_always_answers_from_the_same_backend(rc, web):
    answers = fetch_many(rc, "http://web-sticky", 20)
    assert len(answers) == 20 and len(set(answers)) == 1 and answers[0] in web, answers


def test_a_backend_failing_readiness_stops_receiving_and_returns_when_ready(rc, web):
    victim = sorted(web)[0]
    others = web - {victim}
    rc.kubectl("exec", victim, "--", "rm", "/www/ready")
    start = time.monotonic()
    gone_after = None
    while time.monotonic() - start < 30:
        batch_start = time.monotonic() - start
        answers = set(fetch_many(rc, "http://web", 20))
        if victim not in answers and answers - {"FAIL"} <= others and answers - {"FAIL"}:
            gone_after = batch_start
            break
    assert gone_after is not None, f"{victim} still answers 30 s after its readiness probe started failing"
    assert gone_after <= READINESS_BUDGET, f"{victim} still received traffic {gone_after:.1f} s after failing"
    print(f"readiness: {victim} out of the rotation {gone_after:.1f} s after its probe file went")
    assert victim not in fetch_many(rc, "http://web", 20)
    pod = rc.pod(victim)
    assert condition(pod, "Ready") == "False"

    rc.kubectl("exec", victim, "--", "touch", "/www/ready")
    start = time.monotonic()
    reach_all(rc, "http://web", web, timeout=30)
    back_after = time.monotonic() - start
    print(f"readiness: {victim} back in the rotation after {back_after:.1f} s")
    assert back_after <= READINESS_BUDGET + 5, f"{victim} received traffic again only after {back_after:.1f} s"


# -- from the host: LoadBalancer, healthCheckNodePort, hostPort --------------------------------


def wait_ingress(rc, name: str, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = json.loads(rc.kubectl("get", "service", name, "-o", "json").stdout)
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if ingress:
            return ingress
        time.sleep(0.3)
    raise AssertionError(f"service {name} got no status.loadBalancer.ingress in {timeout}s")


def node_address(rc) -> str:
    node = json.loads(rc.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def test_a_load_balancer_gets_the_node_address_and_answers_there_from_the_host(rc, web):
    port = free_local_port()
    rc.apply(service("web-lb", port=port, type="LoadBalancer"))
    ingress = wait_ingress(rc, "web-lb")
    address = node_address(rc)
    assert [i["ip"] for i in ingress] == [address]
    assert ipaddress.ip_address(address).is_loopback, "kyb up --bind-address 127.0.0.1 puts the node there"
    assert host_reach_all(f"http://{address}:{port}/", web) == web


def test_health_check_node_port_counts_local_endpoints(rc, web):
    rc.apply(service("web-local", port=free_local_port(), type="LoadBalancer", externalTrafficPolicy="Local"))
    rc.apply(service("nobody-local", selector="nobody", port=free_local_port(), type="LoadBalancer",
                     externalTrafficPolicy="Local"))
    checks = {}
    for name in ("web-local", "nobody-local"):
        port = int(rc.kubectl("get", "service", name, "-o", "jsonpath={.spec.healthCheckNodePort}").stdout)
        assert 30000 <= port <= 32767
        checks[name] = port
    address = node_address(rc)

    def ask(port: int) -> tuple[int, dict]:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, text = host_get(f"http://{address}:{port}/healthz")
                return status, json.loads(text)
            except OSError:
                assert time.monotonic() < deadline, f"nothing listens on the health check port {port}"
                time.sleep(0.3)

    deadline = time.monotonic() + 20
    status, body = ask(checks["web-local"])
    while body.get("localEndpoints") != 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        status, body = ask(checks["web-local"])
    assert (status, body) == (200, {"service": {"namespace": "default", "name": "web-local"}, "localEndpoints": 3,
                                    "serviceProxyHealthy": True})
    status, body = ask(checks["nobody-local"])
    assert (status, body["localEndpoints"], body["service"]["name"]) == (503, 0, "nobody-local")


def test_a_host_port_answers_on_loopback(rc, web):
    host_port = free_local_port(10000, 19999)
    pod = busybox_pod("hostport", "sh", "-c", SERVE,
                      container={"ports": [{"containerPort": 8080, "hostPort": host_port}]})
    rc.apply(pod)
    rc.wait_pod("hostport", lambda p: (p.get("status") or {}).get("phase") == "Running", what="Running")
    assert host_reach_all(f"http://127.0.0.1:{host_port}/", {"hostport"}) == {"hostport"}
    rc.delete_pod("hostport")


# -- DNS from the pod -------------------------------------------------------------------------------


def test_dns_a_srv_and_ptr_from_a_pod(rc, web):
    ip = service_ip(rc, "web")
    code, out = nslookup(rc, f"web.{ZONE}")
    assert code == 0 and f"Address: {ip}" in out, out
    code, out = nslookup(rc, "-type=srv", f"_http._tcp.web.{ZONE}")
    assert code == 0 and f"service = 0 100 80 web.{ZONE}" in out, out
    reverse = ipaddress.ip_address(ip).reverse_pointer
    code, out = nslookup(rc, "-type=ptr", f"{reverse}.")
    assert code == 0 and f"{reverse}\tname = web.{ZONE}" in out, out


def test_dns_answers_for_a_new_service_within_moments(rc, web):
    rc.apply(service("fresh"))
    created = time.monotonic()
    ip = service_ip(rc, "fresh")
    while True:
        code, out = nslookup(rc, f"fresh.{ZONE}.")
        if code == 0 and f"Address: {ip}" in out:
            break
        assert time.monotonic() - created < 5, f"fresh.{ZONE} did not resolve to {ip} within 5 s: {out}"
        time.sleep(0.2)


def test_dns_resolves_a_headless_stateful_sets_pods_by_name(rc, web):
    for name in ("db-0", "db-1"):
        pod = rc.wait_pod(name, lambda p: condition(p, "Ready") == "True", what="Ready")
        pod_ip = pod["status"]["podIP"]
        deadline = time.monotonic() + 20
        while True:
            code, out = nslookup(rc, f"{name}.db.{ZONE}")
            if code == 0 and f"Address: {pod_ip}" in out:
                break
            assert time.monotonic() < deadline, f"{name}.db did not resolve to {pod_ip}: {out}"
            time.sleep(0.5)
    code, out = nslookup(rc, f"db.{ZONE}")
    ips = {rc.pod(n)["status"]["podIP"] for n in ("db-0", "db-1")}
    assert code == 0 and all(f"Address: {i}" in out for i in ips), out


def test_dns_external_name_is_a_cname_relayed_from_the_upstream(rc, web, upstream):
    code, out = nslookup(rc, f"ext.{ZONE}")
    assert code == 0 and "canonical name = real.example.test" in out and "Address: 192.0.2.7" in out, out


def test_dns_unknown_cluster_name_is_nxdomain(rc, web, upstream):
    code, out = nslookup(rc, f"nope.{ZONE}.")
    assert code != 0 and "NXDOMAIN" in out, out
    assert upstream.count(f"nope.{ZONE}") == 0, "names in the cluster domain are never forwarded"


def test_dns_other_names_are_forwarded_to_the_upstream(rc, web, upstream):
    before = upstream.count("hello.example.test")
    code, out = nslookup(rc, "hello.example.test.")
    assert code == 0 and "Address: 192.0.2.7" in out, out
    assert upstream.count("hello.example.test") > before
    code, out = nslookup(rc, "missing.example.test.")
    assert code != 0 and "NXDOMAIN" in out, out


# -- last: deleting every Service ---------------------------------------------------------------------


def our_service_lines() -> list[str]:
    """nat and filter lines of our chains that belong to a Service other than default/kubernetes
    (which the apiserver puts back as soon as it is deleted)."""
    lines = [line for line in iptables_save() if "KUBE-" in line]
    kubernetes_chains = {line.split()[2] for line in lines
                         if line.startswith("nat: -A KUBE-S") and '"default/kubernetes:https' in line
                         and line.split()[2].startswith(("KUBE-SVC-", "KUBE-SEP-"))}
    out = []
    for line in lines:
        words = line.split()
        chain = words[1][1:] if words[1].startswith(":") else (words[2] if words[1] == "-A" else "")
        if chain in kubernetes_chains or '"default/kubernetes:https' in line:
            continue
        if chain.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")):
            out.append(line)
        elif chain in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS") and "--comment" in line \
                and "kubernetes service nodeports" not in line:
            out.append(line)
    return out


def nft_table() -> dict | None:
    """The proxy's nftables table as ``nft -j`` lists it, by kind (chain, map, set...), or None."""
    out = subprocess.run(["nft", "-j", "list", "table", "ip", DEFAULT_TABLE], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    objects: dict[str, list[dict]] = {}
    for item in json.loads(out.stdout)["nftables"]:
        for kind, body in item.items():
            objects.setdefault(kind, []).append(body)
    return objects


def our_nft_service_objects(pod_cidr: str) -> list[str]:
    """The nftables mode's per-service chains, map elements and hairpin pairs that belong to a
    Service other than default/kubernetes (whose endpoint, the apiserver, is no pod)."""
    table = nft_table() or {}
    pods = ipaddress.ip_network(pod_cidr)
    out = [f"chain {c['name']}" for c in table.get("chain", [])
           if is_service_chain(c["name"]) and "default/kubernetes/" not in c["name"]]
    for found in table.get("map", []) + table.get("set", []):
        for elem in found.get("elem") or []:
            text = json.dumps(elem)
            if found["name"] == HAIRPIN:
                ips = [ipaddress.ip_address(a) for a in re.findall(r"\d+\.\d+\.\d+\.\d+", text)]
                if any(ip in pods for ip in ips):
                    out.append(f"{HAIRPIN}: {text}")
            elif found["name"] in (NO_ENDPOINT_SERVICES, NO_ENDPOINT_NODEPORTS) or "default/kubernetes/" not in text:
                out.append(f"{found['name']}: {text}")
    return out


def service_leftovers(rc) -> list[str]:
    if PROXY_MODE == "iptables":
        return our_service_lines()
    node = json.loads(rc.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
    return our_nft_service_objects(node["spec"]["podCIDR"])


def test_deleting_every_service_leaves_no_rule_of_ours(rc, web):
    found = rc.kubectl("get", "service", "web-local", "-o", "jsonpath={.spec.healthCheckNodePort}", check=False)
    checks = [int(found.stdout)] if found.returncode == 0 and found.stdout.strip() else []
    assert service_leftovers(rc), "the Services' rules should be there before they are deleted"
    rc.kubectl("delete", "services", "--all", "--all-namespaces", "--wait=true", timeout=60)
    deadline = time.monotonic() + 20
    left = service_leftovers(rc)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = service_leftovers(rc)
    assert left == [], "rules of deleted Services remain:\n" + "\n".join(left)
    deadline = time.monotonic() + 10
    for port in checks:  # the health listener closes in the same sync, possibly just after the rules go
        while True:
            try:
                host_get(f"http://{node_address(rc)}:{port}/healthz")
            except OSError:
                break
            assert time.monotonic() < deadline, f"healthCheckNodePort {port} still answers"
            time.sleep(0.3)
