"""The runc runtime's state records: two slot files per record rewritten in place, so that a save
creates no inode after a record's second save, and a kill in the middle of a save leaves the
previous copy loadable (kubelet/runtime/runc/state.py). No root needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc.state import (
    ContainerRecord,
    SandboxRecord,
    StateError,
    StateStore,
    read_records,
    to_jsonable,
)

ROOT = Path(__file__).resolve().parents[2]


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


def slots(directory: Path, record_id: str) -> tuple[Path, Path]:
    return directory / f"{record_id}.json", directory / f"{record_id}.json.1"


def generation(path: Path) -> int:
    return json.loads(path.read_bytes())["generation"]


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
    assert sorted(p.name for p in (tmp_path / "containers").iterdir()) == ["c1.json", "c1.json.1"]
    assert sorted(p.name for p in (tmp_path / "sandboxes").iterdir()) == ["s1.json"]  # no temporary file


def test_saves_alternate_slots_and_create_no_inode_after_the_second(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    first, second = slots(tmp_path / "containers", c.id)
    inodes = (first.stat().st_ino, second.stat().st_ino)
    for n in range(3, 13):
        c.exit_code = n
        store.save_container(c)
        assert (first.stat().st_ino, second.stat().st_ino) == inodes
        newest, older = (first, second) if n % 2 else (second, first)
        assert (generation(newest), generation(older)) == (n, n - 1)
        assert json.loads(newest.read_bytes())["record"]["exit_code"] == n
    # a store that loaded them goes on from the newest copy, still in place
    again = StateStore(tmp_path)
    assert again.load_containers()[0].exit_code == 12
    c.exit_code = 13
    again.save_container(c)
    assert (first.stat().st_ino, second.stat().st_ino) == inodes
    assert (generation(first), generation(second)) == (13, 12)
    assert StateStore(tmp_path).load_containers()[0].exit_code == 13


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b"{\"generation\": 9"])
def test_a_torn_newest_slot_falls_back_to_the_older_copy(tmp_path, damage):
    store = StateStore(tmp_path)
    s = sandbox()
    for state in (cri.PodSandboxState.SANDBOX_READY, cri.PodSandboxState.SANDBOX_NOTREADY):
        s.state = state
        store.save_sandbox(s)
    older, newest = slots(tmp_path / "sandboxes", s.id)
    newest.write_bytes(damage(newest.read_bytes()))  # as a kill in the middle of that save leaves it
    again = StateStore(tmp_path)
    [loaded] = again.load_sandboxes()
    assert loaded.state == cri.PodSandboxState.SANDBOX_READY
    # the next save overwrites the torn slot, not the good one
    loaded.ips = ("10.0.0.9",)
    again.save_sandbox(loaded)
    assert generation(newest) == 2 and generation(older) == 1
    assert StateStore(tmp_path).load_sandboxes()[0].ips == ("10.0.0.9",)


def test_a_slot_that_parses_but_does_not_convert_falls_back_too(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    _, newest = slots(tmp_path / "containers", c.id)
    newest.write_text(json.dumps({"generation": 5, "record": {"id": "c1"}}))  # required fields missing
    assert StateStore(tmp_path).load_containers() == [c]


def test_an_old_single_file_record_loads_and_is_upgraded_in_place(tmp_path):
    (tmp_path / "containers").mkdir()
    c = container()
    old, other = slots(tmp_path / "containers", c.id)
    old.write_text(json.dumps(to_jsonable(c)))  # the layout before the slots: the bare record
    store = StateStore(tmp_path)
    assert store.load_containers() == [c]
    c.state = cri.ContainerState.CONTAINER_EXITED
    store.save_container(c)
    assert json.loads(old.read_bytes()) == to_jsonable(container())  # the old copy is kept, unwrapped
    assert generation(other) == 1
    assert StateStore(tmp_path).load_containers() == [c]


def test_a_record_with_both_slots_loads_once(tmp_path):
    store = StateStore(tmp_path)
    for record_id in ("b", "a", "c"):
        store.save_sandbox(sandbox(record_id))
        store.save_sandbox(sandbox(record_id))
    assert [s.id for s in StateStore(tmp_path).load_sandboxes()] == ["a", "b", "c"]
    assert set(read_records(tmp_path / "sandboxes")) == {"a", "b", "c"}


def test_delete_removes_both_slots(tmp_path):
    store = StateStore(tmp_path)
    for _ in range(3):
        store.save_container(container("c1"))
        store.save_container(container("c2"))
        store.save_sandbox(sandbox())
    store.delete_container("c1")
    store.delete_sandbox("s1")
    store.delete_sandbox("never-saved")
    assert sorted(p.name for p in (tmp_path / "containers").iterdir()) == ["c2.json", "c2.json.1"]
    assert list((tmp_path / "sandboxes").iterdir()) == []
    again = StateStore(tmp_path)
    assert [c.id for c in again.load_containers()] == ["c2"]
    again.delete_container("c2")  # a store that loaded the record deletes it too
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
    first, second = slots(tmp_path / "sandboxes", s.id)
    assert generation(first) == 1 and not second.exists()
    assert StateStore(tmp_path).load_sandboxes() == [s]


def test_a_store_that_did_not_load_never_loses_to_a_stale_slot(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    for _ in range(5):
        store.save_sandbox(s)  # slot 1 holds generation 4
    s.hostname = "fresh"
    StateStore(tmp_path).save_sandbox(s)  # knows nothing of the record: generation 1
    assert StateStore(tmp_path).load_sandboxes() == [s]


def test_state_error_only_when_no_copy_is_readable(tmp_path):
    store = StateStore(tmp_path)
    c = container()
    store.save_container(c)
    store.save_container(c)
    first, second = slots(tmp_path / "containers", c.id)
    first.write_bytes(b"")
    assert StateStore(tmp_path).load_containers() == [c]
    second.write_bytes(b"{\"generation\": 2, \"rec")
    with pytest.raises(StateError, match="c1"):
        StateStore(tmp_path).load_containers()
    second.unlink()
    with pytest.raises(StateError, match="c1"):
        StateStore(tmp_path).load_containers()
    first.write_text("[1, 2]")
    with pytest.raises(StateError, match="not a JSON object"):
        StateStore(tmp_path).load_containers()


def test_an_interrupted_first_save_leaves_no_record_and_its_leftover_goes(tmp_path):
    store = StateStore(tmp_path)
    store.save_sandbox(sandbox("kept"))
    leftover = tmp_path / "sandboxes" / "torn.json.tmp"
    leftover.write_bytes(b"{\"generation\": 1, \"rec")
    (tmp_path / "sandboxes" / "old.tmp").write_bytes(b"")  # the temporary file of the layout before
    assert read_records(tmp_path / "sandboxes").keys() == {"kept"}  # reading alone removes nothing
    assert leftover.exists()
    assert [s.id for s in StateStore(tmp_path).load_sandboxes()] == ["kept"]
    assert sorted(p.name for p in (tmp_path / "sandboxes").iterdir()) == ["kept.json"]


def test_read_records_gives_the_newest_copy_unwrapped(tmp_path):
    store = StateStore(tmp_path)
    s = sandbox()
    store.save_sandbox(s)
    s.network_ready = True
    store.save_sandbox(s)
    assert read_records(tmp_path / "sandboxes") == {"s1": to_jsonable(s)}


SAVER = textwrap.dedent("""
    import sys
    from tests.kubelet.test_runc_state_slots import container
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
