"""The kubelet's streaming and stats server (what the apiserver proxies logs, exec, attach,
port-forward and ``kubectl top`` to). See app.py for the endpoints."""

from kybernetes.kubelet.server.app import APISERVER_CLIENT_CN, DEFAULT_PORT, KubeletServer, server_ssl_context
from kybernetes.kubelet.server.resolve import Node

__all__ = ["APISERVER_CLIENT_CN", "DEFAULT_PORT", "KubeletServer", "Node", "server_ssl_context"]
