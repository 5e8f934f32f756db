"""Pure parts of the runc runtime: the OCI spec, user resolution, and the state records."""

from __future__ import annotations

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc.images import ImageConfig, image_config_from
from kybernetes.kubelet.runtime.runc.spec import (
    DEFAULT_MASKED_PATHS,
    SpecError,
    build_spec,
    capabilities,
    command_line,
    environment,
)
from kybernetes.kubelet.runtime.runc.state import ContainerRecord, StateStore
from kybernetes.kubelet.runtime.runc.users import (
    ResolvedUser,
    UserResolutionError,
    account_files,
    resolve_user,
)

IMAGE = ImageConfig(entrypoint=("/entry",), cmd=("default-arg",), env=("PATH=/img", "A=image"), user="app")


def config(**kwargs) -> cri.ContainerConfig:
    return cri.ContainerConfig(cri.ContainerMetadata("c"), cri.ImageSpec("img"), **kwargs)


@pytest.mark.parametrize(("command", "args", "expected"), [
    ((), (), ["/entry", "default-arg"]),
    ((), ("x",), ["/entry", "x"]),
    (("run",), (), ["run"]),  # command without args drops Cmd too
    (("run",), ("y",), ["run", "y"]),
])
def test_command_follows_the_kubernetes_rules(command, args, expected):
    assert command_line(config(command=command, args=args), IMAGE) == expected


def test_no_command_anywhere_is_a_spec_error():
    with pytest.raises(SpecError, match="no command"):
        command_line(config(), ImageConfig())


def test_container_env_overrides_the_image_env():
    env = environment(config(envs=(cri.KeyValue("A", "container"), cri.KeyValue("B", "b"))), IMAGE, "pod", "/root")
    assert env == ["PATH=/img", "A=container", "HOSTNAME=pod", "B=b", "HOME=/root"]


def test_capabilities_default_add_drop_and_privileged():
    assert "CAP_NET_RAW" in capabilities(None) and "CAP_SYS_ADMIN" not in capabilities(None)
    ctx = cri.LinuxContainerSecurityContext(capabilities=cri.Capability(("NET_ADMIN",), ("CAP_NET_RAW",)))
    caps = capabilities(ctx)
    assert "CAP_NET_ADMIN" in caps and "CAP_NET_RAW" not in caps
    assert "CAP_SYS_ADMIN" in capabilities(cri.LinuxContainerSecurityContext(privileged=True))
    with pytest.raises(SpecError, match="unknown capability"):
        capabilities(cri.LinuxContainerSecurityContext(capabilities=cri.Capability(("FLY",))))


def test_spec_namespaces_resources_and_masks(tmp_path):
    sandbox = cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u", "ns"),
                                   linux=cri.LinuxPodSandboxConfig(sysctls={"net.ipv4.ping_group_range": "0 0"}))
    resources = cri.LinuxContainerResources(cpu_shares=512, cpu_quota=50_000, memory_limit_in_bytes=1 << 26)
    (tmp_path / "data").mkdir()
    c = config(command=("sh",), mounts=(cri.Mount("/data", str(tmp_path / "data"), readonly=True),),
               linux=cri.LinuxContainerConfig(resources=resources))
    spec = build_spec(config=c, sandbox_config=sandbox, image=IMAGE, user=ResolvedUser(1000, 1000, (2000,)),
                      rootfs="/rootfs", cgroups_path="/kyb/pod/c", sandbox_dir="", netns="/ns/net",
                      ipcns="/ns/ipc", utsns="/ns/uts", hostname="p")
    spaces = {n["type"]: n.get("path") for n in spec["linux"]["namespaces"]}
    assert spaces["network"] == "/ns/net" and spaces["ipc"] == "/ns/ipc" and spaces["pid"] is None
    assert spec["linux"]["resources"]["cpu"] == {"shares": 512, "quota": 50_000, "period": 100_000}
    assert spec["linux"]["resources"]["memory"]["limit"] == 1 << 26
    assert spec["linux"]["maskedPaths"] == list(DEFAULT_MASKED_PATHS)
    assert spec["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0"}
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [2000]}
    assert {"destination": "/data", "type": "bind", "source": str(tmp_path / "data"),
            "options": ["rbind", "rprivate", "ro"]} in spec["mounts"]
    host = cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u", "ns"), host_network=True)
    spec = build_spec(config=c, sandbox_config=host, image=IMAGE, user=ResolvedUser(0, 0), rootfs="/r",
                      cgroups_path="/x", sandbox_dir="", netns="", ipcns="", utsns="", hostname="")
    assert "network" not in {n["type"] for n in spec["linux"]["namespaces"]}


def test_missing_mount_source_is_a_spec_error(tmp_path):
    c = config(command=("sh",), mounts=(cri.Mount("/data", str(tmp_path / "absent")),))
    with pytest.raises(SpecError, match="does not exist"):
        build_spec(config=c, sandbox_config=cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u", "ns")),
                   image=IMAGE, user=ResolvedUser(0, 0), rootfs="/r", cgroups_path="/x", sandbox_dir="",
                   netns="", ipcns="", utsns="", hostname="")


def test_users_resolve_inside_the_image(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:\napp:x:1001:\nwheel:x:10:app,other\nstaff:x:50:\n")
    assert resolve_user(str(tmp_path), "app") == ResolvedUser(1000, 1001, (10,), "/home/app")
    assert resolve_user(str(tmp_path), "app:staff").gid == 50
    assert resolve_user(str(tmp_path), "4242").uid == 4242
    assert resolve_user(str(tmp_path), "app", uid=7, gid=8) == ResolvedUser(7, 8, (), "/")
    assert resolve_user(str(tmp_path), "").uid == 0
    with pytest.raises(UserResolutionError, match="unable to find user ghost"):
        resolve_user(str(tmp_path), "ghost")
    files = account_files(str(tmp_path))  # read once per image by the runtime, then handed in
    (tmp_path / "etc" / "passwd").unlink()
    assert resolve_user("/nonexistent", "app", files=files) == ResolvedUser(1000, 1001, (10,), "/home/app")


def test_image_config_from_an_oci_config_dict():
    raw = {"config": {"Entrypoint": ["/e"], "Cmd": ["c"], "Env": ["A=1"], "WorkingDir": "/w", "User": "1:2",
                      "StopSignal": "SIGQUIT"}}
    assert image_config_from(raw) == ImageConfig(("/e",), ("c",), ("A=1",), "/w", "1:2", "SIGQUIT")
    assert image_config_from(None) == ImageConfig()


def test_records_round_trip_through_json(tmp_path):
    store = StateStore(tmp_path)
    c = config(command=("sh",), mounts=(cri.Mount("/d", "/h", propagation=cri.MountPropagation.PROPAGATION_BIDIRECTIONAL),),
               linux=cri.LinuxContainerConfig(security_context=cri.LinuxContainerSecurityContext(
                   run_as_user=5, seccomp=cri.SecurityProfile(cri.SecurityProfileType.RuntimeDefault))))
    record = ContainerRecord("id", "sb", c, "ref", "img", 1, "/b", "/cg", "/log",
                             state=cri.ContainerState.CONTAINER_RUNNING)
    store.save_container(record)
    assert store.load_containers() == [record]
    store.delete_container("id")
    assert store.load_containers() == []
