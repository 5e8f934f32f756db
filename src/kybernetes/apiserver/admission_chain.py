"""The admission chain the apiserver runs, in upstream's order.

    mutating phase:   NamespaceLifecycle ─► LimitRanger (defaults) ─► MutatingAdmissionWebhook
    validating phase: LimitRanger (min/max) ─► ValidatingAdmissionWebhook ─► ResourceQuota

ResourceQuota comes last because it charges the quota (writes its status): nothing after it
may refuse the request. The webhook plugins share one configuration source (a store watch) and
one HTTP client; both start and stop with the server (``chain.start()`` / ``chain.stop()``).

Webhooks given as a Service reference are called at a ready endpoint of that Service (its
EndpointSlices), since there is no Service proxy inside the apiserver; until such endpoints
exist the call fails, and the webhook's failurePolicy decides.
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.admission import AdmissionChain, Attributes, NamespaceLifecycle
from kybernetes.apiserver.admission_limits import LimitRanger
from kybernetes.apiserver.admission_quota import ResourceQuota
from kybernetes.apiserver.admission_resources import get_object, list_namespaced
from kybernetes.apiserver.webhook_admission import MutatingWebhooks, ValidatingWebhooks
from kybernetes.apiserver.webhook_client import WebhookCaller, WebhookCallError
from kybernetes.apiserver.webhook_source import WebhookSource

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def build_admission_chain(objects: Any) -> AdmissionChain:
    registry = objects.registry

    async def get_namespace(name: str, attrs: Attributes) -> dict[str, Any] | None:
        ns_info = registry.get("", "v1", "namespaces")
        return await get_object(objects, ns_info, None, name, attrs) if ns_info else None

    async def resolve_service(namespace: str, name: str, port: int) -> tuple[str, int]:
        return await service_endpoint(objects, namespace, name, port)

    source = WebhookSource(objects.store)
    caller = WebhookCaller(resolve_service)
    return AdmissionChain(
        [NamespaceLifecycle(get_namespace), LimitRanger(objects), MutatingWebhooks(objects, source, caller),
         ValidatingWebhooks(objects, source, caller), ResourceQuota(objects)],
        services=[source, caller],
    )


async def service_endpoint(objects: Any, namespace: str, name: str, port: int) -> tuple[str, int]:
    """A ready endpoint (address, port) behind port ``port`` of Service namespace/name."""
    url = f"https://{name}.{namespace}.svc:{port}"

    def unavailable(why: str) -> WebhookCallError:
        return WebhookCallError("", why)

    registry = objects.registry
    svc_info = registry.get("", "v1", "services")
    service = await objects.get_or_none(svc_info, namespace, name) if svc_info else None
    if service is None:
        raise unavailable(f'failed to call webhook: Post "{url}": service "{name}" not found')
    service_port = next((p for p in (service.get("spec") or {}).get("ports") or []
                         if isinstance(p, dict) and p.get("port") == port), None)
    if service_port is None:
        raise unavailable(f'failed to call webhook: Post "{url}": service "{name}" has no port {port}')
    port_name = service_port.get("name") or ""
    target = service_port.get("targetPort") or port
    slice_info = registry.get("discovery.k8s.io", "v1", "endpointslices")
    for eps in await list_namespaced(objects, slice_info, namespace):
        if ((eps.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) != name:
            continue
        number = next((p.get("port") for p in eps.get("ports") or []
                       if isinstance(p, dict) and (p.get("name") or "") == port_name), None)
        if number is None and isinstance(target, int):
            number = target
        for endpoint in eps.get("endpoints") or []:
            ready = ((endpoint.get("conditions") or {}).get("ready") is not False)
            addresses = endpoint.get("addresses") or []
            if ready and addresses and number:
                return str(addresses[0]), int(number)
    raise unavailable(f'failed to call webhook: Post "{url}": no endpoints available for service "{name}"')
