"""/metrics: the apiserver's Prometheus metrics, named as the real apiserver names them.

Each application gets its own CollectorRegistry (tests run several servers in one process and
must not see each other's counts). Request metrics are recorded by ``observe_request``, which the
REST layer calls once per request; it finds the right registry through a context variable that a
middleware sets for the request, so callers need not pass the app around. Watch metrics are not
counted on the hot path here at all: the watch hub keeps plain integer counters and a custom
collector reads them when /metrics is scraped.

    apiserver_request_total{verb,group,version,resource,subresource,scope,code}     counter
    apiserver_request_duration_seconds{verb,group,version,resource,subresource}     histogram
    apiserver_longrunning_requests{verb,group,version,resource,subresource}         gauge (watches)
    apiserver_registered_watchers{group,version,kind}                               gauge
    apiserver_watch_events_total{group,version,kind}                                counter
    apiserver_watch_events_dropped_watchers_total{group,version,kind}               counter
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector

# The real apiserver's buckets for request latency (seconds).
DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
                    15, 20, 30, 45, 60)

# Kubernetes verbs as the real metrics spell them (the HTTP-ish form).
_METRIC_VERB = {
    "get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT",
    "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE", "apply": "APPLY",
    "connect": "CONNECT", "proxy": "CONNECT",
}
# Long-running requests are not timed (their duration says nothing about latency).
_LONG_RUNNING = {"WATCH", "CONNECT"}


class ApiServerMetrics:
    """The metrics of one apiserver application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, group, version, resource, "
            "scope, subresource and HTTP response code.",
            ["verb", "group", "version", "resource", "subresource", "scope", "code"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, version, resource and "
            "subresource.",
            ["verb", "group", "version", "resource", "subresource"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        # Looking a labelled child up in prometheus_client takes a lock and a tuple build; the
        # few thousand distinct label sets are cached here so a request costs two dict hits.
        self._request_children: dict[tuple, tuple] = {}
        self.registry.register(_WatchCollector(self))
        self.watch_source: Callable[[], object | None] = lambda: None
        try:
            ProcessCollector(registry=self.registry)
        except Exception:  # not on Linux /proc: process metrics are a bonus, not a must
            pass

    def observe_request(self, verb: str, group: str, resource: str, subresource: str, code: int,
                        seconds: float, *, version: str = "", scope: str = "") -> None:
        metric_verb = _METRIC_VERB.get(verb.lower(), verb.upper())
        key = (metric_verb, group, version, resource, subresource, scope, code)
        children = self._request_children.get(key)
        if children is None:
            counter = self.requests.labels(metric_verb, group, version, resource, subresource, scope, str(code))
            histogram = None
            if metric_verb not in _LONG_RUNNING:
                histogram = self.durations.labels(metric_verb, group, version, resource, subresource)
            children = self._request_children[key] = (counter, histogram)
        children[0].inc()
        if children[1] is not None:
            children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _WatchCollector:
    """Reads the watch hub's counters at scrape time."""

    def __init__(self, metrics: ApiServerMetrics):
        self._metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator:
        watchers = GaugeMetricFamily(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resource.",
            labels=["group", "version", "kind"])
        events = CounterMetricFamily(
            "apiserver_watch_events",
            "Number of events sent in watch clients.",
            labels=["group", "version", "kind"])
        dropped = CounterMetricFamily(
            "apiserver_watch_events_dropped_watchers",
            "Number of watchers closed because they fell too far behind.",
            labels=["group", "version", "kind"])
        longrunning = GaugeMetricFamily(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource and subresource.",
            labels=["verb", "group", "version", "resource", "subresource"])
        hub = self._metrics.watch_source()
        stats = hub.stats() if hub is not None else []
        for s in stats:
            gvk = [s.group, s.version, s.kind]
            watchers.add_metric(gvk, s.watchers)
            events.add_metric(gvk, s.events)
            dropped.add_metric(gvk, s.dropped)
            longrunning.add_metric(["WATCH", s.group, s.version, s.resource, ""], s.watchers)
        yield from (watchers, events, dropped, longrunning)


METRICS_KEY = web.AppKey("metrics", ApiServerMetrics)

_current: contextvars.ContextVar[ApiServerMetrics | None] = contextvars.ContextVar(
    "kybernetes_apiserver_metrics", default=None)
# Used when observe_request is called outside any request of an app with metrics (unit tests of
# the REST layer, tools): counts go somewhere harmless instead of raising.
_fallback: ApiServerMetrics | None = None


def observe_request(verb: str, group: str, resource: str, subresource: str, code: int,
                    seconds: float, *, version: str = "", scope: str = "") -> None:
    """Record one finished request on the metrics of the app serving it."""
    global _fallback
    metrics = _current.get()
    if metrics is None:
        if _fallback is None:
            _fallback = ApiServerMetrics()
        metrics = _fallback
    metrics.observe_request(verb, group, resource, subresource, code, seconds,
                            version=version, scope=scope)


def app_metrics(app: web.Application) -> ApiServerMetrics:
    return app[METRICS_KEY]


def setup_metrics(app: web.Application) -> None:
    """Register /metrics and the middleware that lets observe_request find this app's metrics."""
    metrics = ApiServerMetrics()
    app[METRICS_KEY] = metrics

    def watch_hub() -> object | None:
        from kybernetes.apiserver.watch import WATCH_HUB_KEY  # watch imports nothing of this module

        return app.get(WATCH_HUB_KEY)

    metrics.watch_source = watch_hub

    @web.middleware
    async def bind_metrics(request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        token = _current.set(metrics)
        try:
            return await handler(request)
        finally:
            _current.reset(token)

    app.middlewares.insert(0, bind_metrics)

    async def get_metrics(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", get_metrics)
