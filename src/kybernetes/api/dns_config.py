"""A pod's resolv.conf, as the kubelet writes it for each dnsPolicy (pure: text in, text out).

    dnsPolicy                  nameservers          search                                   options
    ClusterFirst (default)     cluster DNS IPs      <ns>.svc.<d> svc.<d> <d> + host's        ndots:5
    ClusterFirstWithHostNet    cluster DNS IPs      (as ClusterFirst)                        ndots:5
    ClusterFirst + hostNetwork the host's           the host's                               the host's
    Default                    the host's           the host's                               the host's
    None                       nothing, only what spec.dnsConfig says

A cluster policy on a kubelet with no cluster DNS configured falls back to the host's settings,
as the kubelet does. spec.dnsConfig is then merged in: its nameservers and searches are appended
(duplicates dropped), its options override same-named ones. Finally the resolver's limits are
applied as the kubelet applies them: at most 3 nameservers, 32 search domains and 2048
characters of search path; what is dropped is reported in ``warnings`` (the kubelet turns those
into events) rather than failing the pod.

The host's resolv.conf comes in as text (``parse_resolv_conf``); reading the file is the
caller's job, so this module stays free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_NAMESERVERS = 3
MAX_SEARCH_DOMAINS = 32
MAX_SEARCH_CHARS = 2048
CLUSTER_OPTIONS = ("ndots:5",)

CLUSTER_FIRST = "ClusterFirst"
CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
DEFAULT = "Default"
NONE = "None"
POLICIES = (CLUSTER_FIRST, CLUSTER_FIRST_WITH_HOST_NET, DEFAULT, NONE)


class DnsConfigError(ValueError):
    """The pod's dnsPolicy / dnsConfig cannot be turned into a resolv.conf."""


@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # "name" or "name:value"
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n" if lines else ""


def parse_resolv_conf(text: str) -> ResolvConf:
    """nameserver, search/domain and options lines of a resolv.conf (the last search line wins)."""
    conf = ResolvConf()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        keyword, *values = line.split()
        if keyword == "nameserver" and values:
            conf.nameservers.append(values[0])
        elif keyword in ("search", "domain"):
            # As glibc: search and domain replace each other; the last one read counts.
            conf.searches = [v.rstrip(".") for v in values if v.rstrip(".")]
        elif keyword == "options":
            conf.options = _merge_options(conf.options, values)
    return conf


def cluster_searches(namespace: str, cluster_domain: str) -> list[str]:
    domain = cluster_domain.strip(".")
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


def pod_dns_type(pod: dict[str, Any], has_cluster_dns: bool = True) -> str:
    """Which source the pod's DNS settings come from: "cluster", "host" or "none"."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or CLUSTER_FIRST
    if policy not in POLICIES:
        raise DnsConfigError(f"unsupported dnsPolicy {policy!r}: one of {', '.join(POLICIES)}")
    if policy == NONE:
        return "none"
    if policy == DEFAULT:
        return "host"
    if policy == CLUSTER_FIRST and spec.get("hostNetwork"):
        return "host"
    return "cluster" if has_cluster_dns else "host"


def pod_resolv_conf(pod: dict[str, Any], *, cluster_dns: list[str], cluster_domain: str,
                    host: ResolvConf | None = None) -> ResolvConf:
    """The resolv.conf the kubelet gives ``pod`` (see the module docstring for the rules)."""
    host = host or ResolvConf()
    metadata = pod.get("metadata") or {}
    kind = pod_dns_type(pod, has_cluster_dns=bool(cluster_dns))
    warnings: list[str] = []
    if kind == "host" and pod_dns_type(pod) == "cluster":
        warnings.append("cluster DNS is not configured on this node: the pod uses the host's DNS settings")
    if kind == "none":
        conf = ResolvConf()
    elif kind == "host":
        conf = ResolvConf(list(host.nameservers), list(host.searches), list(host.options))
    else:
        namespace = metadata.get("namespace") or "default"
        conf = ResolvConf(list(cluster_dns),
                          _dedup(cluster_searches(namespace, cluster_domain) + list(host.searches)),
                          list(CLUSTER_OPTIONS))
    conf = _append_dns_config(conf, (pod.get("spec") or {}).get("dnsConfig"))
    conf.warnings = warnings
    _apply_limits(conf)
    return conf


def _append_dns_config(conf: ResolvConf, dns_config: Any) -> ResolvConf:
    if dns_config is None:
        return conf
    if not isinstance(dns_config, dict):
        raise DnsConfigError("spec.dnsConfig must be an object")
    nameservers = _str_list(dns_config.get("nameservers"), "spec.dnsConfig.nameservers")
    searches = _str_list(dns_config.get("searches"), "spec.dnsConfig.searches")
    options = []
    for i, option in enumerate(dns_config.get("options") or []):
        if not isinstance(option, dict) or not isinstance(option.get("name"), str) or not option["name"]:
            raise DnsConfigError(f"spec.dnsConfig.options[{i}] needs a name")
        value = option.get("value")
        options.append(option["name"] if value in (None, "") else f"{option['name']}:{value}")
    conf.nameservers = _dedup(conf.nameservers + nameservers)
    conf.searches = _dedup(conf.searches + [s.rstrip(".") for s in searches])
    conf.options = _merge_options(conf.options, options)
    return conf


def _merge_options(existing: list[str], new: list[str]) -> list[str]:
    """Options by name; a later one replaces an earlier one of the same name, keeping its place."""
    merged: dict[str, str] = {}
    for option in [*existing, *new]:
        name = option.split(":", 1)[0]
        merged[name] = option
    return list(merged.values())


def _apply_limits(conf: ResolvConf) -> None:
    if len(conf.nameservers) > MAX_NAMESERVERS:
        dropped = conf.nameservers[MAX_NAMESERVERS:]
        conf.nameservers = conf.nameservers[:MAX_NAMESERVERS]
        conf.warnings.append(f"nameserver limits exceeded: omitted {' '.join(dropped)}")
    searches: list[str] = []
    length = 0
    for domain in conf.searches:
        if len(searches) == MAX_SEARCH_DOMAINS or length + len(domain) + bool(searches) > MAX_SEARCH_CHARS:
            conf.warnings.append(f"search line limits exceeded: omitted {' '.join(conf.searches[len(searches):])}")
            break
        length += len(domain) + bool(searches)
        searches.append(domain)
    conf.searches = searches


def _dedup(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _str_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DnsConfigError(f"{path} must be a list of strings")
    return list(value)
