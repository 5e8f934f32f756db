"""--log-format text|json: the shared set-up of every command (cli/component.py), and `kyb up`
passing the format to its children so that its whole output is one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kybernetes.cli.component import JsonFormatter, setup_logging
from kybernetes.cli.main import cli
from tests.e2e.cluster import free_port

COMPONENT_COMMANDS = ("apiserver", "controller-manager", "scheduler", "kubelet", "proxy", "dns", "simulate-nodes",
                      "server", "agent", "up")


@pytest.fixture
def root_logger():
    """The root logger without the test harness's handlers; it, the excepthook and warnings
    capture (json mode sets both) are put back afterwards."""
    root = logging.getLogger()
    saved, level, hook = root.handlers[:], root.level, sys.excepthook
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers, root.level, sys.excepthook = saved, level, hook
        logging.captureWarnings(False)


def test_a_record_as_json_has_the_documented_keys():
    formatter = JsonFormatter("kubelet")
    record = logging.LogRecord("kybernetes.kubelet", logging.WARNING, __file__, 1, "pod %s: %s", ("p", "é"), None)
    record.created = 1767323045.678
    doc = json.loads(formatter.format(record))
    assert doc == {"ts": "2026-01-02T03:04:05.678Z", "level": "warning", "component": "kubelet",
                   "logger": "kybernetes.kubelet", "msg": "pod p: é"}


def test_an_exception_goes_into_exc_and_the_record_stays_one_line(root_logger):
    stream = io.StringIO()
    setup_logging("info", "json", component="scheduler", stream=stream)
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("kybernetes.scheduler").exception("binding failed")
    logging.getLogger("kybernetes.scheduler").debug("below the level")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["level"] == "error" and doc["msg"] == "binding failed" and doc["component"] == "scheduler"
    assert doc["exc"].startswith("Traceback") and "ValueError: bad\nthing" in doc["exc"]


def test_text_format_and_a_second_set_up_replaces_the_first(root_logger):
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", "json", stream=first)
    setup_logging("warning", "text", stream=second)
    logging.getLogger("x").warning("careful")
    logging.getLogger("x").info("quiet")
    assert first.getvalue() == ""
    assert second.getvalue().rstrip().endswith("WARNING x: careful") and "quiet" not in second.getvalue()
    assert sum(isinstance(h, logging.StreamHandler) and h.stream is second for h in root_logger.handlers) == 1
    assert not any(getattr(h, "stream", None) is first for h in root_logger.handlers)


@pytest.mark.parametrize("command", COMPONENT_COMMANDS)
def test_every_component_command_takes_log_format(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "--log-format [text|json]" in result.output
    bad = CliRunner().invoke(cli, [command, "--log-format", "xml"])
    assert bad.exit_code == 2 and "'xml' is not one of 'text', 'json'" in bad.output


def test_kyb_up_with_json_logs_writes_only_json_lines_from_every_component(tmp_path):
    data = tmp_path / "data"
    argv = [str(Path(sys.executable).parent / "kyb"), "up", "--no-node", "--sim-nodes", "1", "--data-dir", str(data),
            "--port", str(free_port()), "--bind-address", "127.0.0.1", "--no-kubeconfig-merge",
            "--log-format", "json"]
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        wanted = ('"component": "scheduler"', '"component": "controller-manager"', "Cluster ready")
        while not all(w in log.read_text() for w in wanted) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    docs = []
    for line in log.read_text().splitlines():
        assert line.startswith("{"), f"not a JSON line: {line!r}"
        docs.append(json.loads(line))
    assert all({"ts", "level", "logger", "msg"} <= doc.keys() for doc in docs)
    components = {doc.get("component") for doc in docs}
    assert {"up", "apiserver", "controller-manager", "scheduler"} <= components, components
    messages = [doc["msg"] for doc in docs if doc.get("component") == "up"]
    assert messages[0].startswith("Kybernetes ") and "stopped" in messages, messages
    assert any(m.startswith("✓ apiserver") for m in messages), messages
