"""open_store: URL and option handling, with typed errors for every bad input."""

from __future__ import annotations

import pytest

from kybernetes.store import StoreError, StoreUnavailableError, open_store
from kybernetes.store.keyrange import prefix_end, prefix_end_bytes


@pytest.mark.parametrize(
    "url",
    ["", "nothing", "mysql://localhost/db", "sqlite://", "sqlite://relative/state.db", 42],
)
async def test_bad_urls_are_typed_errors(url):
    with pytest.raises(StoreError):
        await open_store(url)


async def test_missing_directory_is_unavailable(tmp_path):
    with pytest.raises(StoreUnavailableError):
        await open_store(f"sqlite://{tmp_path}/no/such/dir/state.db")


@pytest.mark.parametrize(
    "options",
    [{"synchronous": "SOMETIMES"}, {"poll_interval": 0}, {"bogus": 1}, {"compaction_min_age": "x", "bogus": 2}],
)
async def test_bad_options_are_typed_errors(options):
    with pytest.raises(StoreError):
        await open_store("sqlite://:memory:", **options)


async def test_a_file_that_is_not_a_database_is_unavailable(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailableError):
        await open_store(f"sqlite://{path}")


async def test_closed_store_refuses_work():
    store = await open_store("sqlite://:memory:")
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.create("/a", b"1")
    with pytest.raises(StoreUnavailableError):
        await store.get("/a")
    with pytest.raises(StoreUnavailableError):
        store.watch("/", 0)


def test_prefix_ranges_cover_exactly_the_prefix():
    assert prefix_end("/registry/pods/") == "/registry/pods0"
    assert prefix_end("") is None
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\ud7ff") == "\ue000"
    assert prefix_end_bytes(b"/a/") == b"/a0"
    assert prefix_end_bytes(b"a\xff") == b"b"
    assert prefix_end_bytes(b"") == b"\0"
