"""``kyb images``: the node's image store (ls, import, pull, rm), like ``crictl images`` / ``ctr images``.

    kyb images ls [--data-dir DIR] [-q]
    kyb images import FILE...          OCI archives and ``docker save`` archives
    kyb images pull IMAGE [--registries registries.yaml] [--username U --password P]
    kyb images rm IMAGE...             by name, digest reference or id (prefix)

They work on the store of the node under --data-dir (the same one the node's kubelet uses), and
may run while the kubelet runs: the store locks itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from kybernetes.cli.options import resolve_data_dir
from kybernetes.kubelet.images.archive import import_archive
from kybernetes.kubelet.images.errors import RegistriesConfigError
from kybernetes.kubelet.images.reference import InvalidImageNameError, parse_image_reference
from kybernetes.kubelet.images.registries import load_registries
from kybernetes.kubelet.images.service import OciImageService, default_store_dir
from kybernetes.kubelet.images.store import ImageStore
from kybernetes.kubelet.runtime.protocol import AuthConfig, ImageSpec, RuntimeServiceError


def _data_dir_option(func):
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="The node's data dir [default: /var/lib/kybernetes for root, "
                             "else ~/.local/share/kybernetes].")(func)


def _store(data_dir: Path | None) -> ImageStore:
    try:
        return ImageStore(default_store_dir(resolve_data_dir(data_dir)))
    except OSError as e:
        raise click.ClickException(f"cannot open the image store: {e}") from None


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.3g}{unit}"
        value /= 1000
    return f"{size}B"


@click.group("images")
def images() -> None:
    """Manage the container images of this node."""


@images.command("ls")
@_data_dir_option
@click.option("-q", "--quiet", is_flag=True, help="Only image ids.")
def list_images(data_dir, quiet) -> None:
    """List images: IMAGE, TAG, IMAGE ID, SIZE."""
    records = _store(data_dir).images()
    if quiet:
        for record in records:
            click.echo(record.id)
        return
    rows = [("IMAGE", "TAG", "IMAGE ID", "SIZE")]
    for record in records:
        names = [(t.rpartition(":")[0], t.rpartition(":")[2]) for t in record.repo_tags]
        names += [(d.partition("@")[0], "<none>") for d in record.repo_digests
                  if not any(d.partition("@")[0] == n for n, _ in names)]
        for name, tag in names or [("<none>", "<none>")]:
            rows.append((name, tag, record.id.removeprefix("sha256:")[:13], _human(record.size)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "   " + row[3])


@images.command("rm")
@_data_dir_option
@click.argument("names", nargs=-1, required=True, metavar="IMAGE...")
def remove_images(data_dir, names) -> None:
    """Remove images (every name of each), and the layers only they used."""
    store = _store(data_dir)
    failed = False
    for name in names:
        try:
            record = store.remove(name)
        except RuntimeServiceError as e:
            click.echo(f"error: {e}", err=True)
            failed = True
            continue
        click.echo(f"Deleted: {', '.join(record.repo_tags) or record.id}")
    if failed:
        raise SystemExit(1)


@images.command("import")
@_data_dir_option
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_images(data_dir, files) -> None:
    """Import OCI archives or `docker save` archives."""
    store = _store(data_dir)
    for path in files:
        try:
            imported = import_archive(store, path)
        except RuntimeServiceError as e:
            raise click.ClickException(str(e)) from None
        for image in imported:
            click.echo(f"Imported {', '.join(image.names) or '<untagged>'} ({image.record.id})")


@images.command("pull")
@_data_dir_option
@click.argument("image")
@click.option("--registries", "registries_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A registries.yaml (k3s format) [default: DATA_DIR/registries.yaml if present].")
@click.option("--username", default="", help="Registry user name.")
@click.option("--password", default="", help="Registry password.")
def pull_image(data_dir, image, registries_path, username, password) -> None:
    """Pull an image from its registry (or its mirrors)."""
    try:
        parse_image_reference(image)
    except InvalidImageNameError as e:
        raise click.BadParameter(str(e), param_hint="IMAGE") from None
    try:
        registries = load_registries(registries_path or resolve_data_dir(data_dir) / "registries.yaml")
    except RegistriesConfigError as e:
        raise click.ClickException(str(e)) from None
    service = OciImageService(default_store_dir(resolve_data_dir(data_dir)), registries=registries,
                              store=_store(data_dir))
    auth = AuthConfig(username=username, password=password) if username else None
    try:
        ref = asyncio.run(service.pull_image(ImageSpec(image), auth))
    except RuntimeServiceError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Image is up to date for {ref}")
