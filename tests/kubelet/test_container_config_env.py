"""Env resolution as Kubernetes' kubelet does it: $(VAR) expansion, fieldRef, resourceFieldRef,
configMapKeyRef / secretKeyRef (and their CreateContainerConfigError messages), envFrom with
prefixes and invalid keys, service links. Sources are an in-memory stand-in for the cache."""

from __future__ import annotations

import base64

import pytest

from kybernetes.kubelet.container_env import EnvResolver, expand, service_env
from kybernetes.kubelet.volumes.downward import PodFacts, format_map, resource_value
from kybernetes.kubelet.volumes.errors import ContainerConfigError, SourceError


class MemorySources:
    """ObjectCache's read interface over dicts."""

    def __init__(self, config_maps=None, secrets=None, services=None):
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}
        self.service_lists = services or {}

    async def config_map(self, namespace, name):
        if (namespace, name) not in self.config_maps:
            raise SourceError(f'configmap "{name}" not found', not_found=True)
        return {"data": self.config_maps[(namespace, name)]}

    async def secret(self, namespace, name):
        if (namespace, name) not in self.secrets:
            raise SourceError(f'secret "{name}" not found', not_found=True)
        return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in self.secrets[(namespace, name)].items()}}

    async def services(self, namespace):
        return self.service_lists.get(namespace, [])


def pod(container: dict, **spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"},
                         "annotations": {"team": "blue"}},
            "spec": {"nodeName": "node-a", "serviceAccountName": "robot", "containers": [container], **spec},
            "status": {}}


def lookup_of(values):
    return values.get


@pytest.mark.parametrize("text,expected", [
    ("plain", "plain"),
    ("$(A)", "a"),
    ("x$(A)y$(B)z", "xaybz"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$a"),
    ("$$", "$"),
    ("$", "$"),
    ("a$b", "a$b"),
    ("$(A", "$(A"),
    ("$()", "$()"),
    ("$(A)$(A)", "aa"),
    ("100$", "100$"),
])
def test_expand(text, expected):
    assert expand(text, lookup_of({"A": "a", "B": "b"})) == expected


async def resolve(container, *, sources=None, facts=PodFacts(), events=None, **spec):
    resolver = EnvResolver(sources or MemorySources(), events=events)
    return await resolver.resolve(pod(container, **spec), container, facts)


@pytest.mark.parametrize("path,expected", [
    ("metadata.name", "web"), ("metadata.namespace", "ns"), ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"), ("metadata.annotations['team']", "blue"),
    ("metadata.labels['absent']", ""), ("spec.nodeName", "node-a"), ("spec.serviceAccountName", "robot"),
    ("status.podIP", "10.1.0.5"), ("status.podIPs", "10.1.0.5,fd00::5"), ("status.hostIP", "192.168.1.2"),
    ("status.hostIPs", "192.168.1.2"),
])
async def test_field_ref(path, expected):
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}]}
    env = await resolve(c, facts=PodFacts(pod_ips=("10.1.0.5", "fd00::5"), host_ips=("192.168.1.2",)))
    assert env["V"] == expected


async def test_unsupported_field_ref_is_a_config_error():
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]}
    with pytest.raises(ContainerConfigError, match='unsupported fieldPath: "spec.bogus"'):
        await resolve(c)


@pytest.mark.parametrize("resource,divisor,expected", [
    ("limits.cpu", None, "1"),  # 500m rounded up to whole CPUs
    ("limits.cpu", "1m", "500"),
    ("requests.cpu", "1m", "250"),
    ("requests.cpu", None, "1"),
    ("limits.memory", None, str(64 * 1024 * 1024)),
    ("limits.memory", "1Mi", "64"),
    ("requests.memory", "1Mi", "32"),
    ("limits.memory", "1M", "68"),  # 67.1 MB rounded up
    ("limits.ephemeral-storage", "1Gi", "8"),  # not set: the node's allocatable
    ("requests.ephemeral-storage", None, "0"),
])
async def test_resource_field_ref_with_divisor(resource, divisor, expected):
    ref = {"resource": resource, **({"divisor": divisor} if divisor else {})}
    c = {"name": "c", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"},
                                     "requests": {"cpu": "250m", "memory": "32Mi"}},
         "env": [{"name": "V", "valueFrom": {"resourceFieldRef": ref}}]}
    env = await resolve(c, facts=PodFacts(node_allocatable={"ephemeral-storage": "8Gi", "cpu": "4"}))
    assert env["V"] == expected


def test_resource_of_another_container_and_unknown_resource():
    p = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "2"}}}, {"name": "b"}]}}
    assert resource_value(p, {"containerName": "a", "resource": "limits.cpu", "divisor": "1m"}) == "2000"
    with pytest.raises(ValueError, match="unsupported container resource"):
        resource_value(p, {"containerName": "a", "resource": "limits.gpu"})


def test_labels_file_format_is_sorted_and_quoted():
    assert format_map({"b": 'say "hi"', "a": "1"}) == 'a="1"\nb="say \\"hi\\""'


CM = {("ns", "settings"): {"LEVEL": "debug", "MODE": "fast", "1bad": "x", "with.dot": "ok"}}
SECRET = {("ns", "creds"): {"PASSWORD": "s3cret"}}


async def test_config_map_and_secret_key_refs():
    c = {"name": "c", "env": [
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "LEVEL"}}},
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}}]}
    env = await resolve(c, sources=MemorySources(CM, SECRET))
    assert (env["LEVEL"], env["PW"]) == ("debug", "s3cret")


