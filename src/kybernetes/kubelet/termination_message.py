"""Termination messages: what a container said about its end, read back after it exited.

The container configuration (container_config.py) bind-mounts a file of the node at the
container's terminationMessagePath and names it in an annotation. Once a container has exited,
its message, as Kubernetes reads it, is

    the file's content (at most 4096 bytes)
    or, with terminationMessagePolicy FallbackToLogsOnError, an empty file and a non-zero exit:
    the end of its log (the last 80 lines, at most their last 2048 bytes)

appended to what the runtime itself said ("<runtime message>: <termination message>"). A pod's
messages together are capped at 12 KiB: past that, every container's message is cut to an equal
share. Exited containers never change, so each message is read once and cached by container id.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from kybernetes.kubelet.container_config import (
    TERMINATION_MESSAGE_HOST_PATH_ANNOTATION,
    TERMINATION_MESSAGE_POLICY_ANNOTATION,
)
from kybernetes.kubelet.logs import log_files, parse_line
from kybernetes.kubelet.runtime import protocol as cri

MAX_CONTAINER_MESSAGE = 4096
MAX_POD_MESSAGES = 12 * 1024
MAX_LOG_LINES = 80
MAX_LOG_BYTES = 2048
_LOG_READ = 256 * 1024  # how much of the end of a log file is read to find its last lines


def read_message_file(path: str | Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_CONTAINER_MESSAGE).decode(errors="replace")
    except OSError:
        return ""


def log_tail(path: str | Path, lines: int = MAX_LOG_LINES, max_bytes: int = MAX_LOG_BYTES) -> str:
    """The last ``lines`` lines of a CRI-format log file (rotated or not), at most their last
    ``max_bytes`` bytes."""
    data = b""
    for file in log_files(path)[-2:]:  # the live file, and the last rotated one before it
        try:
            with open(file, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(size - _LOG_READ, 0))
                chunk = f.read()
        except OSError:
            continue
        if size > _LOG_READ:
            chunk = chunk[chunk.find(b"\n") + 1:]  # from the first whole line
        data += chunk if chunk.endswith(b"\n") or not chunk else chunk + b"\n"
    out: list[bytes] = []
    current = b""
    for raw in data.split(b"\n"):
        entry = parse_line(raw) if raw else None
        if entry is None:
            continue
        current += entry.content
        if not entry.partial:
            out.append(current + b"\n")
            current = b""
    if current:
        out.append(current)
    text = b"".join(out[-lines:]) if lines > 0 else b""
    return text[-max_bytes:].decode(errors="replace")


def message_of(status: cri.ContainerStatus) -> str:
    """The termination message of an exited container (``status.message`` included)."""
    if status.state != cri.ContainerState.CONTAINER_EXITED:
        return status.message
    annotations = status.annotations or {}
    host_path = annotations.get(TERMINATION_MESSAGE_HOST_PATH_ANNOTATION, "")
    text = read_message_file(host_path) if host_path else ""
    fallback = annotations.get(TERMINATION_MESSAGE_POLICY_ANNOTATION) == "FallbackToLogsOnError"
    if not text and fallback and status.exit_code != 0 and status.reason != "ContainerCannotRun" \
            and status.log_path:
        text = log_tail(status.log_path)
    if status.message and text:
        return f"{status.message}: {text}"
    return status.message or text


def cap_messages(messages: dict[str, str], limit: int = MAX_POD_MESSAGES) -> dict[str, str]:
    """Cut every message to an equal share of ``limit`` once they add up to more than it."""
    total = sum(len(m.encode()) for m in messages.values())
    if total <= limit:
        return messages
    share = limit // max(sum(1 for m in messages.values() if m), 1)
    return {k: m.encode()[:share].decode(errors="ignore") for k, m in messages.items()}


class TerminationMessages:
    """The pod worker's reader: fills ``message`` into the exited attempts of a pod."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, str]] = {}  # container id -> (pod uid, message)

    def fill(self, uid: str, containers: dict[str, list[cri.ContainerStatus]]) -> None:
        messages: dict[str, str] = {}
        present = {s.id for attempts in containers.values() for s in attempts}
        for key in [k for k, (owner, _) in self._cache.items() if owner == uid and k not in present]:
            del self._cache[key]  # attempts the pod worker removed
        for attempts in containers.values():
            for status in attempts:
                if status.state != cri.ContainerState.CONTAINER_EXITED:
                    continue
                cached = self._cache.get(status.id)
                if cached is None:
                    cached = (uid, message_of(status))
                    self._cache[status.id] = cached
                messages[status.id] = cached[1]
        if not any(messages.values()):
            return
        capped = cap_messages(messages)
        for name, attempts in containers.items():
            containers[name] = [dataclasses.replace(s, message=capped[s.id]) if s.id in capped else s
                                for s in attempts]

    def forget_pod(self, uid: str) -> None:
        for key in [k for k, (owner, _) in self._cache.items() if owner == uid]:
            del self._cache[key]
