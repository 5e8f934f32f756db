"""Bodies built field by field (numbers from k8s.io/api), for what kubectl create never sets.

The captured tests pin the common shapes to Go's own output; these reach into the rest of the
PodSpec, the well-known types, Go's omitempty/pointer rules and forward compatibility.
"""

from __future__ import annotations

import struct

from kybernetes.api.protobuf import decode_object
from tests.api.test_protobuf_wire import entry, envelope, ld, msg, varint, vint


def meta(name: str, *extra: bytes) -> bytes:
    return msg(1, ld(1, name), *extra)


def quantity(number: int, text: str) -> bytes:
    return msg(number, ld(1, text))


def int_or_string(number: int, value: int | str) -> bytes:
    if isinstance(value, int):
        return msg(number, vint(1, 0), vint(2, value), ld(3, ""))
    return msg(number, vint(1, 1), vint(2, 0), ld(3, value))


def resource_map(number: int, **values: str) -> bytes:
    return b"".join(entry(number, key, ld(1, text)) for key, text in values.items())


def _container() -> bytes:
    env = (
        msg(7, ld(1, "PLAIN"), ld(2, "v"))
        + msg(7, ld(1, "POD_IP"), msg(3, msg(1, ld(1, "v1"), ld(2, "status.podIP"))))
        + msg(7, ld(1, "FROM_CM"), msg(3, msg(3, msg(1, ld(1, "cfg")), ld(2, "k"), vint(3, True))))
    )
    resources = msg(8, resource_map(1, cpu="500m", memory="128Mi"), resource_map(2, cpu="250m"))
    probe = msg(10, msg(1, msg(2, ld(1, "/healthz"), int_or_string(2, "http"), ld(4, "HTTP"))),
                vint(2, 5), vint(4, 10))
    readiness = msg(11, msg(1, msg(3, int_or_string(1, 8080))), vint(2, 0))
    security = msg(15, vint(2, False), vint(4, 1000), vint(6, True))
    return msg(
        2,
        ld(1, "app"), ld(2, "nginx:1.27"), ld(3, "/bin/sh"), ld(3, "-c"), ld(4, "exec nginx"),
        ld(5, ""),  # workingDir: empty and omitempty -> dropped
        msg(6, ld(1, "http"), vint(2, 0), vint(3, 80), ld(4, "TCP")),
        env, resources,
        msg(9, ld(1, "data"), vint(2, True), ld(3, "/data")),
        probe, readiness, ld(14, "IfNotPresent"), security,
        vint(16, False), vint(17, False), vint(18, False),  # Go writes every non-pointer field
    )


def _pod_spec() -> bytes:
    volumes = (
        msg(1, ld(1, "data"), msg(2, msg(2, ld(1, "Memory"), quantity(2, "1Gi"))))
        + msg(1, ld(1, "cfg"), msg(2, msg(19, msg(1, ld(1, "app-config")),
                                          msg(2, ld(1, "a.yaml"), ld(2, "a.yaml"), vint(3, 0o400)),
                                          vint(3, 0o644))))
        + msg(1, ld(1, "creds"), msg(2, msg(6, ld(1, "db-secret"), vint(4, False))))
    )
    toleration = msg(22, ld(1, "dedicated"), ld(2, "Equal"), ld(3, "gpu"), ld(4, "NoExecute"), vint(5, 30))
    return msg(
        2,
        volumes, _container(),
        msg(20, ld(1, "init"), ld(2, "busybox")),
        ld(3, "Always"), vint(4, 30), ld(6, "ClusterFirst"), entry(7, "disk", "ssd"),
        ld(8, "runner"), vint(11, False),
        msg(14, vint(2, 1000), vint(5, 2000), vint(4, 5), vint(4, 6)),  # runAsUser, fsGroup, groups
        msg(15, ld(1, "regcred")), toleration,
    )


def _deployment() -> bytes:
    selector = msg(2, entry(1, "app", "web"))
    template = msg(3, msg(1, ld(1, ""), entry(11, "app", "web")), _pod_spec())
    strategy = msg(4, ld(1, "RollingUpdate"), msg(2, int_or_string(1, 0), int_or_string(2, "25%")))
    spec = msg(2, vint(1, 2), selector, template, strategy, vint(5, 0), vint(6, 10), vint(7, False))
    return meta("web", ld(3, "prod"), entry(12, "note", "x")) + spec + msg(3)


def test_deployment_with_a_full_pod_template() -> None:
    obj = decode_object(envelope("apps/v1", "Deployment", _deployment()))
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["metadata"] == {"name": "web", "namespace": "prod", "annotations": {"note": "x"}}
    assert obj["status"] == {}
    spec = obj["spec"]
    assert spec["replicas"] == 2 and spec["revisionHistoryLimit"] == 10
    assert "minReadySeconds" not in spec and "paused" not in spec  # zero, omitempty, not pointers
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    assert spec["template"]["metadata"] == {"labels": {"app": "web"}}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["terminationGracePeriodSeconds"] == 30
    assert pod["nodeSelector"] == {"disk": "ssd"} and pod["serviceAccountName"] == "runner"
    assert "hostNetwork" not in pod
    assert pod["securityContext"] == {"runAsUser": 1000, "supplementalGroups": [5, 6], "fsGroup": 2000}
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                   "effect": "NoExecute", "tolerationSeconds": 30}]
    assert pod["initContainers"] == [{"name": "init", "image": "busybox"}]
    assert pod["volumes"] == [
        {"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        {"name": "cfg", "configMap": {"name": "app-config", "items": [{"key": "a.yaml", "path": "a.yaml",
                                                                        "mode": 0o400}], "defaultMode": 0o644}},
        {"name": "creds", "secret": {"secretName": "db-secret", "optional": False}},
    ]


