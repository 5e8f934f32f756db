"""Layer unpacking is safe against hostile tars, and whiteouts work through a real overlay mount."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import uuid

import pytest

from kybernetes.kubelet.images import rootfs
from kybernetes.kubelet.images.errors import ImageNotFoundError, LayerUnpackError
from kybernetes.kubelet.images.store import ImageStore
from kybernetes.kubelet.images.unpack import OPAQUE_XATTR, is_overlay_whiteout, unpack_layer
from tests.support.oci import busybox_layer, compress, files_layer, tar_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts and whiteout devices need root")


def entry(name: str, type_=tarfile.REGTYPE, linkname: str = "", data: bytes | None = None):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = type_, linkname, 0o644
    return info, (data if data is not None or type_ != tarfile.REGTYPE else b"x")


def snapshot(path) -> set[str]:
    return {os.path.join(d, n) for d, dirs, files in os.walk(path) for n in dirs + files}


@pytest.fixture
def outside(tmp_path):
    """A directory beside the store that no layer may ever write into."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "keep").write_text("untouched")
    return path


@pytest.mark.parametrize("entries", [
    pytest.param(lambda out: [entry("../../outside/evil")], id="dotdot"),
    pytest.param(lambda out: [entry(f"{out}/evil")], id="absolute"),
    pytest.param(lambda out: [entry("a/../../evil")], id="dotdot-inside"),
    pytest.param(lambda out: [entry("link", tarfile.SYMTYPE, str(out)), entry("link/evil")], id="through-symlink"),
    pytest.param(lambda out: [entry("link", tarfile.SYMTYPE, "../../outside"), entry("link/evil")],
                 id="through-relative-symlink"),
    pytest.param(lambda out: [entry("d", tarfile.DIRTYPE), entry("d/x"), entry("d", tarfile.SYMTYPE, str(out)),
                              entry("d/x/evil")], id="dir-replaced-by-symlink"),
    pytest.param(lambda out: [entry("hard", tarfile.LNKTYPE, f"{out}/keep")], id="hardlink-absolute"),
    pytest.param(lambda out: [entry("hard", tarfile.LNKTYPE, "../outside/keep")], id="hardlink-dotdot"),
    pytest.param(lambda out: [entry("link", tarfile.SYMTYPE, str(out)), entry("hard", tarfile.LNKTYPE, "link/keep")],
                 id="hardlink-through-symlink"),
    pytest.param(lambda out: [entry("link", tarfile.SYMTYPE, str(out)), entry("link/.wh.keep", data=b"")],
                 id="whiteout-through-symlink"),
    pytest.param(lambda out: [entry("../.wh.outside", data=b"")], id="whiteout-dotdot"),
    pytest.param(lambda out: [entry("dir/.wh..", data=b"")], id="whiteout-of-parent"),
])
def test_path_traversal_is_refused_and_nothing_is_written_outside(tmp_path, outside, entries):
    store = ImageStore(tmp_path / "store")
    layer = tar_layer(entries(outside))
    before = snapshot(tmp_path)
    with pytest.raises(LayerUnpackError):
        store.unpack_layer(io.BytesIO(compress(layer.tar, "gzip")), layer.diff_id)
    assert snapshot(tmp_path) == before  # nothing new anywhere: not outside, not in the store
    assert (outside / "keep").read_text() == "untouched"
    assert not store.has_layer(layer.diff_id)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_unpack_keeps_files_links_and_modes(tmp_path, compression):
    layer = tar_layer([
        entry("bin", tarfile.DIRTYPE), entry("bin/tool", data=b"#!/bin/sh\n"),
        entry("bin/alias", tarfile.SYMTYPE, "/bin/tool"),  # absolute targets are fine: resolved in the container
        entry("bin/up", tarfile.SYMTYPE, "../../../../etc/shadow"),  # never followed here
        entry("bin/hard", tarfile.LNKTYPE, "bin/tool"),
        entry("dev", tarfile.DIRTYPE), entry("dev/sda", tarfile.BLKTYPE), entry("dev/null", tarfile.CHRTYPE),
    ])
    layer_tar = layer.tar
    dest = tmp_path / "fs"
    dest.mkdir()
    result = unpack_layer(io.BytesIO(compress(layer_tar, compression)), str(dest))
    assert result.diff_id == layer.diff_id
    assert (dest / "bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert os.readlink(dest / "bin/alias") == "/bin/tool"
    assert os.readlink(dest / "bin/up") == "../../../../etc/shadow"
    assert os.stat(dest / "bin/hard").st_ino == os.stat(dest / "bin/tool").st_ino
    assert os.listdir(dest / "dev") == []  # device nodes are skipped


def test_a_corrupt_layer_is_a_typed_error(tmp_path):
    store = ImageStore(tmp_path / "store")
    good = busybox_layer()
    with pytest.raises(LayerUnpackError):
        store.unpack_layer(io.BytesIO(compress(good.tar, "gzip")[:5000]), good.diff_id)
    with pytest.raises(LayerUnpackError, match="diffID"):
        store.unpack_layer(io.BytesIO(compress(good.tar, "gzip")), "sha256:" + "1" * 64)
    assert not list((store.root / "ingest").iterdir())


@needs_root
def test_whiteouts_hide_lower_files_in_the_overlay(tmp_path):
    store = ImageStore(tmp_path / "store")
    base = files_layer({"etc/keep": "k", "etc/old": "gone soon", "var/cache/a": "1", "var/cache/b": "2"})
    top = files_layer({"var/cache/new": "3"}, whiteouts=("etc/old",), opaque_dirs=("var/cache",))
    for layer in (base, top):
        store.unpack_layer(io.BytesIO(compress(layer.tar, "gzip")), layer.diff_id)
    top_fs = store.layer_fs(top.diff_id)
    assert is_overlay_whiteout(str(top_fs / "etc/old"))
    assert os.getxattr(top_fs / "var/cache", OPAQUE_XATTR) == b"y"
    record = store.commit_image(b'{"rootfs":{"diff_ids":[]}}', [base.diff_id, top.diff_id],
                                ["docker.io/library/wh:1"])
    container = f"test-{uuid.uuid4().hex[:12]}"
    mount = rootfs.prepare_rootfs(store, record.id, container)
    try:
        root = mount.path
        assert os.path.ismount(root)
        assert mount.lowerdirs == (str(top_fs), str(store.layer_fs(base.diff_id)))
        assert open(os.path.join(root, "etc/keep")).read() == "k"
        assert not os.path.exists(os.path.join(root, "etc/old"))  # the whiteout hides the lower file
        assert sorted(os.listdir(os.path.join(root, "var/cache"))) == ["new"]  # opaque: lower entries hidden
        with open(os.path.join(root, "etc/written"), "w") as f:  # writes go to the container's upper dir
            f.write("mine")
        assert os.path.exists(os.path.join(mount.upperdir, "etc/written"))
        assert not os.path.exists(store.layer_fs(base.diff_id) / "etc/written")
        # idempotent, and a second container shares the layers
        assert rootfs.prepare_rootfs(store, record.id, container) == mount
        other = rootfs.prepare_rootfs(store, "docker.io/library/wh:1", container + "-b")
        assert not os.path.exists(os.path.join(other.path, "etc/written"))
        rootfs.release_rootfs(store, other.container_id)
        # a removed image's layers stay while a container uses them
        store.remove(record.id)
        assert store.has_layer(base.diff_id)
    finally:
        rootfs.release_rootfs(store, container)
    assert not os.path.ismount(root) and not os.path.exists(os.path.dirname(root))
    assert not store.has_layer(base.diff_id)  # released: nothing refers to the layers any more
    rootfs.release_rootfs(store, container)  # idempotent


@needs_root
def test_releasing_a_container_whose_image_is_stored_skips_the_prune_scan(tmp_path, monkeypatch):
    store = ImageStore(tmp_path / "store")
    layer = files_layer({"etc/keep": b"k"})
    store.unpack_layer(io.BytesIO(layer.tar), layer.diff_id)
    record = store.commit_image(b'{"rootfs":{"diff_ids":[]}}', [layer.diff_id], ["docker.io/library/kept:1"])
    containers = [f"test-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for container in containers:
        rootfs.prepare_rootfs(store, record.id, container)
    scans = []
    real_scan = store.container_records
    monkeypatch.setattr(store, "container_records", lambda: scans.append(1) or real_scan())
    rootfs.release_rootfs(store, containers[0])
    assert scans == []  # the image keeps its layers: nothing to prune, no read of every container record
    assert store.has_layer(layer.diff_id)
    store.remove(record.id)  # a prune of its own (the other container still holds the layer)
    assert store.has_layer(layer.diff_id)
    scans.clear()
    rootfs.release_rootfs(store, containers[1])
    assert scans  # the image is gone: the release prunes, and the layer goes with its last user
    assert not store.has_layer(layer.diff_id)
    assert not os.listdir(store.root / "containers")


@needs_root
def test_prepare_rootfs_of_a_missing_image_fails_cleanly(tmp_path):
    store = ImageStore(tmp_path / "store")
    with pytest.raises(ImageNotFoundError):
        rootfs.prepare_rootfs(store, "sha256:" + "2" * 64, "c1")
    assert not list((store.root / "containers").iterdir())


def test_whiteout_device_is_a_char_device_0_0(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    dest = tmp_path / "fs"
    dest.mkdir()
    unpack_layer(io.BytesIO(files_layer(whiteouts=("a/b",)).tar), str(dest))
    st = os.lstat(dest / "a/b")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


@needs_root
def test_container_starts_note_image_use_once_a_minute_and_reuse_the_config(tmp_path, monkeypatch):
    clock = iter(range(1000, 2000))
    store = ImageStore(tmp_path / "store", now=lambda: float(next(clock)))
    layer = files_layer({"etc/keep": b"k"})
    store.unpack_layer(io.BytesIO(layer.tar), layer.diff_id)
    record = store.commit_image(b'{"config":{"Cmd":["sh"]},"rootfs":{"diff_ids":[]}}', [layer.diff_id],
                                ["docker.io/library/used:1"])
    first_use = store.get(record.id).last_used
    containers = [f"test-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    try:
        rootfs.prepare_rootfs(store, record.id, containers[0])
        noted = store.get(record.id).last_used
        assert noted > first_use  # the first start writes last_used (image GC is least-recently-used first)
        rootfs.prepare_rootfs(store, record.id, containers[1])
        assert store.get(record.id).last_used == noted  # within the minute: no record write
        monkeypatch.setattr(rootfs, "TOUCH_INTERVAL", 0.0)
        rootfs.prepare_rootfs(store, record.id, containers[2])
        assert store.get(record.id).last_used > noted
    finally:
        for container in containers:
            rootfs.release_rootfs(store, container)
    assert store.image_config(record.id).cmd == ("sh",)
    store.blob_path(record.id).unlink()  # content-addressed: read once, then served from memory
    assert store.image_config("docker.io/library/used:1").cmd == ("sh",)
