"""The runc runtime's state records: one file per record holding two slots, each save one pwrite()
of the slot not holding the newest copy, so that a record costs one inode for its life and a kill in
the middle of a save leaves the previous copy loadable; records of the two layouts before still
load and are converted by their next save (kubelet/runtime/runc/record_files.py). No root needed."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc.record_files import StateError, read_copies, read_records
from kybernetes.kubelet.runtime.runc.state import ContainerRecord, SandboxRecord, StateStore, to_json

ROOT = Path(__file__).resolve().parents[2]
MAGIC = b"KYBREC\x00\x01"


def sandbox(record_id: str = "s1") -> SandboxRecord:
    config = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="web", uid="uid-1", namespace="default"),
                                  hostname="web", labels={cri.POD_UID_LABEL: "uid-1"},
                                  port_mappings=(cri.PortMapping(container_port=80, host_port=8080),))
    return SandboxRecord(id=record_id, config=config, created_at=1, netns="/run/netns/x", ips=("10.0.0.2",))


def container(record_id: str = "c1") -> ContainerRecord:
    config = cri.ContainerConfig(metadata=cri.ContainerMetadata(name="app"),
                                 image=cri.ImageSpec(image="busybox"), command=("sh", "-c", "sleep 1"),
                                 envs=(cri.KeyValue("A", "1"),), labels={cri.POD_UID_LABEL: "uid-1"})
    return ContainerRecord(id=record_id, sandbox_id="s1", config=config, image_ref="sha256:abc",
                           image_name="busybox", created_at=2, bundle="/b", cgroups_path="/cg", log_path="/l",
                           extra={"k": "v"})


# -- the documented layout, decoded here independently of the module --------------------------------

def to_jsonable(record) -> dict:
    """The JSON data a record file holds for ``record``."""
    return json.loads(to_json(record))


def slot_size(path: Path) -> int:
    content = path.read_bytes()
    magic, size, crc = struct.unpack_from("<8sQI", content)
    assert magic == MAGIC and zlib.crc32(content[:16]) == crc
    return size


def slot_offset(path: Path, slot: int) -> int:
    return 64 if slot == 0 else slot_size(path)


def read_slot(path: Path, slot: int) -> tuple[int, dict] | None:
    """(generation, record data) of a good slot, None for a slot never written; asserts the crc."""
    content, offset = path.read_bytes(), slot_offset(path, slot)
    if offset >= len(content):
        return None
    length, generation, crc = struct.unpack_from("<QQI", content, offset)
    payload = content[offset + 20:offset + 20 + length]
    assert zlib.crc32(content[offset:offset + 16] + payload) == crc
    return generation, json.loads(payload)


def generations(path: Path) -> tuple[int | None, int | None]:
    return tuple(None if (found := read_slot(path, slot)) is None else found[0] for slot in (0, 1))


def write_slot(path: Path, slot: int, generation: int, payload: bytes) -> None:
    sizes = struct.pack("<QQ", len(payload), generation)
    with open(path, "r+b") as f:
        f.seek(slot_offset(path, slot))
        f.write(sizes + struct.pack("<I", zlib.crc32(sizes + payload)) + payload)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_records_round_trip_through_a_new_store(tmp_path):
    store = StateStore(tmp_path)
    s, c = sandbox(), container()
    store.save_sandbox(s)
    store.save_container(c)
    c.state, c.pid, c.started_at = cri.ContainerState.CONTAINER_RUNNING, 42, 3
    store.save_container(c)
    again = StateStore(tmp_path)
    assert again.load_sandboxes() == [s]
    assert again.load_containers() == [c]
    assert names(tmp_path / "containers") == ["c1.json"]  # both copies, one file
    assert names(tmp_path / "sandboxes") == ["s1.json"]  # no temporary file


def test_saves_alternate_slots_in_one_file_that_keeps_its_inode(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    path = tmp_path / "containers" / "c1.json"
    inode = path.stat().st_ino
    assert path.read_bytes().startswith(MAGIC) and generations(path) == (1, None)
    assert slot_size(path) == 16 * 1024  # the least, for a record of a few hundred bytes
    for n in range(2, 13):
        c.exit_code = n
        store.save_container(c)
        assert path.stat().st_ino == inode and names(tmp_path / "containers") == ["c1.json"]
        assert generations(path) == ((n - 1, n) if n % 2 == 0 else (n, n - 1))
        assert read_slot(path, n % 2 == 0)[1]["exit_code"] == n
    assert path.stat().st_blocks * 512 < slot_size(path)  # sparse: the room between the slots is a hole
    # a store that loaded it goes on from the newest copy, still in place
    again = StateStore(tmp_path)
    assert again.load_containers()[0].exit_code == 12
    c.exit_code = 13
    again.save_container(c)
    assert path.stat().st_ino == inode and generations(path) == (13, 12)
    assert StateStore(tmp_path).load_containers()[0].exit_code == 13


def saved_three_times(tmp_path) -> tuple[StateStore, ContainerRecord]:
    """A store and its container record c1, saved three times (both slots written)."""
    store = StateStore(tmp_path)
    c = container()
    for _ in range(3):
        store.save_container(c)
    return store, c


def test_a_save_is_one_write_of_one_slot(tmp_path):
    store, c = saved_three_times(tmp_path)
    path = tmp_path / "containers" / "c1.json"
    before = path.read_bytes()
    c.message = "changed"
    store.save_container(c)
    after = path.read_bytes()
    size = slot_size(path)
    assert after[:size] == before[:size]  # the header and slot 0 (the newest before) untouched
    assert read_slot(path, 1) == (4, to_jsonable(c))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "zeros", "crc", "header_only"])
def test_a_torn_newest_slot_falls_back_to_the_older_copy(tmp_path, damage, caplog):
    store = StateStore(tmp_path)
    s = sandbox()
    for state in (cri.PodSandboxState.SANDBOX_READY, cri.PodSandboxState.SANDBOX_NOTREADY):
        s.state = state
        store.save_sandbox(s)
    path = tmp_path / "sandboxes" / "s1.json"
    offset = slot_offset(path, 1)
    content = bytearray(path.read_bytes())
    if damage == "truncate":  # as a kill in the middle of that save leaves it
        del content[offset + 20 + 50:]
    elif damage == "header_only":
        del content[offset + 7:]
    elif damage == "garbage":
        content[offset + 30:offset + 40] = b"#" * 10
    elif damage == "zeros":
        content[offset:] = bytes(len(content) - offset)
    else:
        content[offset + 16] ^= 0xFF  # the checksum itself
    path.write_bytes(bytes(content))
    again = StateStore(tmp_path)
    [loaded] = again.load_sandboxes()
    assert loaded.state == cri.PodSandboxState.SANDBOX_READY
    assert "skipped" in caplog.text and "slot 1" in caplog.text
    # the next save overwrites the torn slot, not the good one
    loaded.ips = ("10.0.0.9",)
    again.save_sandbox(loaded)
    assert generations(path) == (1, 2)
    assert StateStore(tmp_path).load_sandboxes()[0].ips == ("10.0.0.9",)


def test_a_slot_that_checks_out_but_does_not_convert_falls_back_too(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    path = tmp_path / "containers" / "c1.json"
    write_slot(path, 1, 5, json.dumps({"id": "c1"}).encode())  # required fields missing
    assert StateStore(tmp_path).load_containers() == [c]
    write_slot(path, 1, 5, b"[1, 2]")  # not an object
    assert StateStore(tmp_path).load_containers() == [c]


def test_a_record_outgrowing_its_slots_is_written_whole_again(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    path = tmp_path / "containers" / "c1.json"
    c.extra = {"pad": "x" * 40_000}
    store.save_container(c)
    assert slot_size(path) == 128 * 1024 and generations(path) == (3, None)
    assert names(tmp_path / "containers") == ["c1.json"]
    assert StateStore(tmp_path).load_containers() == [c]
    inode = path.stat().st_ino
    c.exit_code = 7
    store.save_container(c)  # in place again, in the larger slots
    assert path.stat().st_ino == inode and generations(path) == (3, 4)
    assert StateStore(tmp_path).load_containers() == [c]


def test_the_layout_of_two_slot_files_loads_and_is_converted(tmp_path):
    (tmp_path / "containers").mkdir()
    c = container()
    first, second = tmp_path / "containers" / "c1.json", tmp_path / "containers" / "c1.json.1"
    older, newer = container(), container()
    newer.exit_code = 4
    first.write_text(json.dumps({"generation": 5, "record": to_jsonable(newer)}))
    second.write_text(json.dumps({"generation": 4, "record": to_jsonable(older)}))
    assert read_records(tmp_path / "containers") == {"c1": to_jsonable(newer)}
    store = StateStore(tmp_path)
    assert store.load_containers() == [newer]
    c.exit_code = 9
    store.save_container(c)
    assert names(tmp_path / "containers") == ["c1.json"] and generations(first) == (6, None)
    assert StateStore(tmp_path).load_containers() == [c]
    # the newest copy in the second file wins as well
    first.write_text(json.dumps({"generation": 2, "record": to_jsonable(older)}))
    second.write_text(json.dumps({"generation": 3, "record": to_jsonable(newer)}))
    again = StateStore(tmp_path)
    assert again.load_containers() == [newer]
    again.save_container(newer)
    assert names(tmp_path / "containers") == ["c1.json"] and generations(first) == (4, None)


def test_a_bare_record_of_the_first_layout_loads_and_is_converted(tmp_path):
    (tmp_path / "containers").mkdir()
    c = container()
    path = tmp_path / "containers" / "c1.json"
    path.write_text(json.dumps(to_jsonable(c)))
    store = StateStore(tmp_path)
    assert store.load_containers() == [c]
    c.state = cri.ContainerState.CONTAINER_EXITED
    store.save_container(c)
    assert path.read_bytes().startswith(MAGIC) and generations(path) == (1, None)
    store.save_container(c)
    assert generations(path) == (1, 2)
    assert StateStore(tmp_path).load_containers() == [c]


def test_a_conversion_killed_before_removing_the_old_second_file(tmp_path):
    _, c = saved_three_times(tmp_path)
    stale = tmp_path / "containers" / "c1.json.1"
    old = container()
    old.exit_code = 99
    stale.write_text(json.dumps({"generation": 2, "record": to_jsonable(old)}))
    assert read_records(tmp_path / "containers") == {"c1": to_jsonable(c)}
    again = StateStore(tmp_path)
    assert again.load_containers() == [c]
    assert not stale.exists()  # loading removed it


def test_a_record_with_both_slots_loads_once(tmp_path):
    store = StateStore(tmp_path)
    for record_id in ("b", "a", "c"):
        store.save_sandbox(sandbox(record_id))
        store.save_sandbox(sandbox(record_id))
    assert [s.id for s in StateStore(tmp_path).load_sandboxes()] == ["a", "b", "c"]
    assert set(read_records(tmp_path / "sandboxes")) == {"a", "b", "c"}
    copies, errors = read_copies(tmp_path / "sandboxes")
    assert [(c.generation, c.slot) for c in copies["a"]] == [(2, 1), (1, 0)] and errors == {}


def test_delete_removes_everything(tmp_path):
    store = StateStore(tmp_path)
    for _ in range(3):
        store.save_container(container("c1"))
        store.save_container(container("c2"))
        store.save_sandbox(sandbox())
    store.delete_container("c1")
    store.delete_sandbox("s1")
    store.delete_sandbox("never-saved")
    assert names(tmp_path / "containers") == ["c2.json"]
    assert list((tmp_path / "sandboxes").iterdir()) == []
    again = StateStore(tmp_path)
    assert [c.id for c in again.load_containers()] == ["c2"]
    again.delete_container("c2")  # a store that loaded the record deletes it too
    assert list((tmp_path / "containers").iterdir()) == []
    # records of the layout before, loaded or not
    for record_id in ("old1", "old2"):
        for suffix, generation in ((".json", 1), (".json.1", 2)):
            (tmp_path / "containers" / f"{record_id}{suffix}").write_text(
                json.dumps({"generation": generation, "record": to_jsonable(container(record_id))}))
    StateStore(tmp_path).delete_container("old1")
    loaded = StateStore(tmp_path)
    assert [c.id for c in loaded.load_containers()] == ["old2"]
    loaded.delete_container("old2")
    assert list((tmp_path / "containers").iterdir()) == []
    assert StateStore(tmp_path).load_containers() == []


def test_a_record_deleted_and_saved_again_starts_over(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    for _ in range(3):
        store.save_sandbox(s)
    store.delete_sandbox(s.id)
    s.ips = ("10.0.0.7",)
    store.save_sandbox(s)
    assert generations(tmp_path / "sandboxes" / "s1.json") == (1, None)
    assert StateStore(tmp_path).load_sandboxes() == [s]


def test_a_store_that_did_not_load_never_loses_to_a_stale_slot(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    for _ in range(5):
        store.save_sandbox(s)  # slot 1 holds generation 4
    s.hostname = "fresh"
    StateStore(tmp_path).save_sandbox(s)  # knows nothing of the record: generation 1
    assert StateStore(tmp_path).load_sandboxes() == [s]
    # nor to an old second slot file
    (tmp_path / "sandboxes" / "s1.json.1").write_text(json.dumps({"generation": 8, "record": to_jsonable(sandbox())}))
    s.hostname = "fresher"
    StateStore(tmp_path).save_sandbox(s)
    assert StateStore(tmp_path).load_sandboxes() == [s]


def test_a_record_whose_file_was_removed_is_written_whole_again(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    store.save_sandbox(s)
    (tmp_path / "sandboxes" / "s1.json").unlink()
    store.save_sandbox(s)
    assert generations(tmp_path / "sandboxes" / "s1.json") == (2, None)


def test_state_error_only_when_no_copy_is_good(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    path = tmp_path / "containers" / "c1.json"
    content = bytearray(path.read_bytes())
    content[64 + 30] ^= 1
    path.write_bytes(bytes(content))
    assert StateStore(tmp_path).load_containers() == [c]
    content[slot_size(path) + 30] ^= 1
    path.write_bytes(bytes(content))
    with pytest.raises(StateError, match="c1.*slot 0: checksum mismatch.*slot 1: checksum mismatch"):
        StateStore(tmp_path).load_containers()
    content[17] ^= 1  # the header
    path.write_bytes(bytes(content))
    with pytest.raises(StateError, match="c1.*bad header"):
        StateStore(tmp_path).load_containers()
    path.write_bytes(MAGIC[:5])
    with pytest.raises(StateError, match="c1"):
        StateStore(tmp_path).load_containers()
    path.write_text("[1, 2]")
    with pytest.raises(StateError, match="not a JSON object"):
        StateStore(tmp_path).load_containers()


def test_an_interrupted_first_save_leaves_no_record_and_its_leftover_goes(tmp_path):
    store = StateStore(tmp_path)
    store.save_sandbox(sandbox("kept"))
    leftover = tmp_path / "sandboxes" / "torn.json.tmp"
    leftover.write_bytes(MAGIC + b"\x00\x40")
    (tmp_path / "sandboxes" / "old.tmp").write_bytes(b"")  # the temporary file of an older layout
    assert read_records(tmp_path / "sandboxes").keys() == {"kept"}  # reading alone removes nothing
    assert leftover.exists()
    assert [s.id for s in StateStore(tmp_path).load_sandboxes()] == ["kept"]
    assert names(tmp_path / "sandboxes") == ["kept.json"]


def test_read_records_gives_the_newest_copy(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    store.save_sandbox(s)
    s.network_ready = True
    store.save_sandbox(s)
    assert read_records(tmp_path / "sandboxes") == {"s1": to_jsonable(s)}


SAVER = textwrap.dedent("""
    import sys
    from tests.kubelet.test_runc_record_files import container
    from kybernetes.kubelet.runtime.runc.state import StateStore
    store, c = StateStore(sys.argv[1]), container()
    c.extra = {"pad": "x" * 200_000}  # a write long enough to be caught in the middle now and then
    for n in range(1, 10**9):
        c.exit_code = n
        store.save_container(c)
        if n == 2:
            print("saving", flush=True)
""")


def test_a_kill_in_the_middle_of_saving_leaves_a_loadable_record(tmp_path):
    for attempt in range(3):
        root = tmp_path / str(attempt)
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(root)], cwd=ROOT, stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"})
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"saving\n"
            time.sleep(0.05 * (attempt + 1))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        [loaded] = StateStore(root).load_containers()
        assert loaded.exit_code >= 2 and loaded.extra["pad"] == "x" * 200_000
        assert (root / "containers" / "c1.json").stat().st_nlink == 1