@pytest.mark.parametrize("ref_kind,ref,message", [
    ("configMapKeyRef", {"name": "nope", "key": "k"}, 'configmap "nope" not found'),
    ("configMapKeyRef", {"name": "settings", "key": "k"}, "couldn't find key k in ConfigMap ns/settings"),
    ("secretKeyRef", {"name": "nope", "key": "k"}, 'secret "nope" not found'),
    ("secretKeyRef", {"name": "creds", "key": "k"}, "couldn't find key k in Secret ns/creds"),
])
async def test_missing_sources_are_create_container_config_errors(ref_kind, ref, message):
    c = {"name": "c", "env": [{"name": "V", "valueFrom": {ref_kind: ref}}]}
    with pytest.raises(ContainerConfigError) as info:
        await resolve(c, sources=MemorySources(CM, SECRET))
    assert str(info.value) == message
    assert info.value.reason == "CreateContainerConfigError"


async def test_optional_missing_refs_leave_the_variable_out():
    c = {"name": "c", "env": [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k", "optional": True}}},
        {"name": "C", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}}],
        "envFrom": [{"configMapRef": {"name": "gone", "optional": True}}]}
    env = await resolve(c, sources=MemorySources(CM, SECRET))
    assert not {"A", "B", "C"} & set(env)


async def test_env_from_with_prefix_skips_invalid_keys_with_an_event():
    events = []
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}},
                                  {"prefix": "S_", "secretRef": {"name": "creds"}}]}
    env = await resolve(c, sources=MemorySources(CM, SECRET), events=lambda *e: events.append(e[1:]))
    assert env["LEVEL"] == "debug" and env["with.dot"] == "ok" and env["S_PASSWORD"] == "s3cret"
    assert "1bad" not in env and "PASSWORD" not in env
    assert events == [("Warning", "InvalidEnvironmentVariableNames",
                       "Keys [1bad] from the EnvFrom configMap ns/settings were skipped since they are "
                       "considered invalid environment variable names.")]


async def test_env_from_missing_config_map_fails():
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "absent"}}]}
    with pytest.raises(ContainerConfigError, match='^configmap "absent" not found$'):
        await resolve(c)


async def test_env_overrides_env_from_and_expands_earlier_values_only():
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}}], "env": [
        {"name": "MODE", "value": "slow"},
        {"name": "MSG", "value": "$(LEVEL)-$(MODE)-$(LATER)-$$(LEVEL)"},
        {"name": "LATER", "value": "x"},
        {"name": "REF", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NOT_EXPANDED", "valueFrom": {"configMapKeyRef": {"name": "dollar", "key": "v"}}}]}
    sources = MemorySources({**CM, ("ns", "dollar"): {"v": "$(MODE)"}})
    env = await resolve(c, sources=sources)
    assert env["MODE"] == "slow"
    assert env["MSG"] == "debug-slow-$(LATER)-$(LEVEL)"
    assert env["NOT_EXPANDED"] == "$(MODE)"  # values from valueFrom are taken as they are


def test_service_link_variables():
    svc = {"metadata": {"name": "redis-primary"}, "spec": {"clusterIP": "10.43.0.7", "ports": [
        {"name": "redis", "port": 6379, "protocol": "TCP"}, {"name": "metrics", "port": 9121}]}}
    env = service_env([svc, {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}}])
    assert env["REDIS_PRIMARY_SERVICE_HOST"] == "10.43.0.7"
    assert env["REDIS_PRIMARY_SERVICE_PORT"] == "6379"
    assert env["REDIS_PRIMARY_SERVICE_PORT_METRICS"] == "9121"
    assert env["REDIS_PRIMARY_PORT"] == "tcp://10.43.0.7:6379"
    assert env["REDIS_PRIMARY_PORT_9121_TCP_ADDR"] == "10.43.0.7"
    assert env["REDIS_PRIMARY_PORT_6379_TCP_PROTO"] == "tcp"
    assert not any(k.startswith("HEADLESS") for k in env)


async def test_service_links_follow_enable_service_links_but_kubernetes_always_comes():
    kubernetes = {"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.43.0.1",
                                                               "ports": [{"name": "https", "port": 443}]}}
    own = {"metadata": {"name": "db"}, "spec": {"clusterIP": "10.43.0.9", "ports": [{"port": 5432}]}}
    sources = MemorySources(services={"default": [kubernetes], "ns": [own]})
    c = {"name": "c", "env": [{"name": "DB_SERVICE_PORT", "value": "override"},
                              {"name": "URL", "value": "https://$(KUBERNETES_SERVICE_HOST)"}]}
    env = await resolve(c, sources=sources)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and env["DB_SERVICE_HOST"] == "10.43.0.9"
    assert env["DB_SERVICE_PORT"] == "override"  # the container's own env wins over links
    assert env["URL"] == "https://10.43.0.1"
    env = await resolve(c, sources=sources, enableServiceLinks=False)
    assert "DB_SERVICE_HOST" not in env and env["KUBERNETES_SERVICE_PORT"] == "443"


async def test_apiserver_fallback_when_no_kubernetes_service_exists():
    resolver = EnvResolver(MemorySources(), apiserver=("192.168.5.1", 6443))
    c = {"name": "c"}
    env = await resolver.resolve(pod(c), c)
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("192.168.5.1", "6443")
