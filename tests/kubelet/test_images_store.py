"""Archive imports, `kyb images`, image GC, registries.yaml, pull secrets and pull policies."""

from __future__ import annotations

import base64
import io
import os
import time

import pytest
from click.testing import CliRunner

from kybernetes.cli.main import cli
from kybernetes.kubelet.images.archive import import_archive
from kybernetes.kubelet.images.credentials import auth_for_image, parse_challenge
from kybernetes.kubelet.images.errors import ArchiveImportError, RegistriesConfigError
from kybernetes.kubelet.images.gc import garbage_collect
from kybernetes.kubelet.images.manifest import Platform
from kybernetes.kubelet.images.policy import ImageNeverPullError, default_pull_policy, should_pull
from kybernetes.kubelet.images.reference import parse_image_reference
from kybernetes.kubelet.images.registries import DOCKER_HUB_ENDPOINT, load_registries, parse_registries
from kybernetes.kubelet.images.service import default_store_dir
from kybernetes.kubelet.images.store import ImageStore
from tests.support.oci import (
    build_image,
    busybox_layer,
    compress,
    files_layer,
    write_docker_archive,
    write_oci_archive,
)

AMD64 = Platform("linux", "amd64")


@pytest.fixture(scope="module")
def images():
    return {
        "app": build_image([busybox_layer(), files_layer({"app": "1"})], cmd=["cat", "/app"]),
        "tool": build_image([busybox_layer(), files_layer({"tool": "2"})], compression="zstd", media="docker"),
    }


def test_import_oci_archive(tmp_path, images):
    store = ImageStore(tmp_path / "store")
    path = tmp_path / "app.oci.tar"
    write_oci_archive(path, images["app"], "docker.io/library/app:1.0")
    [imported] = import_archive(store, path, AMD64)
    assert imported.record.id == images["app"].config_digest
    assert imported.record.repo_tags == ["docker.io/library/app:1.0"]
    assert imported.record.repo_digests == [f"docker.io/library/app@{images['app'].manifest_digest}"]
    assert store.find("app:1.0").id == imported.record.id
    assert (store.layer_fs(images["app"].diff_ids[1]) / "app").read_text() == "1"
    assert store.image_config(imported.record.id).cmd == ("cat", "/app")


def test_import_docker_save_archive(tmp_path, images):
    store = ImageStore(tmp_path / "store")
    path = tmp_path / "tool.docker.tar"
    write_docker_archive(path, images["tool"], ["tool:2", "registry.example.com/x/tool:2"])
    [imported] = import_archive(store, path, AMD64)
    assert imported.record.repo_tags == ["docker.io/library/tool:2", "registry.example.com/x/tool:2"]
    assert imported.record.repo_digests == []
    assert store.find("registry.example.com/x/tool:2").id == images["tool"].config_digest
    assert (store.layer_fs(images["tool"].diff_ids[1]) / "tool").read_text() == "2"


def test_bad_archives_are_typed_errors(tmp_path, images):
    store = ImageStore(tmp_path / "store")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ArchiveImportError, match="not a readable tar"):
        import_archive(store, junk)
    # a docker archive whose layer does not match the config's diffID
    image = images["app"]
    liar = build_image([busybox_layer(), files_layer({"app": "1"})], cmd=["cat", "/app"])
    liar.layers[1] = files_layer({"app": "evil"})
    path = tmp_path / "liar.tar"
    write_docker_archive(path, liar, ["liar:1"])
    with pytest.raises(ArchiveImportError, match="diffID"):
        import_archive(store, path)
    assert store.images() == [] and not store.has_layer(image.diff_ids[1])


