"""Termination messages: the file at terminationMessagePath, FallbackToLogsOnError, the limits,
and the pod worker reporting them in state.terminated and lastState (fake runtime)."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.container_config import (
    TERMINATION_MESSAGE_HOST_PATH_ANNOTATION,
    TERMINATION_MESSAGE_POLICY_ANNOTATION,
)
from kybernetes.kubelet.pod_worker import PodWorker
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.termination_message import cap_messages, log_tail, message_of, read_message_file
from kybernetes.util.clock import FakeClock

from .test_lifecycle_support import ExecRuntime, pod, status_of


def exited(tmp: Path, *, code: int = 1, text: str | None = None, policy: str = "File", log: str = "",
           message: str = "") -> cri.ContainerStatus:
    annotations = {TERMINATION_MESSAGE_POLICY_ANNOTATION: policy}
    if text is not None:
        (tmp / "msg").write_text(text)
        annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION] = str(tmp / "msg")
    (tmp / "log").write_text(log)
    return cri.ContainerStatus("c1", cri.ContainerMetadata("a"), cri.ContainerState.CONTAINER_EXITED, 1,
                               exit_code=code, message=message, annotations=annotations, log_path=str(tmp / "log"))


def cri_log(*lines: str) -> str:
    return "".join(f"2026-01-01T00:00:00.{i:09d}Z stdout F {line}\n" for i, line in enumerate(lines))


def test_the_file_is_read_up_to_4096_bytes(tmp_path):
    (tmp_path / "big").write_text("x" * 5000)
    assert read_message_file(tmp_path / "big") == "x" * 4096
    assert read_message_file(tmp_path / "missing") == ""


def test_the_log_tail_is_the_last_80_lines_and_at_most_2048_bytes(tmp_path):
    (tmp_path / "log").write_text(cri_log(*(f"line {i}" for i in range(100))))
    tail = log_tail(tmp_path / "log", max_bytes=10_000)
    assert tail.splitlines()[0] == "line 20" and tail.endswith("line 99\n") and len(tail.splitlines()) == 80
    (tmp_path / "log").write_text(cri_log(*(f"{i:02d}" + "." * 98 for i in range(100))))
    tail = log_tail(tmp_path / "log")
    assert len(tail.encode()) == 2048 and tail.endswith("99" + "." * 98 + "\n")
    (tmp_path / "log.1").write_text(cri_log("before the rotation"))
    (tmp_path / "log").write_text(cri_log("after it"))
    assert log_tail(tmp_path / "log") == "before the rotation\nafter it\n"
    (tmp_path / "log.1").unlink()
    partial = "2026-01-01T00:00:00Z stderr P half \n2026-01-01T00:00:01Z stderr F and half\n"
    (tmp_path / "log").write_text(partial)
    assert log_tail(tmp_path / "log") == "half and half\n"


def test_file_fallback_and_runtime_message(tmp_path):
    assert message_of(exited(tmp_path, text="bye")) == "bye"
    logs = cri_log("panic: oh no")
    assert message_of(exited(tmp_path, text="", policy="FallbackToLogsOnError", log=logs)) == "panic: oh no\n"
    assert message_of(exited(tmp_path, text="", policy="FallbackToLogsOnError", log=logs, code=0)) == ""
    assert message_of(exited(tmp_path, text="", policy="File", log=logs)) == ""
    assert message_of(exited(tmp_path, text="said", policy="FallbackToLogsOnError", log=logs)) == "said"
    assert message_of(exited(tmp_path, text="mine", message="killed")) == "killed: mine"


def test_a_pods_messages_are_cut_evenly_past_12_kib():
    small = {"a": "x" * 100, "b": "y" * 100}
    assert cap_messages(small) == small
    capped = cap_messages({"a": "x" * 4096, "b": "y" * 4096, "c": "z" * 4096, "d": "w" * 4096})
    assert {len(m) for m in capped.values()} == {3072}


class AnnotatingWorker(PodWorker):
    """The fake runtime's pod worker with the message file a real node's config gives."""

    def __init__(self, *args, message_dir: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.message_dir = message_dir

    def container_config(self, pod, c, attempt, *, init):
        config = super().container_config(pod, c, attempt, init=init)
        path = self.message_dir / f"{c['name']}-{attempt}"
        path.write_text(f"attempt {attempt} says goodbye")
        config.annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION] = str(path)
        return config


async def test_the_pod_worker_reports_the_message_in_state_and_last_state(tmp_path):
    clock = FakeClock()
    rt = ExecRuntime(clock=clock, stop_seconds=0)
    w = AnnotatingWorker(rt, rt.images, node_name="n1", host_ip="127.0.0.1", clock=clock, message_dir=tmp_path)
    p = pod({"name": "a"})
    p["metadata"]["annotations"] = {"sim.kybernetes.io/run-seconds": "1", "sim.kybernetes.io/exit-code": "3"}
    status = (await w.sync(p, {})).status
    await clock.advance(1)
    status = (await w.sync(p, status)).status  # exited, restarted at once
    a = status_of(status, "a")
    assert a["restartCount"] == 1 and a["lastState"]["terminated"]["message"] == "attempt 0 says goodbye"
    assert a["lastState"]["terminated"]["exitCode"] == 3
    await clock.advance(1)
    status = (await w.sync(p, status)).status  # exited again: back-off, the exit is lastState
    assert status_of(status, "a")["lastState"]["terminated"]["message"] == "attempt 1 says goodbye"
    p["spec"]["restartPolicy"] = "Never"
    status = (await w.sync(p, status)).status
    assert status_of(status, "a")["state"]["terminated"]["message"] == "attempt 1 says goodbye"
    await w.remove("u1")
    assert not w.messages._cache
