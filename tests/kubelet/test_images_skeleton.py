"""Mount points an image lacks come from a shared read-only skeleton (the topmost lowerdir), so
runc creates nothing in a container's upper dir; the image's own view (symlinks, files, directory
attributes) is unchanged, and a skeleton lives while its image is stored or a container uses it."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import tarfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kybernetes.kubelet.images import rootfs
from kybernetes.kubelet.images.store import ImageStore
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc.images import StoreImages
from kybernetes.kubelet.runtime.runc.spec import mount_destinations, mounts
from tests.kubelet.test_runc_support import requires_runc, runc_runtime, sandbox_config, wait_exit
from tests.support.oci import _info, busybox_layer, files_layer, tar_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
POINTS = (("/proc", True), ("/sys", True), ("/dev", True), ("/etc/hosts", False), ("/etc/hostname", False),
          ("/etc/resolv.conf", False), (SA, True))


def tree(path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, n), path) for d, dirs, files in os.walk(path) for n in dirs + files)


def add_image(store: ImageStore, *layers, tag: str = "docker.io/library/skel:1") -> str:
    for layer in layers:
        store.unpack_layer(io.BytesIO(layer.tar), layer.diff_id)
    return store.commit_image(f'{{"rootfs":{{"diff_ids":[]}},"n":"{tag}"}}'.encode(),
                              [layer.diff_id for layer in layers], [tag]).id


@pytest.fixture
def containers(tmp_path):
    """A store and a name maker; every container named is released (unmounted) at the end."""
    store = ImageStore(tmp_path / "store")
    names: list[str] = []
    rootfs._skeletons.clear()

    def name() -> str:
        names.append(f"test-{uuid.uuid4().hex[:12]}")
        return names[-1]
    try:
        yield store, name
    finally:
        for cid in names:
            rootfs.release_rootfs(store, cid)


@needs_root
def test_missing_mount_points_come_from_one_shared_skeleton(containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    first = rootfs.prepare_rootfs(store, image, name(), POINTS)
    assert first.skeleton and first.lowerdirs[0] == str(rootfs.skeleton_dir(store, first.skeleton))
    assert os.listdir(first.upperdir) == []  # nothing made in the container's own upper dir
    root = Path(first.path)
    for path, is_dir in POINTS:
        assert (root / path.lstrip("/")).is_dir() if is_dir else (root / path.lstrip("/")).is_file(), path
    assert (root / "etc/passwd").read_text().startswith("root:")  # the image's /etc is merged, not hidden
    assert (root / "bin/busybox").exists()
    skeleton = rootfs.skeleton_dir(store, first.skeleton)
    assert tree(skeleton) == ["dev", "etc", "etc/hostname", "etc/hosts", "etc/resolv.conf", "proc", "sys", "var",
                              "var/run", "var/run/secrets", "var/run/secrets/kubernetes.io",
                              "var/run/secrets/kubernetes.io/serviceaccount"]
    inode = skeleton.stat().st_ino
    second = rootfs.prepare_rootfs(store, image, name(), list(reversed(POINTS)))  # same set, other order
    assert second.skeleton == first.skeleton and second.lowerdirs == first.lowerdirs
    assert os.listdir(store.root / "skeletons") == [first.skeleton] and skeleton.stat().st_ino == inode
    assert os.listdir(second.upperdir) == []
    (root / "etc/written").write_text("mine")  # writes still go to the upper dir, never the skeleton
    assert (Path(first.upperdir) / "etc/written").exists() and not (skeleton / "etc/written").exists()
    assert not (Path(second.path) / "etc/written").exists()
    other = rootfs.prepare_rootfs(store, image, name(), POINTS[:2])  # another set: another skeleton
    assert other.skeleton not in ("", first.skeleton) and tree(rootfs.skeleton_dir(store, other.skeleton)) == [
        "proc", "sys"]


@needs_root
def test_a_symlink_on_the_way_is_left_alone(containers):
    store, name = containers
    image = add_image(store, busybox_layer(), files_layer(dirs=("run", "var/lib"), symlinks={"var/run": "../run"}))
    mount = rootfs.prepare_rootfs(store, image, name(), ((SA, True), ("/proc", True)))
    assert os.readlink(os.path.join(mount.path, "var/run")) == "../run"
    assert tree(rootfs.skeleton_dir(store, mount.skeleton)) == ["proc"]  # nothing under var/, not even var/
    assert sorted(os.listdir(os.path.join(mount.path, "var"))) == ["lib", "run"]


@needs_root
def test_a_file_where_a_directory_is_wanted_is_left_alone(containers):
    store, name = containers
    image = add_image(store, busybox_layer(), files_layer({"data": "a file", "opt": "another"}))
    mount = rootfs.prepare_rootfs(store, image, name(), (("/data", True), ("/opt/x/y", True), ("/proc", True)))
    assert tree(rootfs.skeleton_dir(store, mount.skeleton)) == ["proc"]
    assert Path(mount.path, "data").read_text() == "a file" and Path(mount.path, "opt").read_text() == "another"


@needs_root
def test_nothing_missing_means_no_skeleton(containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    plain = rootfs.prepare_rootfs(store, image, name())
    mount = rootfs.prepare_rootfs(store, image, name(), (("/etc/passwd", False), ("/tmp", True), ("/bin", True)))
    assert mount.skeleton == "" and mount.lowerdirs == plain.lowerdirs
    again = rootfs.prepare_rootfs(store, image, name(), (("/etc/passwd", False), ("/tmp", True), ("/bin", True)))
    assert again.lowerdirs == plain.lowerdirs
    assert not (store.root / "skeletons").exists() or os.listdir(store.root / "skeletons") == []


@needs_root
def test_image_directories_keep_their_mode_owner_and_times(containers):
    store, name = containers
    entries = []
    for path, mode, uid, gid, mtime in (("etc", 0o751, 123, 456, 1_000_000), ("var", 0o1770, 7, 8, 2_000_000),
                                        ("var/lib", 0o700, 9, 10, 3_000_000)):
        info = _info(path, tarfile.DIRTYPE, mode)
        info.uid, info.gid, info.mtime = uid, gid, mtime
        entries.append((info, None))
    image = add_image(store, busybox_layer(), tar_layer(entries))
    plain = rootfs.prepare_rootfs(store, image, name())
    mount = rootfs.prepare_rootfs(store, image, name(), (("/etc/hosts", False), ("/var/lib/x/y", True),
                                                         ("/var/run", True)))
    assert mount.skeleton and os.listdir(mount.upperdir) == []
    for path in ("etc", "var", "var/lib", "bin"):
        want, got = os.stat(os.path.join(plain.path, path)), os.stat(os.path.join(mount.path, path))
        assert (got.st_mode, got.st_uid, got.st_gid, got.st_mtime_ns) == (
            want.st_mode, want.st_uid, want.st_gid, want.st_mtime_ns), path
    want, got = os.stat(plain.path), os.stat(mount.path)  # "/" is the upper dir's own (made per container)
    assert (got.st_mode, got.st_uid, got.st_gid) == (want.st_mode, want.st_uid, want.st_gid)
    assert stat.S_IMODE(os.stat(os.path.join(mount.path, "var")).st_mode) == 0o1770
    assert os.stat(os.path.join(mount.path, "etc")).st_mtime == 1_000_000
    made = os.stat(os.path.join(mount.path, "var/lib/x"))
    assert (stat.S_IMODE(made.st_mode), made.st_uid, made.st_gid) == (0o755, 0, 0)
    hosts = os.stat(os.path.join(mount.path, "etc/hosts"))
    assert stat.S_ISREG(hosts.st_mode) and stat.S_IMODE(hosts.st_mode) == 0o644 and hosts.st_size == 0


@needs_root
def test_a_skeleton_outlives_its_containers_while_its_image_is_stored_and_a_new_store_remounts_with_it(
        containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    first, second = name(), name()
    mount = rootfs.prepare_rootfs(store, image, first, POINTS)
    rootfs.prepare_rootfs(store, image, second, POINTS)
    rootfs._unmount(mount.path)  # as after a reboot; and a new kubelet process: nothing in memory
    rootfs._skeletons.clear()
    restarted = ImageStore(store.root)
    again = rootfs.prepare_rootfs(restarted, image, first)
    assert again == mount and os.path.ismount(mount.path)
    assert os.path.isdir(os.path.join(mount.path, SA.lstrip("/"))) and os.listdir(mount.upperdir) == []
    assert rootfs.mounted_rootfs(restarted)[first].skeleton == mount.skeleton
    rootfs.release_rootfs(restarted, first)
    assert os.listdir(store.root / "skeletons") == [mount.skeleton]  # the second container still uses it
    rootfs.release_rootfs(restarted, second)
    assert os.listdir(store.root / "skeletons") == [mount.skeleton]  # pods come and go: kept for the next
    assert store.disk_bytes() > 0
    restarted.remove(image)
    assert os.listdir(store.root / "skeletons") == []


@needs_root
def test_a_skeleton_made_meanwhile_by_another_builder_is_used(containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    mount = rootfs.prepare_rootfs(store, image, name(), POINTS)
    rootfs._skeletons.clear()  # this process never saw it: builds again, and its rename finds one there
    other = rootfs.prepare_rootfs(store, image, name(), POINTS)
    assert other.skeleton == mount.skeleton and os.listdir(store.root / "skeletons") == [mount.skeleton]
    assert os.listdir(other.upperdir) == [] and os.listdir(store.root / "ingest") == []
    assert os.path.isdir(os.path.join(other.path, "proc"))


@needs_root
def test_a_burst_of_first_containers_makes_one_skeleton(containers, monkeypatch):
    store, name = containers
    image = add_image(store, busybox_layer())
    built = []
    build = rootfs._build_skeleton
    monkeypatch.setattr(rootfs, "_build_skeleton", lambda *args: built.append(args) or build(*args))
    names = [name() for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        mounts = list(pool.map(lambda cid: rootfs.prepare_rootfs(store, image, cid, POINTS), names))
    assert len(built) == 1 and len({m.skeleton for m in mounts}) == 1 and mounts[0].skeleton
    assert all(os.listdir(m.upperdir) == [] and os.path.isdir(os.path.join(m.path, "proc")) for m in mounts)
    assert os.listdir(store.root / "ingest") == []


@needs_root
def test_a_pruned_skeleton_is_made_again(containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    first = name()
    key = rootfs.prepare_rootfs(store, image, first, POINTS).skeleton
    rootfs.release_rootfs(store, first)
    shutil.rmtree(rootfs.skeleton_dir(store, key))  # by hand: the memory says "made", the stat says gone
    mount = rootfs.prepare_rootfs(store, image, name(), POINTS)
    assert mount.skeleton == key and os.listdir(mount.upperdir) == []
    assert os.path.isdir(os.path.join(mount.path, "proc"))


@needs_root
def test_many_layers_take_the_skeleton_relative_too(containers):
    store, name = containers
    layers = [busybox_layer()] + [files_layer({f"layer{i}/f": str(i)}) for i in range(40)]
    image = add_image(store, *layers)
    mount = rootfs.prepare_rootfs(store, image, name(), POINTS)
    assert len(":".join(mount.lowerdirs)) > rootfs._PAGE  # absolute lowerdirs would not fit in a page
    assert mount.skeleton and os.listdir(mount.upperdir) == []
    assert os.path.isdir(os.path.join(mount.path, "proc")) and os.path.isfile(os.path.join(mount.path, "layer39/f"))
    assert Path(mount.path, "bin/busybox").exists()


def test_mount_points_of_a_spec_leave_out_nested_destinations(tmp_path):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    for file in ("hostname", "hosts", "resolv.conf"):
        (sandbox / file).write_text("x")
    (tmp_path / "token-dir").mkdir()
    (tmp_path / "termination-log").write_text("")
    config = cri.ContainerConfig(cri.ContainerMetadata("c"), cri.ImageSpec("busybox"), mounts=(
        cri.Mount(SA + "/", str(tmp_path / "token-dir"), readonly=True),
        cri.Mount("/dev/termination-log", str(tmp_path / "termination-log")),
        cri.Mount("/data", str(tmp_path / "token-dir")),
        cri.Mount("/data/inner", str(tmp_path / "termination-log")),
        cri.Mount("/config.yaml", str(tmp_path / "termination-log")),
    ))
    points = mount_destinations(mounts(config, str(sandbox), privileged=False)[0])
    assert sorted(points) == [("/config.yaml", False), ("/data", True), ("/dev", True), ("/etc/hostname", False),
                              ("/etc/hosts", False), ("/etc/resolv.conf", False), ("/proc", True), ("/sys", True),
                              (SA, True)]
    assert mount_destinations(mounts(cri.ContainerConfig(cri.ContainerMetadata("c"), cri.ImageSpec("busybox")), "", True)[0]) == [
        ("/proc", True), ("/dev", True), ("/sys", True)]


@requires_runc
async def test_a_runc_container_sees_its_service_account_mount_and_leaves_its_upper_dir_empty(tmp_path):
    rootfs._skeletons.clear()
    store = ImageStore(tmp_path / "images")
    add_image(store, busybox_layer(), tag="docker.io/library/skel:1")
    token = tmp_path / "sa"
    token.mkdir()
    (token / "token").write_text("secret-token")
    async with runc_runtime(tmp_path, StoreImages(store)) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        config = cri.ContainerConfig(
            cri.ContainerMetadata("c"), cri.ImageSpec("skel:1"),
            command=("sh", "-c", f"cat {SA}/token && test -d /proc/self && test -f /etc/hosts && ls -ld /etc"),
            mounts=(cri.Mount(SA, str(token), readonly=True),))
        container_id = await rt.create_container(sandbox_id, config, sandbox_config())
        await rt.start_container(container_id)
        status = await wait_exit(rt, container_id)
        lines = [line.split(" ", 3)[3] for line in Path(status.log_path).read_text().splitlines()]
        assert status.exit_code == 0, lines
        assert lines[0] == "secret-token" and lines[1].startswith("drwxr-xr-x")
        upper = store.root / "containers" / container_id / "upper"
        assert tree(upper) == []  # runc found every mount point: it made none
        assert len(os.listdir(store.root / "skeletons")) == 1
        await rt.remove_pod_sandbox(sandbox_id)
    assert len(os.listdir(store.root / "skeletons")) == 1  # for the image's next container
    store.remove("docker.io/library/skel:1")
    assert os.listdir(store.root / "skeletons") == []


@needs_root
def test_overlay_options_are_relative_to_the_store_and_the_process_cwd_stays(containers):
    store, name = containers
    image = add_image(store, busybox_layer())
    cwd = os.getcwd()
    container = name()
    mount = rootfs.prepare_rootfs(store, image, container, POINTS)
    assert os.getcwd() == cwd  # the mount ran on a thread with a working directory of its own
    [line] = [line for line in open("/proc/self/mountinfo") if line.split(" ", 5)[4] == mount.path]
    options = line.split(" - ", 1)[1]
    assert f"upperdir=containers/{container}/upper" in options and f"workdir=containers/{container}/work" in options
    assert f"lowerdir=skeletons/{mount.skeleton}:layers/" in options
    assert str(store.root) not in options  # the node's mountinfo stays short: runc reads it whole
    assert Path(mount.path, "bin/busybox").exists()


@needs_root
def test_a_runtime_container_dir_is_named_by_16_hex_digits_unless_another_container_has_it(containers):
    store, _ = containers
    image = add_image(store, busybox_layer())
    prefix = secrets.token_hex(8)
    first, second = prefix + secrets.token_hex(24), prefix + secrets.token_hex(24)  # same 16 first digits
    try:
        one = rootfs.prepare_rootfs(store, image, first, POINTS)
        assert Path(one.path).parent == store.root / "containers" / prefix  # short mountinfo lines
        assert rootfs.prepare_rootfs(store, image, first, POINTS) == one  # found again by its id
        two = rootfs.prepare_rootfs(store, image, second, POINTS)
        assert Path(two.path).parent == store.root / "containers" / second  # the short name is taken
        assert set(rootfs.mounted_rootfs(store)) == {first, second}
        rootfs.release_rootfs(store, first)
        assert os.path.ismount(two.path) and not (store.root / "containers" / prefix).exists()
        assert rootfs.prepare_rootfs(store, image, second, POINTS) == two  # still by its full id
    finally:
        for container in (first, second):
            rootfs.release_rootfs(store, container)
    assert not os.listdir(store.root / "containers")
