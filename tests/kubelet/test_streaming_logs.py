"""kubelet/logs.py: CRI log lines, rotated files, tail, since, timestamps, limitBytes, follow."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.kubelet.logs import (
    LogOptions,
    LogOptionsError,
    format_time,
    parse_line,
    parse_time,
    read_logs,
)

T0 = "2024-05-01T10:00:00.000000001Z"
T1 = "2024-05-01T10:00:01.5Z"
T2 = "2024-05-01T10:00:02.123456789+00:00"


async def collect(path, options, **kwargs) -> bytes:
    return b"".join([chunk async for chunk in read_logs(path, options, **kwargs)])


def write(path, *lines: str) -> None:
    with open(path, "a") as f:
        f.write("".join(line + "\n" for line in lines))


def test_parse_line_and_times():
    entry = parse_line(f"{T0} stderr P half".encode())
    assert entry is not None and (entry.stream, entry.partial, entry.content) == ("stderr", True, b"half")
    assert parse_line(b"garbage") is None
    assert parse_time(T1) - parse_time(T0) == 1_499_999_999
    assert format_time(parse_time(T2)) == "2024-05-01T10:00:02.123456789Z"
    assert format_time(parse_time("2024-05-01T10:00:00Z")) == "2024-05-01T10:00:00Z"
    with pytest.raises(ValueError):
        parse_time("yesterday")


async def test_rotated_files_partials_tail_and_timestamps(tmp_path):
    log = tmp_path / "0.log"
    write(tmp_path / "0.log.2", f"{T0} stdout F oldest")
    write(tmp_path / "0.log.1", f"{T0} stdout F older")
    write(log, f"{T1} stdout P hel", f"{T1} stdout F lo", "not a cri line", f"{T2} stderr F last")
    assert await collect(log, LogOptions()) == b"oldest\nolder\nhello\nlast\n"
    assert await collect(log, LogOptions(tail_lines=2)) == b"hello\nlast\n"
    assert await collect(log, LogOptions(tail_lines=0)) == b""
    stamped = await collect(log, LogOptions(tail_lines=2, timestamps=True))
    assert stamped == b"2024-05-01T10:00:01.5Z hello\n2024-05-01T10:00:02.123456789Z last\n"
    assert await collect(log, LogOptions(since_ns=parse_time(T1))) == b"hello\nlast\n"
    assert await collect(log, LogOptions(limit_bytes=9)) == b"oldest\nol"


async def test_missing_file_is_empty(tmp_path):
    assert await collect(tmp_path / "none.log", LogOptions()) == b""


def test_bad_options():
    with pytest.raises(LogOptionsError):
        LogOptions(tail_lines=-1)
    with pytest.raises(LogOptionsError):
        LogOptions(limit_bytes=0)


async def test_follow_reads_new_lines_and_rotation_until_the_container_stops(tmp_path):
    log = tmp_path / "0.log"
    write(log, f"{T0} stdout F first")
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    got: list[bytes] = []

    async def follow() -> None:
        async for chunk in read_logs(log, LogOptions(follow=True), running=running):
            got.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.15)
    write(log, f"{T1} stdout F second")
    await asyncio.sleep(0.25)
    log.rename(tmp_path / "0.log.1")  # the runtime rotates: a new file under the same name
    write(log, f"{T2} stdout F third")
    await asyncio.sleep(0.25)
    state["running"] = False
    await asyncio.wait_for(task, 5)
    assert b"".join(got) == b"first\nsecond\nthird\n"


async def test_follow_reads_what_the_writer_added_to_the_old_file_after_the_rename(tmp_path):
    """conmon keeps writing to the renamed file until it reopens the log: those lines are read
    before the new file's, none lost, none twice."""
    log = tmp_path / "0.log"
    write(log, f"{T0} stdout F one")
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    got: list[bytes] = []

    async def follow() -> None:
        async for chunk in read_logs(log, LogOptions(follow=True), running=running):
            got.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.15)
    with open(log, "a") as writer:  # the writer's descriptor, kept across the rename
        log.rename(tmp_path / "0.log.1")
        await asyncio.sleep(0.25)  # the reader polls while no file has the name
        writer.write(f"{T1} stdout F two (late, in the old file)\n")
    write(log, f"{T2} stdout F three")  # the reopened log
    await asyncio.sleep(0.3)
    state["running"] = False
    await asyncio.wait_for(task, 5)
    assert b"".join(got) == b"one\ntwo (late, in the old file)\nthree\n"


async def test_follow_starts_over_when_the_file_is_truncated(tmp_path):
    log = tmp_path / "0.log"
    write(log, f"{T0} stdout F a long first line", f"{T0} stdout F and another")
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    got: list[bytes] = []

    async def follow() -> None:
        async for chunk in read_logs(log, LogOptions(follow=True), running=running):
            got.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.15)
    log.write_text(f"{T1} stdout F new\n")
    await asyncio.sleep(0.3)
    state["running"] = False
    await asyncio.wait_for(task, 5)
    assert b"".join(got) == b"a long first line\nand another\nnew\n"
