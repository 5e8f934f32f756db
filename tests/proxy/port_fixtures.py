"""A service port and endpoints to derive rules from, shared by both modes' golden tests."""

from __future__ import annotations

from kybernetes.proxy.model import Endpoint, ServicePort


def web(**kw) -> ServicePort:
    """Port ``http`` (80) of Service default/web at 10.43.0.10, TCP; ``kw`` overrides any field."""
    base = dict(namespace="default", name="web", port_name="http", protocol="TCP", cluster_ip="10.43.0.10", port=80)
    base.update(kw)
    return ServicePort(**base)


def eps(*ips: str, **kw) -> list[Endpoint]:
    """One endpoint on port 8080 per address."""
    return [Endpoint(ip, 8080, **kw) for ip in ips]
