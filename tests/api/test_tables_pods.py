"""Pod rows, following printPod in kubernetes pkg/printers/internalversion/printers.go; most
cases restate upstream's TestPrintPod / TestPrintPodWithRestartableInitContainer scenarios."""

import datetime as dt

import pytest

from kybernetes.api.tables import table_cells, table_columns

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(status: dict, containers: int = 1, init: list | None = None, **metadata) -> dict:
    spec = {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]}
    if init is not None:
        spec["initContainers"] = init
    return {"metadata": {"name": "p", "creationTimestamp": ago(300), **metadata}, "spec": spec, "status": status}


RUNNING = {"running": {"startedAt": ago(200)}}


def restarted(seconds_ago: int) -> dict:
    return {"terminated": {"exitCode": 1, "finishedAt": ago(seconds_ago)}}


def test_pod_columns_are_the_real_servers():
    columns = table_columns("", "pods")
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Status", "string", "", 0),
        ("Restarts", "string", "", 0),
        ("Age", "string", "", 0),
        ("IP", "string", "", 1),
        ("Node", "string", "", 1),
        ("Nominated Node", "string", "", 1),
        ("Readiness Gates", "string", "", 1),
    ]
    assert all(c["description"] for c in columns)


CASES = [
    (  # phase shown; only running+ready containers count as ready
        "phase",
        pod({"phase": "Running", "containerStatuses": [
            {"ready": True, "restartCount": 3, "state": RUNNING}, {"ready": False, "restartCount": 3, "state": {}},
        ]}, containers=2),
        ("1/2", "Running", "6"),
    ),
    (  # a waiting reason replaces the phase
        "waiting reason",
        pod({"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        ("0/1", "ContainerCreating", "0"),
    ),
    (  # containers are walked from the last, so the first container's reason wins
        "first container wins",
        pod({"phase": "Running", "containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 5, "lastState": restarted(30)},
            {"state": {"terminated": {"reason": "Error", "exitCode": 1}}},
        ]}, containers=2),
        ("0/2", "CrashLoopBackOff", "5 (30s ago)"),
    ),
    (  # terminated without a reason: exit code, or the signal when there is one
        "exit code",
        pod({"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 137}}}]}),
        ("0/1", "ExitCode:137", "0"),
    ),
    (
        "signal",
        pod({"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
        ("0/1", "Signal:9", "0"),
    ),
    (  # Completed with a container still running: NotReady without the Ready condition ...
        "completed but running, not ready",
        pod({"phase": "Running", "containerStatuses": [
            {"ready": True, "restartCount": 3, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            {"ready": True, "restartCount": 3, "state": RUNNING},
        ]}, containers=2),
        ("1/2", "NotReady", "6"),
    ),
    (  # ... and Running with it
        "completed but running, ready",
        pod({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
            {"ready": True, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            {"ready": True, "state": RUNNING},
        ]}, containers=2),
        ("1/2", "Running", "0"),
    ),
    (  # an init container still running: Init:i/n, restarts with the last restart time
        "init running",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
        ], "containerStatuses": [{"state": {"waiting": {}}}]}, init=[{"name": "i0"}]),
        ("0/1", "Init:0/1", "3 (10s ago)"),
    ),
    (  # the first init container done, the second running; restarts of both add up
        "second init running",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 2, "state": {"terminated": {"exitCode": 0}}, "lastState": restarted(120)},
            {"name": "i1", "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
        ]}, init=[{"name": "i0"}, {"name": "i1"}]),
        ("0/1", "Init:1/2", "5 (10s ago)"),
    ),
    (
        "init crash loop",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": restarted(65)},
        ]}, init=[{"name": "i0"}]),
        ("0/1", "Init:CrashLoopBackOff", "4 (65s ago)"),
    ),
    (  # PodInitializing is not a reason worth showing
        "init pod initializing",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "state": {"waiting": {"reason": "PodInitializing"}}},
        ]}, init=[{"name": "i0"}]),
        ("0/1", "Init:0/1", "0"),
    ),
    (
        "init failed with reason",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "state": {"terminated": {"reason": "Error", "exitCode": 2}}},
        ]}, init=[{"name": "i0"}]),
        ("0/1", "Init:Error", "0"),
    ),
    (
        "init failed without reason",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "state": {"terminated": {"exitCode": 2}}},
        ]}, init=[{"name": "i0"}]),
        ("0/1", "Init:ExitCode:2", "0"),
    ),
    (  # init done: app container restarts count, init restarts do not
        "after init",
        pod({"phase": "Running", "initContainerStatuses": [
            {"name": "i0", "restartCount": 2, "state": {"terminated": {"exitCode": 0}}, "lastState": restarted(120)},
        ], "containerStatuses": [
            {"ready": False, "restartCount": 4, "state": RUNNING, "lastState": restarted(20)},
        ]}, init=[{"name": "i0"}]),
        ("0/1", "Running", "4 (20s ago)"),
    ),
    (  # sidecars (restartPolicy Always) count toward READY and RESTARTS once started
        "sidecars",
        pod({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}], "initContainerStatuses": [
            {"name": "s0", "started": True, "ready": True, "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
            {"name": "s1", "started": True, "ready": False, "state": RUNNING},
        ], "containerStatuses": [
            {"ready": True, "restartCount": 4, "state": RUNNING, "lastState": restarted(20)},
        ]}, init=[{"name": "s0", "restartPolicy": "Always"}, {"name": "s1", "restartPolicy": "Always"}]),
        ("2/3", "Running", "7 (10s ago)"),
    ),
    (  # a sidecar not yet started blocks initialization like an init container
        "sidecar not started",
        pod({"phase": "Pending", "initContainerStatuses": [
            {"name": "s0", "started": False, "restartCount": 3, "state": RUNNING, "lastState": restarted(10)},
        ]}, init=[{"name": "s0", "restartPolicy": "Always"}]),
        ("0/2", "Init:0/1", "3 (10s ago)"),
    ),
    (
        "scheduling gated",
        pod({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
        ]}, containers=2),
        ("0/2", "SchedulingGated", "0"),
    ),
    (
        "pod status reason",
        pod({"phase": "Failed", "reason": "Evicted"}),
        ("0/1", "Evicted", "0"),
    ),
    (
        "completed",
        pod({"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
        ("0/1", "Completed", "0"),
    ),
    (  # a finished pod being deleted keeps its final status ...
        "completed while deleting",
        pod({"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]},
            deletionTimestamp=ago(10)),
        ("0/1", "Completed", "0"),
    ),
    (  # ... a live one shows Terminating
        "terminating",
        pod({"phase": "Running", "containerStatuses": [{"ready": True, "state": RUNNING}]}, deletionTimestamp=ago(10)),
        ("1/1", "Terminating", "0"),
    ),
    (
        "terminating pending",
        pod({"phase": "Pending"}, deletionTimestamp=ago(10)),
        ("0/1", "Terminating", "0"),
    ),
    (  # pods on a lost node show Unknown while deleted
        "node lost",
        pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp=ago(10)),
        ("0/1", "Unknown", "0"),
    ),
    (  # restarted days ago
        "old restart",
        pod({"phase": "Running", "containerStatuses": [
            {"ready": True, "restartCount": 3, "state": RUNNING, "lastState": restarted(5 * 86400)},
        ]}),
        ("1/1", "Running", "3 (5d ago)"),
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pod_ready_status_restarts(obj, expected):
    cells = table_cells("", "pods", obj, NOW)
    assert len(cells) == len(table_columns("", "pods"))
    assert cells[0] == "p"
    assert tuple(cells[1:4]) == expected
    assert cells[4] == "5m"


def test_pod_wide_cells():
    obj = pod({"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}], "podIP": "10.0.0.7",
               "nominatedNodeName": "node-b",
               "conditions": [{"type": "gate-a", "status": "False"}, {"type": "gate-b", "status": "True"}]})
    obj["spec"]["nodeName"] = "node-a"
    obj["spec"]["readinessGates"] = [{"conditionType": "gate-a"}, {"conditionType": "gate-b"}, {"conditionType": "gate-c"}]
    assert table_cells("", "pods", obj, NOW)[5:] == ["10.0.0.7", "node-a", "node-b", "1/3"]


def test_pod_wide_cells_when_unscheduled():
    assert table_cells("", "pods", pod({"phase": "Pending"}), NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    # A status carrying only the legacy podIP still shows it.
    assert table_cells("", "pods", pod({"podIP": "10.1.1.1"}), NOW)[5] == "10.1.1.1"


def test_minimal_pod_never_raises():
    assert table_cells("", "pods", {"metadata": {"name": "x"}}, NOW) == [
        "x", "0/0", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>",
    ]


def test_row_conditions_mark_finished_pods_completed():
    from kybernetes.api.tables import table_row_conditions

    assert table_row_conditions("", "pods", pod({"phase": "Succeeded"})) == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]
    assert table_row_conditions("", "pods", pod({"phase": "Failed"}))[0]["reason"] == "Failed"
    assert table_row_conditions("", "pods", pod({"phase": "Running"})) == []
    assert table_row_conditions("apps", "deployments", {"status": {"phase": "Succeeded"}}) == []
