"""Pod container -> CRI ContainerConfig: command/args expansion, labels, resources (shares, quota,
memory, OOM score by QoS), securityContext merging and runAsNonRoot, and mounts: readOnly,
propagation, the token mount, the termination-message file, and subPath / subPathExpr bound
safely (a symlink out of the volume is refused). Mount tests use real bind mounts (root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kybernetes.client.resource import CONFIGMAPS
from kybernetes.kubelet.container_config import (
    TERMINATION_MESSAGE_HOST_PATH_ANNOTATION,
    ContainerConfigBuilder,
    hosts_file,
    linux_resources,
    security_context,
)
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.volumes import ContainerConfigError, PodFacts, fs
from kybernetes.kubelet.volumes.service_account import MOUNT_PATH
from tests.kubelet.test_container_config_env import MemorySources
from tests.kubelet.test_volumes_support import cluster, make_pod, manager, requires_root


def pod_with(container: dict, **spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1"},
            "spec": {"containers": [container], **spec}}


@pytest.mark.parametrize("resources,shares,quota,memory,oom", [
    ({}, 2, 0, 0, 1000),  # BestEffort
    ({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "64Mi"}},
     256, 25000, 64 * 2**20, -997),  # Guaranteed
    ({"requests": {"cpu": "1", "memory": "1Gi"}}, 1024, 0, 0, 750),  # Burstable: 1000 - 1000*1Gi/4Gi
    ({"limits": {"cpu": "1m"}}, 2, 1000, 0, 999),  # tiny limit: shares and quota at their minimum
    ({"requests": {"cpu": "1500m"}, "limits": {"cpu": "2", "memory": "128Mi"}}, 1536, 200000, 128 * 2**20, 1000 - 0 - 1),
])
def test_resources(resources, shares, quota, memory, oom):
    container = {"name": "c", "resources": resources}
    got = linux_resources(pod_with(container), container, node_memory_capacity=4 * 2**30)
    assert (got.cpu_shares, got.cpu_quota, got.memory_limit_in_bytes, got.oom_score_adj) == (shares, quota, memory, oom)
    assert got.cpu_period == (100000 if quota else 0)


def test_security_context_merges_pod_and_container():
    container = {"name": "c", "securityContext": {
        "runAsUser": 1000, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "procMount": "Unmasked"}}
    pod = pod_with(container, securityContext={"runAsUser": 5, "runAsGroup": 3000, "runAsNonRoot": True,
                                               "fsGroup": 2000, "supplementalGroups": [4000],
                                               "seccompProfile": {"type": "RuntimeDefault"}})
    sc = security_context(pod, container)
    assert (sc.run_as_user, sc.run_as_group, sc.supplemental_groups) == (1000, 3000, (4000, 2000))
    assert sc.capabilities == cri.Capability(("NET_ADMIN",), ("ALL",))
    assert sc.no_new_privs and sc.readonly_rootfs and not sc.privileged
    assert sc.masked_paths == () and sc.readonly_paths == ()
    assert sc.seccomp == cri.SecurityProfile(cri.SecurityProfileType.RuntimeDefault)
    plain = security_context(pod_with({"name": "c"}), {"name": "c"})
    assert plain.capabilities is None and plain.masked_paths is None and plain.seccomp is None


@pytest.mark.parametrize("run_as_user,image_user,message", [
    (0, None, "container's runAsUser breaks non-root policy"),
    (None, "", "image will run as root"),
    (None, "root", "image will run as root"),
    (None, "0:0", "image will run as root"),
    (None, "nginx", "image has non-numeric user (nginx), cannot verify user is non-root"),
])
def test_run_as_non_root_is_enforced(run_as_user, image_user, message):
    sc = {"runAsNonRoot": True, **({"runAsUser": run_as_user} if run_as_user is not None else {})}
    container = {"name": "c", "securityContext": sc}
    with pytest.raises(ContainerConfigError) as info:
        security_context(pod_with(container), container, image_user=image_user)
    assert message in str(info.value) and str(info.value).endswith('(pod: "web_ns(u-1)", container: c)')
    if run_as_user is None:  # a numeric non-root image user passes
        assert security_context(pod_with(container), container, image_user="1000").run_as_user is None


def test_unsupported_seccomp_profile_is_refused():
    container = {"name": "c", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "x"}}}
    with pytest.raises(ContainerConfigError, match="seccomp profile type 'Localhost'"):
        security_context(pod_with(container), container)


def test_hosts_file_with_subdomain_and_aliases():
    pod = {"metadata": {"name": "web-0", "namespace": "ns"},
           "spec": {"subdomain": "nginx", "hostAliases": [{"ip": "10.9.9.9", "hostnames": ["db.local", "db"]}]}}
    text = hosts_file(pod, ("10.1.0.5",), "cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.1.0.5\tweb-0.nginx.ns.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n10.9.9.9\tdb.local\tdb\n")
    host = hosts_file({"spec": {"hostNetwork": True, "hostAliases": pod["spec"]["hostAliases"]}}, (), "x",
                      host_hosts="127.0.0.1 node\n")
    assert host.startswith("127.0.0.1 node\n") and "10.9.9.9\tdb.local" in host


async def test_config_without_volumes_expands_command_and_args():
    container = {"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", "echo $(GREETING) $$(GREETING)"],
                 "args": ["$(UNKNOWN)", "$(POD)"], "workingDir": "/srv", "tty": True,
                 "env": [{"name": "GREETING", "value": "hello"},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    config = await ContainerConfigBuilder(MemorySources()).build(pod_with(container), container, attempt=3)
    assert config.command == ("sh", "-c", "echo hello $(GREETING)")
    assert config.args == ("$(UNKNOWN)", "web")
    assert (config.working_dir, config.tty, config.metadata) == ("/srv", True, cri.ContainerMetadata("app", 3))
    assert dict((kv.key, kv.value) for kv in config.envs) == {"GREETING": "hello", "POD": "web"}
    assert config.labels[cri.CONTAINER_NAME_LABEL] == "app" and config.labels[cri.POD_UID_LABEL] == "u-1"
    assert config.annotations[cri.RESTART_COUNT_ANNOTATION] == "3"
    assert config.annotations[cri.CONTAINER_TYPE_ANNOTATION] == cri.CONTAINER_TYPE_REGULAR
    assert config.mounts == () and config.linux.resources.cpu_shares == 2


async def test_volume_mounts_without_mounted_volumes_fail():
    container = {"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}
    with pytest.raises(ContainerConfigError, match="volumes are not set up"):
        await ContainerConfigBuilder(MemorySources()).build(pod_with(container), container, attempt=0)


async def test_missing_config_map_through_the_api_is_the_kubelets_message():
    async with cluster() as (client, ns), manager(client) as vm:
        container = {"name": "c", "image": "busybox", "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}
        pod = make_pod(ns, [], containers=[container])
        with pytest.raises(ContainerConfigError) as info:
            await ContainerConfigBuilder(vm.sources).build(pod, container, attempt=0)
        assert str(info.value) == 'configmap "absent" not found'
        await client.create(CONFIGMAPS, {"metadata": {"name": "absent"}, "data": {"x": "1"}}, ns)
        with pytest.raises(ContainerConfigError) as info:
            await ContainerConfigBuilder(vm.sources).build(pod, container, attempt=0)
        assert str(info.value) == f"couldn't find key k in ConfigMap {ns}/absent"


@requires_root
async def test_mounts_token_termination_log_and_propagation():
    async with cluster() as (client, ns), manager(client) as vm:
        container = {"name": "c", "image": "busybox", "volumeMounts": [
            {"name": "data", "mountPath": "/data", "readOnly": True, "mountPropagation": "HostToContainer"},
            {"name": "missing", "mountPath": "/m"}]}
        pod = make_pod(ns, [{"name": "data", "emptyDir": {}}], containers=[container])
        volumes = await vm.mount_pod_volumes(pod)
        # Pretend the token volume came too (its own test needs a pod in the API).
        volumes.extra_mounts = ({"name": "data", "mountPath": MOUNT_PATH, "readOnly": True},)
        builder = ContainerConfigBuilder(vm.sources)
        with pytest.raises(ContainerConfigError, match='cannot find volume "missing" to mount into container "c"'):
            await builder.build(pod, container, attempt=0, volumes=volumes)
        container["volumeMounts"].pop()
        config = await builder.build(pod, container, attempt=1, volumes=volumes)
        data, token, log, hosts = config.mounts
        assert data == cri.Mount("/data", str(volumes.paths["data"]), readonly=True,
                                 propagation=cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER)
        assert (token.container_path, token.readonly) == (MOUNT_PATH, True)
        assert log.container_path == "/dev/termination-log" and Path(log.host_path).is_file()
        assert config.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION] == log.host_path
        assert hosts.container_path == "/etc/hosts" and Path(hosts.host_path).read_text().startswith("# Kubernetes")
        container["volumeMounts"][0]["mountPropagation"] = "Bidirectional"
        with pytest.raises(ContainerConfigError, match="only to privileged containers"):
            await builder.build(pod, container, attempt=0, volumes=volumes)


@requires_root
async def test_sub_paths_are_bound_inside_the_volume_and_escapes_refused():
    async with cluster() as (client, ns), manager(client) as vm:
        await client.create(CONFIGMAPS, {"metadata": {"name": "app"}, "data": {"app.conf": "v=1"}}, ns)
        container = {"name": "c", "image": "busybox",
                     "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                     "volumeMounts": [{"name": "shared", "mountPath": "/work", "subPath": "a/b"},
                                      {"name": "conf", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                                      {"name": "shared", "mountPath": "/logs", "subPathExpr": "logs/$(POD)"}]}
        pod = make_pod(ns, [{"name": "shared", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "app"}}],
                       containers=[container])
        volumes = await vm.mount_pod_volumes(pod)
        shared = volumes.paths["shared"]
        builder = ContainerConfigBuilder(vm.sources)
        config = await builder.build(pod, container, attempt=0, volumes=volumes, facts=PodFacts())
        work, conf, logs, _log, _hosts = config.mounts
        assert (shared / "a/b").is_dir() and (shared / "logs" / pod["metadata"]["name"]).is_dir()  # created
        for mount in (work, conf, logs):
            assert fs.is_mount_point(Path(mount.host_path)) and "volume-subpaths" in mount.host_path
        assert Path(conf.host_path).read_text() == "v=1"  # a file subPath through the ..data symlink
        (shared / "a/b/x").write_text("seen")
        assert (Path(work.host_path) / "x").read_text() == "seen"

        # A container plants symlinks; asking for them as subPaths must not reach the host.
        os.symlink("/", shared / "evil")
        os.symlink("../../../../..", shared / "a/up")
        os.symlink("a/b", shared / "inside")
        for bad in ("evil", "evil/etc", "a/up", "a/up/etc"):
            container["volumeMounts"] = [{"name": "shared", "mountPath": "/x", "subPath": bad}]
            with pytest.raises(ContainerConfigError, match="not within volume path"):
                await builder.build(pod, container, attempt=1, volumes=volumes)
        container["volumeMounts"] = [{"name": "shared", "mountPath": "/x", "subPath": "inside"}]
        inside = (await builder.build(pod, container, attempt=1, volumes=volumes)).mounts[0]
        assert (Path(inside.host_path) / "x").read_text() == "seen"
        for expr, message in (("$(NOPE)", "missing value for NOPE"), ("/abs", "must not be an absolute path"),
                              ("../x", "must not contain '..'")):
            container["volumeMounts"] = [{"name": "shared", "mountPath": "/x", "subPathExpr": expr}]
            with pytest.raises(ContainerConfigError, match=message):
                await builder.build(pod, container, attempt=2, volumes=volumes)
        await vm.unmount_pod_volumes(pod["metadata"]["uid"])
        assert not fs.mounts_under(vm.root_dir)
        assert Path("/etc/passwd").exists()  # nothing outside was touched by the removal