def test_container_fields() -> None:
    (container,) = decode_object(envelope("apps/v1", "Deployment", _deployment()))["spec"]["template"]["spec"][
        "containers"]
    assert container == {
        "name": "app",
        "image": "nginx:1.27",
        "command": ["/bin/sh", "-c"],
        "args": ["exec nginx"],
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
        "env": [
            {"name": "PLAIN", "value": "v"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}}},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [{"name": "data", "readOnly": True, "mountPath": "/data"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                          "initialDelaySeconds": 5, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"privileged": False, "runAsUser": 1000, "readOnlyRootFilesystem": True},
    }


def test_unknown_fields_are_skipped_at_every_level() -> None:
    future = ld(900, "from a newer kubectl") + vint(901, 7) + varint(902 << 3 | 5) + b"\x00\x00\x00\x00"
    raw = meta("x", future) + entry(2, "a", "b") + future
    assert decode_object(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, "data": {"a": "b"}}


def test_service_spec() -> None:
    port = msg(1, ld(1, "web"), ld(2, "TCP"), ld(6, "http"), vint(3, 80), int_or_string(4, "web-port"),
               vint(5, 0))
    spec = msg(2, port, entry(2, "app", "web"), ld(3, "10.0.0.10"), ld(18, "10.0.0.10"), ld(4, "ClusterIP"),
               ld(7, "ClientIP"), msg(14, msg(1, vint(1, 600))), ld(19, "IPv4"), ld(17, "SingleStack"),
               ld(22, "Cluster"), vint(13, False))
    obj = decode_object(envelope("v1", "Service", meta("web") + spec + msg(3, msg(1))))
    assert obj["spec"] == {
        "ports": [{"name": "web", "protocol": "TCP", "appProtocol": "http", "port": 80, "targetPort": "web-port"}],
        "selector": {"app": "web"}, "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"], "type": "ClusterIP",
        "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_zero_int_or_string_target_port_is_omitted_like_unset() -> None:
    port = msg(1, vint(3, 80), int_or_string(4, 0))
    obj = decode_object(envelope("v1", "Service", meta("web") + msg(2, port)))
    assert obj["spec"]["ports"] == [{"port": 80}]


def test_times_and_micro_times() -> None:
    acquired = msg(3, vint(1, 1_700_000_000), vint(2, 123_456_789))
    lease = meta("l") + msg(2, ld(1, "node-a"), vint(2, 40), acquired, vint(5, 0))
    obj = decode_object(envelope("coordination.k8s.io/v1", "Lease", lease))
    assert obj["spec"] == {"holderIdentity": "node-a", "leaseDurationSeconds": 40,
                           "acquireTime": "2023-11-14T22:13:20.123456Z", "leaseTransitions": 0}
    job = meta("j", msg(8)) + msg(3, msg(2, vint(1, 1_700_000_000), vint(2, 999)), vint(4, 0))
    decoded = decode_object(envelope("batch/v1", "Job", job))
    assert decoded["metadata"] == {"name": "j"}  # a zero creationTimestamp is left out
    assert decoded["status"] == {"startTime": "2023-11-14T22:13:20Z"}


def test_list_wrapper_maps_and_bytes() -> None:
    extra = entry(5, "scopes", ld(1, "a") + ld(1, "b"))  # map<string, ExtraValue{1: repeated string}>
    spec = msg(2, msg(2, ld(1, "/healthz"), ld(2, "get")), ld(3, "alice"), ld(4, "devs"), extra)
    obj = decode_object(envelope("authorization.k8s.io/v1", "SubjectAccessReview", meta("") + spec))
    assert obj["spec"]["extra"] == {"scopes": ["a", "b"]}
    assert obj["spec"]["nonResourceAttributes"] == {"path": "/healthz", "verb": "get"}
    csr = meta("c") + msg(2, ld(1, b"\x00\xffPEM"), ld(7, "kubernetes.io/kube-apiserver-client"))
    decoded = decode_object(envelope("certificates.k8s.io/v1", "CertificateSigningRequest", csr))
    assert decoded["spec"]["request"] == "AP9QRU0="


def test_packed_repeated_scalars_are_accepted() -> None:
    packed = ld(4, varint(5) + varint(6) + varint(7))
    pod = meta("p") + msg(2, msg(14, packed))
    assert decode_object(envelope("v1", "Pod", pod))["spec"]["securityContext"] == {"supplementalGroups": [5, 6, 7]}


def test_json_raw_inside_the_envelope() -> None:
    body = envelope("v1", "ConfigMap", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}',
                    content_type="application/json")
    assert decode_object(body) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "j"}}


def test_negative_and_large_ints() -> None:
    pc = meta("low") + vint(2, -1_000_000) + vint(3, False)
    assert decode_object(envelope("scheduling.k8s.io/v1", "PriorityClass", pc))["value"] == -1_000_000
    spec = msg(2, vint(3, 2**40))  # activeDeadlineSeconds is an int64
    assert decode_object(envelope("batch/v1", "Job", meta("j") + spec))["spec"] == {"activeDeadlineSeconds": 2**40}


def test_fixed_width_fields_in_unknown_positions_do_not_disturb_known_ones() -> None:
    raw = meta("x") + varint(77 << 3 | 1) + struct.pack("<d", 2.5) + entry(2, "k", "v")
    assert decode_object(envelope("v1", "ConfigMap", raw))["data"] == {"k": "v"}
