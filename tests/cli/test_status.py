"""kyb status: the supervisor's components file, node rows, the command against a live apiserver
(kybernetes.testing.Cluster in a thread) and against nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from kybernetes.cli.main import cli
from kybernetes.cli.status import COMPONENTS_FILE, ComponentStates, node_rows, read_components


def test_component_states_track_ready_restart_and_stop(tmp_path):
    path = tmp_path / COMPONENTS_FILE
    states = ComponentStates(path, ["apiserver", "scheduler"])
    assert [c["state"] for c in json.loads(path.read_text())["components"]] == ["pending", "pending"]
    states.update("apiserver", pid=os.getpid(), state="running")
    states.update("scheduler", state="restarting", last_exit_code=3, restarts=1)
    doc = json.loads(path.read_text())
    assert doc["supervisorPid"] == os.getpid()
    by_name = {c["name"]: c for c in doc["components"]}
    assert by_name["apiserver"]["pid"] == os.getpid() and by_name["apiserver"]["state"] == "running"
    assert by_name["scheduler"] == {**by_name["scheduler"], "state": "restarting", "restarts": 1,
                                    "last_exit_code": 3}
    states.stopped()
    assert {c["state"] for c in read_components(tmp_path)} == {"stopped"}


def test_a_dead_supervisor_or_child_reads_as_not_running(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    path = tmp_path / COMPONENTS_FILE
    path.parent.mkdir()
    path.write_text(json.dumps({"supervisorPid": os.getpid(), "components": [
        {"name": "apiserver", "pid": os.getpid(), "state": "running", "restarts": 0},
        {"name": "scheduler", "pid": int(dead), "state": "running", "restarts": 2}]}))
    assert [c["state"] for c in read_components(tmp_path)] == ["running", "not running"]
    doc = json.loads(path.read_text())
    doc["supervisorPid"] = int(dead)
    path.write_text(json.dumps(doc))
    assert [c["state"] for c in read_components(tmp_path)] == ["not running", "not running"]


def test_unreadable_components_file_is_no_components(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / COMPONENTS_FILE).write_text("{not json")
    assert read_components(tmp_path) == []


def test_node_rows():
    created = (datetime.now(UTC) - timedelta(minutes=3, seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = node_rows([
        {"metadata": {"name": "a", "creationTimestamp": created},
         "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.2.3"}}},
        {"metadata": {"name": "b"}, "status": {}},
    ])
    assert rows == [{"name": "a", "ready": "True", "age": "3m", "version": "v1.2.3"},
                    {"name": "b", "ready": "Unknown", "age": "<unknown>", "version": ""}]


def test_missing_data_dir_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["status", "--data-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "does not exist" in result.output and "Traceback" not in result.output


def test_unreachable_apiserver_exits_1_with_one_line(tmp_path):
    from kybernetes.client.kubeconfig import write_kubeconfig
    from tests.e2e.cluster import free_port

    write_kubeconfig(tmp_path / "kubeconfig", {
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"})
    result = CliRunner().invoke(cli, ["status", "--data-dir", str(tmp_path), "--timeout", "1", "-o", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["healthy"] is False and doc["components"] == [] and doc["error"]
