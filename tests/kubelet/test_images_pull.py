"""Pulls from a real registry (Debian's docker-registry on loopback) into the image store."""

from __future__ import annotations

import os

import pytest

from kybernetes.kubelet.images.manifest import Platform
from kybernetes.kubelet.images.registries import RegistriesConfig, parse_registries
from kybernetes.kubelet.images.service import OciImageService
from kybernetes.kubelet.runtime.protocol import AuthConfig, ImagePullError, ImageSpec
from tests.support.oci import build_image, busybox_layer, files_layer, push_image, push_index
from tests.support.registry import LocalRegistry


@pytest.fixture(scope="module")
def registry():
    with LocalRegistry() as r:
        yield r


@pytest.fixture(scope="module")
def app_image():
    return build_image([busybox_layer(), files_layer({"etc/app.conf": "x=1\n"})],
                       entrypoint=["/bin/sh", "-c"], cmd=["echo hi"], env=["PATH=/bin", "GREETING=hi"],
                       workdir="/srv", user="nobody", exposed_ports=["80/tcp"])


def service_for(tmp_path, registries: RegistriesConfig | None = None, platform=Platform("linux", "amd64")):
    return OciImageService(tmp_path / "images", registries=registries, platform=platform)


async def test_pull_through_mirror_resolves_docker_hub_names(tmp_path, registry, app_image):
    digest = push_image(registry.url, "library/busybox-test", "latest", app_image)
    registries = parse_registries({"mirrors": {"docker.io": {"endpoint": [registry.url]}}})
    registries.default_endpoint = False  # never fall through to the real Docker Hub in a test
    service = service_for(tmp_path, registries)

    ref = await service.pull_image(ImageSpec("busybox-test"))

    assert ref == f"docker.io/library/busybox-test@{digest}"
    image = await service.image_status(ImageSpec("docker.io/library/busybox-test:latest"))
    assert image is not None and image.id == app_image.config_digest
    assert image.repo_tags == ("docker.io/library/busybox-test:latest",)
    assert image.repo_digests == (ref,)
    assert image.size >= os.path.getsize("/bin/busybox")
    for diff_id in app_image.diff_ids:
        assert service.store.has_layer(diff_id)
    assert (service.store.layer_fs(app_image.diff_ids[1]) / "etc/app.conf").read_text() == "x=1\n"
    config = await service.image_config(image.id)
    assert config.entrypoint == ("/bin/sh", "-c") and config.cmd == ("echo hi",)
    assert config.env == ("PATH=/bin", "GREETING=hi") and config.working_dir == "/srv"
    assert config.user == "nobody" and config.exposed_ports == ("80/tcp",)
    assert [i.id for i in await service.list_images()] == [image.id]
    assert not list((service.store.root / "ingest").iterdir())


async def test_pull_by_digest_and_shared_layers(tmp_path, registry, app_image):
    digest = push_image(registry.url, "team/app", "v1", app_image)
    other = build_image([busybox_layer()], cmd=["sleep", "1"])
    push_image(registry.url, "team/other", "v1", other)
    service = service_for(tmp_path)

    ref = await service.pull_image(ImageSpec(f"{registry.host}/team/app@{digest}"))
    await service.pull_image(ImageSpec(f"{registry.host}/team/other:v1"))

    assert ref == f"{registry.host}/team/app@{digest}"
    image = await service.image_status(ImageSpec(ref))
    assert image is not None and image.repo_tags == ()  # pulled by digest: no tag
    # the busybox layer is unpacked once and listed by both images
    assert service.store.layer_references()[busybox_layer().diff_id] == 2
    await service.remove_image(ImageSpec(ref))
    assert await service.image_status(ImageSpec(ref)) is None
    assert service.store.has_layer(busybox_layer().diff_id)  # still used by the other image
    assert not service.store.has_layer(app_image.diff_ids[1])  # only the removed image had it


@pytest.mark.parametrize("media", ["oci", "docker"])
async def test_manifest_list_picks_the_node_platform(tmp_path, registry, media):
    amd = build_image([busybox_layer(), files_layer({"arch": "amd64"})], architecture="amd64", media=media)
    arm = build_image([busybox_layer(), files_layer({"arch": "arm64"})], architecture="arm64", media=media,
                      compression="zstd")
    index_digest = push_index(registry.url, f"multi/{media}", "1.0", [amd, arm], media=media)

    for platform, image, word in ((Platform("linux", "amd64"), amd, "amd64"),
                                  (Platform("linux", "arm64", "v8"), arm, "arm64")):
        service = service_for(tmp_path / word, platform=platform)
        ref = await service.pull_image(ImageSpec(f"{registry.host}/multi/{media}:1.0"))
        assert ref == f"{registry.host}/multi/{media}@{index_digest}"  # the index digest, as containerd reports
        status = await service.image_status(ImageSpec(f"{registry.host}/multi/{media}:1.0"))
        assert status.id == image.config_digest
        assert (service.store.layer_fs(image.diff_ids[1]) / "arch").read_text() == word

    service = service_for(tmp_path / "s390x", platform=Platform("linux", "s390x"))
    with pytest.raises(ImagePullError, match="no match for platform linux/s390x"):
        await service.pull_image(ImageSpec(f"{registry.host}/multi/{media}:1.0"))