def test_kyb_images_import_ls_rm(tmp_path, images):
    runner = CliRunner()
    data = tmp_path / "data"
    write_oci_archive(tmp_path / "app.tar", images["app"], "docker.io/library/app:1.0")
    write_docker_archive(tmp_path / "tool.tar", images["tool"], ["tool:2"])

    result = runner.invoke(cli, ["images", "import", "--data-dir", str(data), str(tmp_path / "app.tar"),
                                 str(tmp_path / "tool.tar")])
    assert result.exit_code == 0, result.output
    assert "Imported docker.io/library/app:1.0" in result.output

    result = runner.invoke(cli, ["images", "ls", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    rows = {tuple(line.split()[:3]) for line in lines[1:]}
    assert ("docker.io/library/app", "1.0", images["app"].config_digest[7:20]) in rows
    assert ("docker.io/library/tool", "2", images["tool"].config_digest[7:20]) in rows

    result = runner.invoke(cli, ["images", "rm", "--data-dir", str(data), "app:1.0"])
    assert result.exit_code == 0, result.output
    store = ImageStore(default_store_dir(data))
    assert [r.id for r in store.images()] == [images["tool"].config_digest]
    assert not store.has_layer(images["app"].diff_ids[1]) and store.has_layer(busybox_layer().diff_id)

    result = runner.invoke(cli, ["images", "rm", "--data-dir", str(data), "nothing:here"])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(cli, ["images", "rm", "--data-dir", str(data), images["tool"].config_digest[7:19]])
    assert result.exit_code == 0 and store.images() == []
    result = runner.invoke(cli, ["images", "ls", "-q", "--data-dir", str(data)])
    assert result.exit_code == 0 and result.output == ""
    result = runner.invoke(cli, ["images", "import", "--data-dir", str(data), str(tmp_path / "missing.tar")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_gc_removes_least_recently_used_unused_images_down_to_the_low_mark(tmp_path):
    clock = iter(range(1000, 2000))
    store = ImageStore(tmp_path / "store", now=lambda: float(next(clock)))
    ids = []
    for i in range(4):  # one 100 kB layer each, committed in order (older first)
        layer = files_layer({f"blob{i}": bytes([i]) * 100_000})
        store.unpack_layer(io.BytesIO(compress(layer.tar, "gzip")), layer.diff_id)
        ids.append(store.commit_image(f'{{"n":{i},"rootfs":{{"diff_ids":[]}}}}'.encode(), [layer.diff_id],
                                      [f"docker.io/library/img{i}:1"]).id)
    store.touch(ids[0])  # used just now: the newest
    capacity = 500_000

    def usage():
        return capacity, sum(r.size for r in store.images())

    assert garbage_collect(store, 90, 80, disk_usage=usage).removed == []  # 80% used: under the high mark
    capacity = 420_000  # ~95% used: free down to 60% (252 kB) -> two images go
    result = garbage_collect(store, 90, 60, in_use=[ids[1]], disk_usage=usage)
    assert result.removed == [ids[2], ids[3]]  # ids[1] is in use, ids[0] used most recently
    assert result.freed_bytes >= 200_000
    assert {r.id for r in store.images()} == {ids[0], ids[1]}
    with pytest.raises(ValueError):
        garbage_collect(store, 50, 80, disk_usage=usage)


def test_registries_yaml(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    path = tmp_path / "registries.yaml"
    path.write_text(f"""
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000", "https://mirror.example.com/v2"]
  "*":
    endpoint: ["https://all.example.com"]
configs:
  mirror.example.com:
    auth: {{username: u, password: p}}
    tls: {{ca_file: {ca}, insecure_skip_verify: true}}
  other.example.com:
    auth: {{auth: {base64.b64encode(b"a:b:c").decode()}}}
""")
    config = load_registries(path)
    assert [e.url for e in config.endpoints("docker.io")] == [
        "http://127.0.0.1:5000", "https://mirror.example.com", DOCKER_HUB_ENDPOINT]
    assert [e.url for e in config.endpoints("quay.io")] == ["https://all.example.com", "https://quay.io"]
    assert config.config_for("mirror.example.com").auth.username == "u"
    assert config.config_for("mirror.example.com").tls.insecure_skip_verify is True
    assert (config.config_for("other.example.com").auth.username,
            config.config_for("other.example.com").auth.password) == ("a", "b:c")
    config.default_endpoint = False
    assert [e.url for e in config.endpoints("docker.io")][-1] == "https://mirror.example.com"
    assert load_registries(tmp_path / "absent.yaml").mirrors == {}
    assert [e.url for e in parse_registries(None).endpoints("localhost:5000")] == ["http://localhost:5000"]

    with pytest.raises(RegistriesConfigError, match="plain HTTP"):
        parse_registries({"mirrors": {"docker.io": {"endpoint": ["http://10.0.0.1:5000"]}}})
    with pytest.raises(RegistriesConfigError, match="list of URLs"):
        parse_registries({"mirrors": {"docker.io": {"endpoint": "http://127.0.0.1"}}})
    with pytest.raises(RegistriesConfigError, match="does not exist"):
        parse_registries({"configs": {"r": {"tls": {"ca_file": "/nonexistent/ca.pem"}}}})
    path.write_text("mirrors: [unclosed")
    with pytest.raises(RegistriesConfigError):
        load_registries(path)


def test_pull_secret_lookup():
    auths = [{"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
        "registry.example.com": {"username": "generic", "password": "x"},
        "registry.example.com/team": {"username": "team", "password": "y"},
        "*.corp.example": {"username": "glob", "password": "z"},
    }}]
    assert auth_for_image(auths, parse_image_reference("nginx")).username == "hub"
    assert auth_for_image(auths, parse_image_reference("registry.example.com/team/app")).username == "team"
    assert auth_for_image(auths, parse_image_reference("registry.example.com/other/app")).username == "generic"
    assert auth_for_image(auths, parse_image_reference("r1.corp.example/app")).username == "glob"
    assert auth_for_image(auths, parse_image_reference("a.b.corp.example/app")) is None
    assert auth_for_image(auths, parse_image_reference("quay.io/app")) is None
    assert parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:library/nginx:pull"') == (
        "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                   "scope": "repository:library/nginx:pull"})


def test_pull_policies():
    assert default_pull_policy("nginx") == "Always"
    assert default_pull_policy("nginx:latest") == "Always"
    assert default_pull_policy("nginx:1.27") == "IfNotPresent"
    assert default_pull_policy("localhost:5000/app") == "Always"
    assert default_pull_policy("nginx@sha256:" + "a" * 64) == "IfNotPresent"
    assert should_pull("Always", True) and should_pull("IfNotPresent", False)
    assert not should_pull("IfNotPresent", True) and not should_pull("Never", True)
    with pytest.raises(ImageNeverPullError):
        should_pull("Never", False)
    with pytest.raises(ValueError):
        should_pull("Sometimes", True)


def _rewrite_in_place(record_file, old: str, new: str) -> None:
    """Change a record file without touching its directory (what no writer of the store does)."""
    with open(record_file, "r+") as f:
        text = f.read().replace(old, new)
        f.seek(0)
        f.write(text)
        f.truncate()


def test_lookups_come_from_memory_until_another_store_changes_the_records(tmp_path, images):
    path = tmp_path / "app.oci.tar"
    write_oci_archive(path, images["app"], "docker.io/library/app:1.0")
    ours, theirs = ImageStore(tmp_path / "store"), ImageStore(tmp_path / "store")  # theirs: `kyb images`
    [imported] = import_archive(theirs, path, AMD64)
    [record_file] = (tmp_path / "store" / "images").glob("*.json")

    # just written: the directory has not settled, so every lookup reads the files
    assert ours.find("app:1.0").id == imported.record.id
    _rewrite_in_place(record_file, "app:1.0", "app:1.1")
    assert ours.find("app:1.0") is None and ours.find("app:1.1").id == imported.record.id

    # settled: answered from memory, so a change that leaves the directory alone is not seen ...
    past = time.time() - 60
    os.utime(record_file.parent, (past, past))
    assert ours.find("app:1.1").id == imported.record.id
    _rewrite_in_place(record_file, "app:1.1", "app:1.2")
    assert ours.find("app:1.1").id == imported.record.id
    # ... and what a caller does to a record it got leaves the store's memory alone
    ours.get(imported.record.id).repo_tags.append("docker.io/library/app:mine")
    assert ours.get(imported.record.id).repo_tags == ["docker.io/library/app:1.1"]

    # every change a store makes renames or removes a file in the directory: seen at once
    theirs.commit_image(theirs.read_blob(imported.record.id), imported.record.layers, ["docker.io/library/app:2"])
    assert "docker.io/library/app:2" in ours.find("app:2").repo_tags
    os.utime(record_file.parent, (past, past))
    assert ours.find("app:2") is not None
    theirs.remove("app:2")
    assert ours.find("app:2") is None and ours.get(imported.record.id) is None and ours.images() == []
