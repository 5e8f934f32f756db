"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics for ``kubectl top``, read from kubelets.

Kubernetes serves this group from metrics-server behind the aggregator; here the apiserver
answers it itself, asking each node's kubelet for /stats/summary (its Summary API) when a
request comes in, so there is nothing to deploy:

    GET /apis/metrics.k8s.io/v1beta1/nodes[/{name}]                      NodeMetrics(List)
    GET /apis/metrics.k8s.io/v1beta1[/namespaces/{ns}]/pods[/{name}]     PodMetrics(List)

Usage is formatted as metrics-server formats it (cpu in nanocores "123n", memory in "Ki").
A kubelet that does not answer within a few seconds is left out, as metrics-server leaves out
nodes it could not scrape. ``labelSelector`` filters by the node's or pod's labels.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.api.selectors import parse_label_selector
from kybernetes.apiserver import streaming as st
from kybernetes.apiserver.listing import ListOptions, list_objects

log = logging.getLogger(__name__)

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
SCRAPE_TIMEOUT = 5.0
WINDOW = "10s"

NODE_METRICS = ResourceInfo(group=GROUP, version=VERSION, resource="nodes", kind="NodeMetrics", singular="",
                            namespaced=False, verbs=("get", "list"))
POD_METRICS = ResourceInfo(group=GROUP, version=VERSION, resource="pods", kind="PodMetrics", singular="",
                           namespaced=True, verbs=("get", "list"))

Obj = dict[str, Any]


def _cpu(stats: Obj | None) -> str:
    return f"{int((stats or {}).get('usageNanoCores') or 0)}n"


def _memory(stats: Obj | None) -> str:
    return f"{int((stats or {}).get('workingSetBytes') or 0) // 1024}Ki"


def _meta(obj: Obj, namespaced: bool) -> Obj:
    m = obj.get("metadata") or {}
    out = {"name": m.get("name", ""), "creationTimestamp": m.get("creationTimestamp")}
    if namespaced:
        out["namespace"] = m.get("namespace", "")
    if m.get("labels"):
        out["labels"] = m["labels"]
    return out


class MetricsApi:
    def __init__(self, objects, registry: Registry):
        self.objects = objects
        self.registry = registry

    async def _list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        info = self.registry.get("", "v1", resource)
        page = await list_objects(self.objects.store, info, namespace, ListOptions())
        return page.items

    async def _summary(self, session: aiohttp.ClientSession, node: Obj) -> Obj | None:
        name = node["metadata"]["name"]
        try:
            url = st.kubelet_base_url(node) + "/stats/summary"
            async with session.get(url, params={"node": name},
                                   timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)) as resp:
                if resp.status != 200:
                    log.debug("kubelet of %s answered %d to /stats/summary", name, resp.status)
                    return None
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, errors.ApiError, ValueError) as e:
            log.debug("cannot scrape the kubelet of %s: %s", name, e)
            return None

    async def _summaries(self, request: web.Request, nodes: list[Obj]) -> list[tuple[Obj, Obj]]:
        connector = st.connector_of(request)
        session = connector.session()
        results = await asyncio.gather(*(self._summary(session, n) for n in nodes))
        return [(n, s) for n, s in zip(nodes, results, strict=True) if s]

    @staticmethod
    def _selector(request: web.Request):
        try:
            return parse_label_selector(request.query.get("labelSelector") or "")
        except ValueError as e:
            raise errors.bad_request(f"unable to parse labelSelector: {e}") from None

    # -- nodes ----------------------------------------------------------------------------------------

    async def nodes(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name")
        selector = self._selector(request)
        nodes = [n for n in await self._list("nodes") if (not name or n["metadata"]["name"] == name)
                 and selector.matches(n["metadata"].get("labels"))]
        items = []
        for node, summary in await self._summaries(request, nodes):
            usage = summary.get("node") or {}
            items.append({"metadata": _meta(node, False), "timestamp": (usage.get("cpu") or {}).get("time"),
                          "window": WINDOW, "usage": {"cpu": _cpu(usage.get("cpu")),
                                                      "memory": _memory(usage.get("memory"))}})
        if name:
            if not items:
                raise errors.ApiError(404, "NotFound", f'nodemetrics.metrics.k8s.io "{name}" not found',
                                      name=name, group=GROUP, kind="nodes")
            return _respond({"kind": "NodeMetrics", "apiVersion": API_VERSION, **items[0]})
        return _respond({"kind": "NodeMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items})

    # -- pods -----------------------------------------------------------------------------------------

    async def pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("namespace")
        name = request.match_info.get("name")
        selector = self._selector(request)
        pods = {(p["metadata"].get("namespace"), p["metadata"]["name"]): p
                for p in await self._list("pods", namespace)
                if (not name or p["metadata"]["name"] == name) and selector.matches(p["metadata"].get("labels"))}
        wanted_nodes = {(p.get("spec") or {}).get("nodeName") for p in pods.values()} - {None, ""}
        nodes = [n for n in await self._list("nodes") if n["metadata"]["name"] in wanted_nodes]
        items = []
        for _, summary in await self._summaries(request, nodes):
            for stats in summary.get("pods") or []:
                ref = stats.get("podRef") or {}
                pod = pods.get((ref.get("namespace"), ref.get("name")))
                if pod is None or pod["metadata"].get("uid") not in (None, ref.get("uid")):
                    continue
                items.append({
                    "metadata": _meta(pod, True), "timestamp": (stats.get("cpu") or {}).get("time"), "window": WINDOW,
                    "containers": [{"name": c.get("name", ""), "usage": {"cpu": _cpu(c.get("cpu")),
                                                                         "memory": _memory(c.get("memory"))}}
                                   for c in stats.get("containers") or []]})
        items.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"]["name"]))
        if name:
            if not items:
                raise errors.ApiError(404, "NotFound", f'podmetrics.metrics.k8s.io "{namespace}/{name}" not found',
                                      name=name, group=GROUP, kind="pods")
            return _respond({"kind": "PodMetrics", "apiVersion": API_VERSION, **items[0]})
        return _respond({"kind": "PodMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items})


def _respond(doc: Obj) -> web.Response:
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


def setup_metrics_api(app: web.Application, objects, registry: Registry) -> None:
    """Register the group for discovery and its routes (before the generic REST catch-all)."""
    registry.register(NODE_METRICS)
    registry.register(POD_METRICS)
    api = MetricsApi(objects, registry)
    base = f"/apis/{GROUP}/{VERSION}"
    r = app.router
    r.add_get(f"{base}/nodes", api.nodes)
    r.add_get(f"{base}/nodes/{{name}}", api.nodes)
    r.add_get(f"{base}/pods", api.pods)
    r.add_get(f"{base}/namespaces/{{namespace}}/pods", api.pods)
    r.add_get(f"{base}/namespaces/{{namespace}}/pods/{{name}}", api.pods)
