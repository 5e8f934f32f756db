"""Volumes on the node, with real mounts (root): emptyDir on disk and in memory, secrets on
tmpfs, configMap updates through the atomic writer, downwardAPI, hostPath type checks, and
the removal of everything (mounts first) when the pod goes or is orphaned."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from kybernetes.client.resource import CONFIGMAPS, SECRETS
from kybernetes.kubelet.volumes import VolumeSetupError, fs
from kybernetes.kubelet.volumes.atomic_writer import DATA_LINK
from tests.kubelet.test_volumes_support import cluster, kubelet_root, make_pod, manager, requires_root

pytestmark = requires_root


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_empty_dirs_on_disk_and_in_memory_and_their_removal():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [{"name": "scratch", "emptyDir": {}},
                            {"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}],
                       securityContext={"fsGroup": 2000})
        mounted = await vm.mount_pod_volumes(pod)
        scratch, fast = mounted.paths["scratch"], mounted.paths["fast"]
        assert scratch == vm.pod_dir(pod["metadata"]["uid"]) / "volumes/kubernetes.io~empty-dir/scratch"
        assert fs.filesystem_type(scratch) == "" and fs.filesystem_type(fast) == "tmpfs"
        assert os.stat(fast).st_gid == 2000 and mode(fast) & stat.S_ISGID and mode(scratch) & 0o777 == 0o777
        statvfs = os.statvfs(fast)
        assert statvfs.f_blocks * statvfs.f_frsize == 8 * 1024 * 1024
        (fast / "f").write_text("kept")
        again = await vm.mount_pod_volumes(pod)  # idempotent: no second tmpfs, data kept
        assert (again.paths["fast"] / "f").read_text() == "kept"
        assert len(fs.mounts_under(fast)) == 1
        await vm.unmount_pod_volumes(pod["metadata"]["uid"])
        assert not fs.mounts_under(vm.root_dir) and not vm.pod_dir(pod["metadata"]["uid"]).exists()


async def test_secret_volume_is_a_tmpfs_with_items_and_modes():
    async with cluster() as (client, ns), manager(client) as vm:
        await client.create(SECRETS, {"metadata": {"name": "creds"}, "stringData": {"user": "admin", "pw": "hunter2"}},
                            ns)
        pod = make_pod(ns, [{"name": "s", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                                     "items": [{"key": "pw", "path": "nested/password", "mode": 0o440},
                                                               {"key": "user", "path": "user"}]}}])
        path = (await vm.mount_pod_volumes(pod)).paths["s"]
        assert fs.filesystem_type(path) == "tmpfs"
        assert (path / "nested/password").read_text() == "hunter2" and (path / "user").read_text() == "admin"
        assert mode((path / "nested/password").resolve()) == 0o440 and mode((path / "user").resolve()) == 0o400
        assert os.readlink(path / "user") == f"{DATA_LINK}/user"
        await vm.unmount_pod_volumes(pod["metadata"]["uid"])
        assert not fs.mounts_under(vm.root_dir)


async def test_config_map_updates_swap_atomically_on_resync():
    async with cluster() as (client, ns), manager(client) as vm:
        cm = await client.create(CONFIGMAPS, {"metadata": {"name": "app"},
                                              "data": {"app.conf": "v=1\n", "old.txt": "bye"}}, ns)
        pod = make_pod(ns, [{"name": "conf", "configMap": {"name": "app"}}])
        path = (await vm.mount_pod_volumes(pod)).paths["conf"]
        assert fs.filesystem_type(path) == ""  # configMaps stay on disk
        first_version = os.readlink(path / DATA_LINK)
        reader = open(path / "app.conf")  # a reader in the middle of the old version
        assert await vm.resync(pod) == []  # nothing changed: nothing rewritten
        cm["data"] = {"app.conf": "v=2\n", "new.txt": "hi"}
        await client.update(CONFIGMAPS, cm, ns)
        assert await vm.resync(pod) == ["conf"]
        assert (path / "app.conf").read_text() == "v=2\n" and (path / "new.txt").read_text() == "hi"
        assert not os.path.lexists(path / "old.txt")
        assert reader.read() == "v=1\n"  # whole old file, never half of a new one
        reader.close()
        assert not (path / first_version).exists()  # the old version is gone
        assert sorted(p.name for p in path.iterdir() if p.name.startswith("..")) == \
            sorted([DATA_LINK, os.readlink(path / DATA_LINK)])
        await client.delete(CONFIGMAPS, "app", ns)  # a vanished source leaves the files as they were
        assert await vm.resync(pod) == [] and (path / "app.conf").read_text() == "v=2\n"


async def test_missing_config_map_fails_the_mount_unless_optional():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [{"name": "conf", "configMap": {"name": "absent"}}])
        with pytest.raises(VolumeSetupError) as info:
            await vm.mount_pod_volumes(pod)
        assert str(info.value) == 'MountVolume.SetUp failed for volume "conf" : configmap "absent" not found'
        await client.create(CONFIGMAPS, {"metadata": {"name": "present"}, "data": {"a": "1"}}, ns)
        pod = make_pod(ns, [{"name": "conf", "configMap": {"name": "present", "items": [{"key": "b", "path": "b"}]}}])
        with pytest.raises(VolumeSetupError, match="configmap references non-existent config key: b"):
            await vm.mount_pod_volumes(pod)
        pod = make_pod(ns, [{"name": "conf", "configMap": {"name": "absent", "optional": True}}])
        path = (await vm.mount_pod_volumes(pod)).paths["conf"]
        assert [p.name for p in path.iterdir() if not p.name.startswith("..")] == []


async def test_downward_api_files_follow_label_changes():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [{"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        ]}}], containers=[{"name": "c", "image": "busybox", "resources": {"limits": {"memory": "32Mi"}}}])
        path = (await vm.mount_pod_volumes(pod)).paths["info"]
        assert (path / "labels").read_text() == 'app="web"'
        assert (path / "name").read_text() == pod["metadata"]["name"] and (path / "mem").read_text() == "32"
        pod["metadata"]["labels"] = {"app": "web", "tier": "front"}
        assert await vm.resync(pod) == ["info"]
        assert (path / "labels").read_text() == 'app="web"\ntier="front"'


@pytest.mark.parametrize("kind,prepare,error", [
    ("", None, None),
    ("DirectoryOrCreate", None, None),
    ("Directory", "dir", None),
    ("Directory", None, "is not a directory"),
    ("Directory", "file", "is not a directory"),
    ("FileOrCreate", None, None),
    ("File", "file", None),
    ("File", "dir", "is not a file"),
    ("Socket", "socket", None),
    ("Socket", "file", "is not a socket file"),
    ("CharDevice", "chardev", None),
    ("CharDevice", "file", "is not a character device"),
    ("BlockDevice", "file", "is not a block device"),
])
async def test_host_path_type_checks(kind, prepare, error):
    with kubelet_root() as scratch:
        target = scratch / "thing"
        listener = None
        if prepare == "dir":
            target.mkdir()
        elif prepare == "file":
            target.write_text("x")
        elif prepare == "socket":
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(target))
        elif prepare == "chardev":
            target = Path("/dev/null")
        try:
            async with cluster() as (client, ns), manager(client) as vm:
                pod = make_pod(ns, [{"name": "h", "hostPath": {"path": str(target), "type": kind}}])
                if error:
                    with pytest.raises(VolumeSetupError, match=f"hostPath type check failed: {target} {error}"):
                        await vm.mount_pod_volumes(pod)
                    return
                assert (await vm.mount_pod_volumes(pod)).paths["h"] == target
                if kind == "DirectoryOrCreate":
                    assert target.is_dir()
                if kind == "FileOrCreate":
                    assert target.is_file()
                await vm.unmount_pod_volumes(pod["metadata"]["uid"])
                assert target.exists() == bool(prepare or kind.endswith("OrCreate"))  # the node's own path stays
        finally:
            if listener is not None:
                listener.close()


async def test_orphaned_pod_directories_are_unmounted_and_removed_at_start():
    async with cluster() as (client, ns), manager(client) as vm:
        keep = make_pod(ns, [{"name": "m", "emptyDir": {"medium": "Memory"}}])
        orphan = make_pod(ns, [{"name": "m", "emptyDir": {"medium": "Memory"}}])
        await vm.mount_pod_volumes(keep)
        await vm.mount_pod_volumes(orphan)
        assert len(fs.mounts_under(vm.root_dir)) == 2
        removed = await vm.cleanup_orphans({keep["metadata"]["uid"]})
        assert removed == [orphan["metadata"]["uid"]]
        assert not vm.pod_dir(orphan["metadata"]["uid"]).exists()
        assert fs.mounts_under(vm.root_dir) == [str(vm.pod_dir(keep["metadata"]["uid"]) /
                                                   "volumes/kubernetes.io~empty-dir/m")]


async def test_unknown_volume_type_is_a_setup_error():
    async with cluster() as (client, ns), manager(client) as vm:
        pod = make_pod(ns, [{"name": "x", "nfs": {"server": "h", "path": "/"}}])
        with pytest.raises(VolumeSetupError, match="volume type 'nfs' is not supported"):
            await vm.mount_pod_volumes(pod)


async def test_fs_group_owns_config_map_files_and_an_unchanged_resync_writes_nothing():
    async with cluster() as (client, ns), manager(client) as vm:
        await client.create(CONFIGMAPS, {"metadata": {"name": "app"}, "data": {"a": "1"}}, ns)
        pod = make_pod(ns, [{"name": "conf", "configMap": {"name": "app", "defaultMode": 0o400}}],
                       securityContext={"fsGroup": 3000})
        path = (await vm.mount_pod_volumes(pod)).paths["conf"]
        real = (path / "a").resolve()
        assert os.stat(real).st_gid == 3000 and mode(real) == 0o440  # group may read, nobody writes
        assert await vm.resync(pod) == [] and (path / "a").resolve() == real


@requires_root
def test_filesystem_type_of_mount_points_and_plain_directories(tmp_path):
    plain, memory, spaced = tmp_path / "plain", tmp_path / "memory", tmp_path / "with a\\space"
    for directory in (plain, memory, spaced):
        directory.mkdir()
    try:
        fs.mount_tmpfs(memory)
        fs.mount_tmpfs(spaced)
        assert fs.filesystem_type(memory) == "tmpfs"  # known by its magic: no mountinfo read
        assert fs.filesystem_type(spaced) == "tmpfs"
        assert fs.filesystem_type(plain) == ""
        assert fs.filesystem_type(tmp_path / "missing") == ""
        fs.bind_mount(str(plain), plain)  # a mount point on the same file system: found in mountinfo
        assert fs.filesystem_type(plain) != ""
        assert str(spaced) in fs.mount_points() and fs.is_mount_point(plain)
        assert fs.mounts_under(spaced) == [str(spaced)]  # mountinfo spells it with octal escapes
        assert sorted(fs.mounts_under(tmp_path)) == sorted(map(str, (plain, memory, spaced)))
        assert fs.has_own_tmpfs(memory) and fs.has_own_tmpfs(spaced)
        assert not fs.has_own_tmpfs(plain) and not fs.has_own_tmpfs(tmp_path / "missing")
    finally:
        for directory in (plain, memory, spaced):
            while fs.umount(directory):
                pass
