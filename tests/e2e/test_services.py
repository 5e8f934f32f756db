"""Services on `kyb up`'s own node: the service proxy and the cluster DNS that `kyb up` runs beside
the kubelet (root; real pods as in test_real_pods.py). A pod reaches a Service by its short name
and by its cluster domain name, both backends answer, no backend is a refused connection, and a
NodePort is reachable from the host at 127.0.0.1; scaling to 0 refuses connections, scaling back
restores the service. The whole module runs once per proxy mode (nftables, iptables)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest

from .real_node_support import IMAGE, busybox_pod, condition, real_cluster, requirements_missing

pytestmark = pytest.mark.skipif(bool(requirements_missing()), reason=requirements_missing() or "ok")

SERVE_HOSTNAME = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


def _proxy_cleanup() -> None:
    from kybernetes.proxy import cleanup
    from kybernetes.proxy.iptables import Iptables, detect_backend

    asyncio.run(cleanup(Iptables(detect_backend("auto"))))


@pytest.fixture(scope="module", params=["nftables", "iptables"])
def rc(request, tmp_path_factory):
    try:
        with real_cluster(tmp_path_factory.mktemp("services"), "--proxy-mode", request.param) as cluster:
            yield cluster
            cluster.kubectl("delete", "services", "web", "web-nodeport", "--ignore-not-found", check=False)
    finally:
        _proxy_cleanup()  # the proxy's chains outlive it, as kube-proxy's do


@pytest.fixture(scope="module")
def web(rc):
    rc.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "web", "image": IMAGE, "command": ["sh", "-c", SERVE_HOSTNAME],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}}})
    rc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    rc.apply(busybox_pod("client", "sh", "-c", "sleep 3600"))
    rc.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    rc.wait_pod("client", lambda p: condition(p, "Ready") == "True", what="Ready")
    pods = json.loads(rc.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"] for p in pods}


def fetch(rc, url: str) -> tuple[int, str]:
    out = rc.kubectl("exec", "client", "--", "sh", "-c", f"timeout 5 wget -qO- {url} 2>&1", check=False, timeout=30)
    return out.returncode, out.stdout.strip()


def answers(rc, url: str, wanted: set[str], timeout: float = 30.0) -> set[str]:
    """Fetch ``url`` from the client pod until every one of ``wanted`` has answered."""
    seen: set[str] = set()
    last = ""
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        code, text = fetch(rc, url)
        if code == 0:
            seen.add(text)
        else:
            last = text
            time.sleep(0.3)
    assert wanted <= seen, f"{url}: answered by {seen}, wanted {wanted}; last failure: {last!r}"
    return seen


def test_the_client_pod_names_the_kube_dns_service_as_its_nameserver(rc, web):
    resolv = rc.kubectl("exec", "client", "--", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.43.0.10" in resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    service = json.loads(rc.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "json").stdout)
    assert service["spec"]["clusterIP"] == "10.43.0.10"


def test_a_service_reaches_both_backends_by_short_and_full_name(rc, web):
    assert answers(rc, "http://web", web) == web
    assert answers(rc, "http://web.default.svc.cluster.local", web) == web


def test_a_node_port_is_reachable_from_the_host(rc, web):
    rc.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-nodeport"}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    port = int(rc.kubectl("get", "service", "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout)
    assert 30000 <= port <= 32767
    seen: set[str] = set()
    error = None
    deadline = time.monotonic() + 30
    while not web <= seen and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                seen.add(response.read().decode().strip())
        except (OSError, urllib.error.URLError) as e:
            error = e
            time.sleep(0.3)
    assert web <= seen, f"127.0.0.1:{port}: answered by {seen}; last error {error}"


def test_a_service_without_endpoints_refuses_connections_until_scaled_back(rc, web):
    rc.kubectl("scale", "deployment/web", "--replicas=0")
    deadline = time.monotonic() + 40
    while True:
        code, text = fetch(rc, "http://web")
        if code != 0 and "refused" in text.lower():
            break
        assert time.monotonic() < deadline, f"still answered with no backends: {code} {text!r}"
        time.sleep(0.5)
    rc.kubectl("scale", "deployment/web", "--replicas=2")
    rc.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
    pods = json.loads(rc.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    back = {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}
    assert len(back) == 2 and not back & web
    assert answers(rc, "http://web", back) == back
    rc.kubectl("delete", "deployment/web", "pod/client", "--wait=true", timeout=90)
