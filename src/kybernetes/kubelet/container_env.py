"""A container's environment, resolved as Kubernetes' kubelet resolves it.

    service links      {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT[_{PORT}], Docker-style {SVC}_PORT...
                       for the Services of the pod's namespace (enableServiceLinks, default on) and
                       always for "kubernetes" in default; lowest precedence
    envFrom            every key of a ConfigMap / Secret (with ``prefix``); keys that are no valid
                       variable names are skipped with an InvalidEnvironmentVariableNames event
    env, in order      ``value`` with $(VAR) expanded against what is defined so far;
                       ``valueFrom``: fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef
                       (``optional`` ones that are missing are left out)

$(VAR) expansion (``expand``): ``$(NAME)`` becomes NAME's value when NAME is defined and stays as
written when it is not; ``$$`` is a literal ``$`` (so ``$$(NAME)`` gives ``$(NAME)``); any
other ``$`` is kept. Command and args are expanded against the final environment.

A missing ConfigMap, Secret or key that is not optional is a ContainerConfigError whose message is
Kubernetes' (``configmap "x" not found``, ``couldn't find key k in ConfigMap ns/x``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kybernetes.kubelet.volumes.downward import DownwardError, PodFacts, field_value, resource_value
from kybernetes.kubelet.volumes.errors import ContainerConfigError, SourceError
from kybernetes.kubelet.volumes.sources import ObjectCache, config_map_data, secret_data

Obj = dict[str, Any]
EventSink = Callable[[Obj, str, str, str], None]  # (pod, type, reason, message)

ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
MASTER_SERVICE = ("default", "kubernetes")


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:  # unterminated: kept as written
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:close]
            value = lookup(name)
            out.append(value if value is not None else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: list[Obj]) -> dict[str, str]:
    """The link variables of these Services (each must have a cluster IP and a port)."""
    env: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip, ports = spec.get("clusterIP") or "", spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = _env_name((svc.get("metadata") or {}).get("name") or "")
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port.get("port"))
        host = f"[{ip}]" if ":" in ip else ip
        for i, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{host}:{port.get('port')}"
            if i == 0:
                env[f"{prefix}_PORT"] = url
            key = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            env[key] = url
            env[f"{key}_PROTO"] = protocol.lower()
            env[f"{key}_PORT"] = str(port.get("port"))
            env[f"{key}_ADDR"] = ip
    return env


def _pod_name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


class EnvResolver:
    def __init__(self, sources: ObjectCache, *, events: EventSink | None = None,
                 apiserver: tuple[str, int] | None = None):
        self.sources = sources
        self.events = events
        self.apiserver = apiserver  # where pods reach the apiserver while no "kubernetes" Service exists

    def _event(self, pod: Obj, reason: str, message: str) -> None:
        if self.events is not None:
            self.events(pod, "Warning", reason, message)

    async def _services(self, pod: Obj) -> dict[str, str]:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        links = (pod.get("spec") or {}).get("enableServiceLinks")
        chosen: dict[str, Obj] = {}
        try:
            for svc in await self.sources.services(MASTER_SERVICE[0]):
                name = (svc.get("metadata") or {}).get("name")
                if name == MASTER_SERVICE[1] or (namespace == MASTER_SERVICE[0] and links is not False):
                    chosen.setdefault(name, svc)
            if namespace != MASTER_SERVICE[0] and links is not False:
                for svc in await self.sources.services(namespace):
                    chosen[(svc.get("metadata") or {}).get("name")] = svc
        except SourceError:
            pass  # no service links rather than no container
        if MASTER_SERVICE[1] not in chosen and self.apiserver is not None:
            host, port = self.apiserver
            chosen[MASTER_SERVICE[1]] = {"metadata": {"name": "kubernetes"}, "spec": {
                "clusterIP": host, "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}}
        return service_env(list(chosen.values()))

    async def _object_data(self, pod: Obj, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        try:
            if kind == "ConfigMap":
                return config_map_data(await self.sources.config_map(namespace, name))
            return secret_data(await self.sources.secret(namespace, name))
        except SourceError as e:
            if e.not_found and optional:
                return None
            raise ContainerConfigError(str(e)) from None

    async def _env_from(self, pod: Obj, container: Obj, env: dict[str, str]) -> None:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        for source in container.get("envFrom") or []:
            prefix = str(source.get("prefix") or "")
            for kind, key, word in (("ConfigMap", "configMapRef", "configMap"), ("Secret", "secretRef", "secret")):
                ref = source.get(key)
                if not ref:
                    continue
                name = str(ref.get("name") or "")
                data = await self._object_data(pod, kind, name, bool(ref.get("optional")))
                invalid = []
                for k, v in (data or {}).items():
                    if not ENV_NAME.match(prefix + k):
                        invalid.append(prefix + k)
                        continue
                    env[prefix + k] = v.decode(errors="replace")
                if invalid:
                    self._event(pod, "InvalidEnvironmentVariableNames",
                                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {word} {namespace}/{name} "
                                "were skipped since they are considered invalid environment variable names.")

    async def _value_from(self, pod: Obj, container: Obj, value_from: Obj, facts: PodFacts) -> str | None:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        try:
            if value_from.get("fieldRef"):
                return field_value(pod, str(value_from["fieldRef"].get("fieldPath") or ""), facts)
            if value_from.get("resourceFieldRef"):
                return resource_value(pod, value_from["resourceFieldRef"], facts,
                                      default_container=container.get("name", ""))
        except DownwardError as e:
            raise ContainerConfigError(str(e)) from None
        for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            ref = value_from.get(key)
            if not ref:
                continue
            name, wanted, optional = str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional"))
            data = await self._object_data(pod, kind, name, optional)
            if data is None:
                return None
            if wanted not in data:
                if optional:
                    return None
                raise ContainerConfigError(f"couldn't find key {wanted} in {kind} {namespace}/{name}")
            return data[wanted].decode(errors="replace")
        return ""

    async def resolve(self, pod: Obj, container: Obj, facts: PodFacts = PodFacts()) -> dict[str, str]:
        """The container's environment, in order (envFrom, then env, then service links)."""
        services = await self._services(pod)
        env: dict[str, str] = {}
        await self._env_from(pod, container, env)
        for item in container.get("env") or []:
            name = str(item.get("name") or "")
            if not name:
                continue
            if item.get("valueFrom"):
                value = await self._value_from(pod, container, item["valueFrom"], facts)
                if value is None:
                    continue
            else:
                value = expand(str(item.get("value") or ""),
                               lambda key: env[key] if key in env else services.get(key))
            env[name] = value
        for key, value in services.items():
            env.setdefault(key, value)
        return env
