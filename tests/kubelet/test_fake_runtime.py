"""The fake runtime speaks the CRI-shaped protocol and simulates time on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.fake import FakeRuntime
from kybernetes.kubelet.runtime.pod_ips import PodCIDRExhaustedError, PodIPAllocator, fallback_pod_cidr
from kybernetes.kubelet.timers import Timers
from kybernetes.util.clock import FakeClock


@pytest.fixture
async def clock():
    return FakeClock()


@pytest.fixture
async def runtime(clock):
    timers = Timers(clock)
    rt = FakeRuntime(clock=clock, timers=timers, stop_seconds=2.0)
    yield rt
    await timers.aclose()


def sandbox_config(annotations=None, uid="u1") -> cri.PodSandboxConfig:
    return cri.PodSandboxConfig(cri.PodSandboxMetadata("p", uid, "default"),
                                labels={cri.POD_UID_LABEL: uid}, annotations=annotations or {})


async def start(runtime: FakeRuntime, annotations=None, kind=cri.CONTAINER_TYPE_REGULAR, name="app"):
    config = sandbox_config(annotations)
    sandbox = await runtime.run_pod_sandbox(config)
    await runtime.images.pull_image(cri.ImageSpec("nginx"))
    cid = await runtime.create_container(sandbox, cri.ContainerConfig(
        cri.ContainerMetadata(name), cri.ImageSpec("nginx"), labels={cri.CONTAINER_NAME_LABEL: name},
        annotations={cri.CONTAINER_TYPE_ANNOTATION: kind}), config)
    await runtime.start_container(cid)
    return sandbox, cid


async def test_protocols_are_implemented(runtime):
    assert isinstance(runtime, cri.RuntimeService) and isinstance(runtime.images, cri.ImageService)
    version = await runtime.version()
    assert (version.runtime_name, version.runtime_api_version) == ("fake", "v1")
    assert (await runtime.status()).condition("NetworkReady").status is True


async def test_a_container_runs_until_its_run_seconds_and_exits_with_the_code(runtime, clock):
    events = runtime.subscribe()
    _, cid = await start(runtime, {"sim.kybernetes.io/run-seconds": "5", "sim.kybernetes.io/exit-code": "4"})
    assert (await runtime.container_status(cid)).state == cri.ContainerState.CONTAINER_RUNNING
    await clock.advance(4.9)
    assert (await runtime.container_status(cid)).state == cri.ContainerState.CONTAINER_RUNNING
    await clock.advance(0.2)
    status = await runtime.container_status(cid)
    assert status.state == cri.ContainerState.CONTAINER_EXITED
    assert (status.exit_code, status.reason) == (4, "Error")
    assert status.finished_at - status.started_at == 5_000_000_000
    kinds = [events.get_nowait().event_type for _ in range(events.qsize())]
    assert kinds == [cri.ContainerEventType.CONTAINER_CREATED_EVENT, cri.ContainerEventType.CONTAINER_STARTED_EVENT,
                     cri.ContainerEventType.CONTAINER_STOPPED_EVENT]


async def test_without_run_seconds_it_runs_forever_and_init_containers_complete(runtime, clock):
    _, app = await start(runtime)
    _, init = await start(runtime, {"sim.kybernetes.io/init-seconds": "1"}, kind=cri.CONTAINER_TYPE_INIT)
    await clock.advance(3600)
    assert (await runtime.container_status(app)).state == cri.ContainerState.CONTAINER_RUNNING
    done = await runtime.container_status(init)
    assert (done.state, done.exit_code, done.reason) == (cri.ContainerState.CONTAINER_EXITED, 0, "Completed")


async def test_stop_within_grace_exits_cleanly_and_past_grace_is_killed(runtime, clock):
    _, graceful = await start(runtime)
    stopping = asyncio.create_task(runtime.stop_container(graceful, 30))
    await clock.advance(2.0)
    await stopping
    assert (await runtime.container_status(graceful)).exit_code == 0
    _, stubborn = await start(runtime, {"sim.kybernetes.io/stop-seconds": "60"})
    stopping = asyncio.create_task(runtime.stop_container(stubborn, 5))
    await clock.advance(5.0)
    await stopping
    status = await runtime.container_status(stubborn)
    assert (status.exit_code, status.reason) == (137, "Error")


async def test_bad_annotations_are_refused_at_create(runtime):
    config = sandbox_config({"sim.kybernetes.io/exit-code": "300"})
    sandbox = await runtime.run_pod_sandbox(config)
    await runtime.images.pull_image(cri.ImageSpec("nginx"))
    with pytest.raises(cri.RuntimeServiceError, match="exit code from 0 to 255"):
        await runtime.create_container(sandbox, cri.ContainerConfig(cri.ContainerMetadata("a"), cri.ImageSpec("nginx")),
                                       config)


async def test_pod_ips_come_from_the_pod_cidr_once_set(runtime):
    before = await runtime.pod_sandbox_status(await runtime.run_pod_sandbox(sandbox_config(uid="a")))
    assert before.network.ip == "172.16.0.2"
    await runtime.update_runtime_config("10.244.3.0/24")
    first = await runtime.run_pod_sandbox(sandbox_config(uid="b"))
    second = await runtime.run_pod_sandbox(sandbox_config(uid="c"))
    assert (await runtime.pod_sandbox_status(first)).network.ip == "10.244.3.2"
    assert (await runtime.pod_sandbox_status(second)).network.ip == "10.244.3.3"
    await runtime.stop_pod_sandbox(first)
    assert (await runtime.pod_sandbox_status(first)).network.ip == ""
    listed = await runtime.list_pod_sandbox(cri.PodSandboxFilter(label_selector={cri.POD_UID_LABEL: "c"}))
    assert [s.id for s in listed] == [second]
    await runtime.remove_pod_sandbox(second)
    with pytest.raises(cri.NotFoundError):
        await runtime.pod_sandbox_status(second)


async def test_images_are_normalised_and_given_digests(runtime):
    ref = await runtime.images.pull_image(cri.ImageSpec("nginx:1.27"))
    assert ref.startswith("docker.io/library/nginx@sha256:")
    image = await runtime.images.image_status(cri.ImageSpec("docker.io/library/nginx:1.27"))
    assert image is not None and image.repo_tags == ("docker.io/library/nginx:1.27",)
    with pytest.raises(cri.ImagePullError):
        await runtime.images.pull_image(cri.ImageSpec("Not Valid"))
    await runtime.images.remove_image(cri.ImageSpec("nginx:1.27"))
    assert await runtime.images.list_images() == []


def test_pod_ip_allocator_skips_gateway_and_wraps():
    ips = PodIPAllocator("10.0.0.0/29")  # .0 network, .1 gateway, .7 broadcast
    got = [ips.allocate() for _ in range(5)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(PodCIDRExhaustedError):
        ips.allocate()
    ips.release("10.0.0.3")
    assert ips.allocate() == "10.0.0.3"
    with pytest.raises(ValueError):
        PodIPAllocator("not-a-cidr")
    assert fallback_pod_cidr(0) == "172.16.0.0/24" and fallback_pod_cidr(257) == "172.17.1.0/24"
