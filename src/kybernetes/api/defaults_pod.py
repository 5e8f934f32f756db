"""Defaults for pods and pod templates: what a real apiserver stores for fields a user omitted.

Split in two, as Kubernetes splits it. ``default_pod_spec`` is the scheme defaulting that runs on
every decode, for pods and for the templates inside workloads alike (restartPolicy, dnsPolicy,
per-container imagePullPolicy, ...). ``default_pod_admission`` is what admission plugins add to
bare pods only: the service account ("default"), priority 0 with its preemption policy, and the
not-ready/unreachable tolerations of DefaultTolerationSeconds; the apiserver calls it where the
real admission chain would run.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_TOLERATION_SECONDS = 300
_VOLUME_SOURCES_WITH_MODE = ("configMap", "secret", "downwardAPI", "projected")
_DEFAULT_FILE_MODE = 0o644  # 420, as it shows in JSON


def image_pull_policy(image: str) -> str:
    """Always for ":latest" or an untagged image, else IfNotPresent (a digest counts as a tag)."""
    name = image.split("@", 1)[0]
    if "@" in image and ":" not in name.rsplit("/", 1)[-1]:
        return "IfNotPresent"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_env(env: Any) -> None:
    for var in env if isinstance(env, list) else []:
        source = var.get("valueFrom") if isinstance(var, dict) else None
        field_ref = source.get("fieldRef") if isinstance(source, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def default_container(container: dict[str, Any], host_network: bool = False) -> None:
    if "imagePullPolicy" not in container:
        image = container.get("image")
        # An unparseable (or missing) image has no "latest" tag, so it defaults to IfNotPresent.
        container["imagePullPolicy"] = image_pull_policy(image) if isinstance(image, str) and image else "IfNotPresent"
    container.setdefault("terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH)
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if host_network and "containerPort" in port:
                port.setdefault("hostPort", port["containerPort"])
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    _default_env(container.get("env"))


def _default_volume(volume: dict[str, Any]) -> None:
    sources = set(volume) - {"name"}
    if not sources:
        volume["emptyDir"] = {}
        return
    for kind in _VOLUME_SOURCES_WITH_MODE:
        source = volume.get(kind)
        if isinstance(source, dict):
            source.setdefault("defaultMode", _DEFAULT_FILE_MODE)
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")


def default_pod_spec(spec: dict[str, Any]) -> None:
    """Scheme defaults for a PodSpec (pods and templates alike). Mutates ``spec``."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    spec.setdefault("enableServiceLinks", True)
    if spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        # The v1 API mirrors the deprecated serviceAccount field from serviceAccountName.
        spec["serviceAccount"] = spec["serviceAccountName"]
    host_network = bool(spec.get("hostNetwork"))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                default_container(container, host_network)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            _default_volume(volume)


def default_pod_template(template: Any) -> None:
    """Defaults for a PodTemplateSpec inside a workload (or a PodTemplate's ``template``)."""
    if not isinstance(template, dict):
        return
    spec = template.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)


def default_pod(pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if isinstance(spec, dict):
        default_pod_spec(spec)
    _requests_from_limits(pod.get("spec"))


def _requests_from_limits(spec: Any) -> None:
    """A Pod (not a template) whose container sets a limit but no request for a resource gets
    the limit as its request, as the real API defaulting does."""
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            res = c.get("resources") if isinstance(c, dict) else None
            limits = res.get("limits") if isinstance(res, dict) else None
            if not isinstance(limits, dict) or not limits:
                continue
            requests = res.get("requests")
            if requests is None:
                requests = res["requests"] = {}
            if isinstance(requests, dict):
                for name, value in limits.items():
                    if name not in requests and _is_quantity(value):
                        requests[name] = value


def _is_quantity(value: Any) -> bool:
    # A malformed limit is reported once, by validation, rather than copied into requests too.
    try:
        parse_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return False
    return True


def default_pod_admission(pod: dict[str, Any], default_priority: int = 0) -> None:
    """What admission adds to a new bare pod (ServiceAccount, Priority, DefaultTolerationSeconds)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = "default"
        spec["serviceAccount"] = "default"
    if "priorityClassName" not in spec or not spec.get("priorityClassName"):
        spec.setdefault("priority", default_priority)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(isinstance(t, dict) and t.get("key") == key and t.get("effect") in ("NoExecute", None, "")
                   for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""

    spec = pod.get("spec") or {}
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or []
                  if isinstance(c, dict)]
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        c_requests = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        c_limits = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        try:
            for name, v in c_requests.items():
                if parse_quantity(v).value != 0:
                    requests[name] = v
            for name, v in c_limits.items():
                if parse_quantity(v).value != 0:
                    limits[name] = v
            if set(c_limits) != {"cpu", "memory"}:
                guaranteed = False
            for name, v in c_requests.items():
                if name in c_limits and parse_quantity(v).value != parse_quantity(c_limits[name]).value:
                    guaranteed = False
        except QuantityError:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"
