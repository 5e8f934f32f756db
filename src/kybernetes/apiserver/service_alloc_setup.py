"""Wiring of Service allocation into the apiserver (called by server.build_app).

    objects.allocators[("", "services")] = ServiceAllocator   claims around each Service write
    objects.on_removed  += keeper.sweep                         a removed Service's claims freed
    on_startup:  keeper.start (repair, then watch) -> the `kubernetes` Service, Endpoints, slice
    on_shutdown: both stopped
    serving_on(app, port): the port the `kubernetes` Service's endpoints name, once listening
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from kybernetes.api.registry import Registry, ResourceInfo
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.apiserver.service_alloc import ServiceAllocator
from kybernetes.apiserver.service_alloc_keeper import AllocationKeeper
from kybernetes.apiserver.service_alloc_kubernetes import KubernetesService, default_advertise_address
from kybernetes.apiserver.service_alloc_ranges import parse_node_port_range, parse_service_cidrs
from kybernetes.store import Store


@dataclass
class ServiceAllocation:
    allocator: ServiceAllocator
    keeper: AllocationKeeper
    kubernetes: KubernetesService


SERVICE_ALLOCATION_KEY = web.AppKey("service_allocation", ServiceAllocation)


def setup_service_allocation(app: web.Application, config, objects: ObjectStore, store: Store,
                             registry: Registry) -> ServiceAllocation:
    """``config`` is the ApiServerConfig (service_cluster_ip_range, service_node_port_range,
    advertise_address, bind_address, port). Raises ValueError for bad ranges."""
    cidrs = parse_service_cidrs(config.service_cluster_ip_range)
    node_ports = parse_node_port_range(config.service_node_port_range)
    allocator = ServiceAllocator(store, registry, cidrs, node_ports)
    keeper = AllocationKeeper(store, registry, allocator)
    allocator.on_stored = keeper.remember_stored
    advertise = config.advertise_address or default_advertise_address(config.bind_address)
    kubernetes = KubernetesService(objects, cluster_ip=cidrs[0].first_ip, advertise_address=advertise,
                                   port=config.port)
    state = ServiceAllocation(allocator, keeper, kubernetes)
    app[SERVICE_ALLOCATION_KEY] = state
    objects.allocators[("", "services")] = allocator

    previous = objects.on_removed

    async def on_removed(info: ResourceInfo, namespace: str | None) -> None:
        if info.group == "" and info.resource == "services":
            await keeper.sweep(namespace)
        if previous is not None:
            await previous(info, namespace)

    objects.on_removed = on_removed

    async def on_startup(app: web.Application) -> None:
        await keeper.start()
        await kubernetes.start()

    async def on_shutdown(app: web.Application) -> None:
        await kubernetes.stop()
        await keeper.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return state


async def serving_on(app: web.Application, port: int) -> None:
    """Tell the `kubernetes` Service the port the apiserver really listens on."""
    state = app.get(SERVICE_ALLOCATION_KEY)
    if state is not None:
        await state.kubernetes.set_port(port)