async def test_pull_failures_are_image_pull_errors(tmp_path, registry):
    service = service_for(tmp_path)
    with pytest.raises(ImagePullError, match=r'failed to pull and unpack image ".*/nothing/here:latest".*not found'):
        await service.pull_image(ImageSpec(f"{registry.host}/nothing/here"))
    with pytest.raises(ImagePullError, match="invalid image name"):
        await service.pull_image(ImageSpec("UPPER/Case"))
    digest = "sha256:" + "0" * 64
    with pytest.raises(ImagePullError, match="not found"):
        await service.pull_image(ImageSpec(f"{registry.host}/team/app@{digest}"))
    assert await service.list_images() == []


async def test_a_wrong_blob_is_refused(tmp_path, registry):
    """An image whose layer does not hash to the diffID its config promises is refused, and nothing stays."""
    good = build_image([busybox_layer(), files_layer({"a": "1"})])
    bad = build_image([busybox_layer(), files_layer({"a": "2"})])
    push_image(registry.url, "lies/app", "good", good)
    push_image(registry.url, "lies/app", "bad", bad)
    # a config that promises the diffID of a layer it does not have
    lying = build_image([busybox_layer(), files_layer({"a": "1"})])
    lying.config = lying.config.replace(good.diff_ids[1].encode(), bad.diff_ids[1].encode())
    lying.blobs = {d: b for d, b in lying.blobs.items() if d != good.config_digest}
    from tests.support.oci import sha256
    lying.blobs[sha256(lying.config)] = lying.config
    lying.manifest = lying.manifest.replace(good.config_digest.encode(), sha256(lying.config).encode())
    push_image(registry.url, "lies/app", "lying", lying)
    service = service_for(tmp_path)
    with pytest.raises(ImagePullError, match="diffID"):
        await service.pull_image(ImageSpec(f"{registry.host}/lies/app:lying"))
    assert not list((service.store.root / "ingest").iterdir())
    assert not list((service.store.root / "layers").glob(bad.diff_ids[1].split(":")[1]))


@pytest.mark.parametrize("auth_kind", ["basic", "token"])
async def test_registry_auth(tmp_path, auth_kind):
    image = build_image([busybox_layer()], cmd=["true"])
    with LocalRegistry(auth=auth_kind, username="puller", password="s3cret") as registry:
        push_image(registry.url, "private/app", "1", image, auth=("puller", "s3cret"))
        name = f"{registry.host}/private/app:1"

        anonymous = service_for(tmp_path / "anon")
        with pytest.raises(ImagePullError, match="unauthorized|credentials"):
            await anonymous.pull_image(ImageSpec(name))

        # imagePullSecrets, as the kubelet passes them
        secret = service_for(tmp_path / "secret")
        await secret.pull_image(ImageSpec(name), AuthConfig(username="puller", password="s3cret"))
        assert (await secret.image_status(ImageSpec(name))).id == image.config_digest

        # registries.yaml configs for the registry host (auth: base64 form)
        import base64
        encoded = base64.b64encode(b"puller:s3cret").decode()
        configured = service_for(tmp_path / "configured",
                                 parse_registries({"configs": {registry.host: {"auth": {"auth": encoded}}}}))
        await configured.pull_image(ImageSpec(name))
        if auth_kind == "token":
            scopes = [q.get("scope") for q in registry.token_requests]
            assert ["repository:private/app:pull"] in scopes


async def test_concurrent_pulls_share_one_pull(tmp_path, registry, app_image):
    import asyncio
    push_image(registry.url, "team/app", "v2", app_image)
    service = service_for(tmp_path)
    refs = await asyncio.gather(*(service.pull_image(ImageSpec(f"{registry.host}/team/app:v2")) for _ in range(4)))
    assert len(set(refs)) == 1
    assert len(await service.list_images()) == 1


def test_kyb_images_pull_with_the_data_dirs_registries_yaml(tmp_path, registry, app_image):
    from click.testing import CliRunner

    from kybernetes.cli.main import cli
    digest = push_image(registry.url, "library/cli-test", "3", app_image)
    data = tmp_path / "data"
    data.mkdir()
    (data / "registries.yaml").write_text(f'mirrors:\n  docker.io:\n    endpoint: ["{registry.url}"]\n')
    runner = CliRunner()
    result = runner.invoke(cli, ["images", "pull", "--data-dir", str(data), "cli-test:3"])
    assert result.exit_code == 0, result.output
    assert f"docker.io/library/cli-test@{digest}" in result.output
    result = runner.invoke(cli, ["images", "ls", "--data-dir", str(data)])
    assert "docker.io/library/cli-test" in result.output
    result = runner.invoke(cli, ["images", "pull", "--data-dir", str(data), f"{registry.host}/no/such:1"])
    assert result.exit_code == 1 and "not found" in result.output


async def test_plain_http_is_refused_off_loopback(tmp_path):
    registries = RegistriesConfig(mirrors={"docker.io": ["http://192.0.2.1:5000"]}, default_endpoint=False)
    service = service_for(tmp_path, registries)
    with pytest.raises(ImagePullError, match="plain HTTP is only used for registries on loopback"):
        await service.pull_image(ImageSpec("busybox"))
