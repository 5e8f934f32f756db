"""A snapshot of what a cluster may have put on this host, for before/after comparisons.

    before = snapshot([data_dir])
    ... kyb up, pods, kyb uninstall --purge ...
    assert snapshot([data_dir]).added_since(before) == {}

Why a snapshot and not a checklist: "leave the host as you found it" can only be checked by
looking at the host, not at what the code believes it created. Each category is a set of strings
naming one thing (a mount point, an interface, an iptables chain, ...); ``added_since`` is the set
difference per category, so things that were already there (another cluster, Docker's veths, a
kube-proxy's KUBE-* chains) never count against us.

    processes   "pid cmdline" of every process whose command line names one of our dirs
    mounts      mount points under our dirs (data dir, the node's /run directory)
    netns       namespace files under the node's run dir, and /run/netns entries named kyb*
    interfaces  links named kyb*, veth*, cni* (with "@master" when enslaved to a bridge)
    iptables    chains (and rules jumping to them) named KUBE-*, CNI-*, KYB-*, per table and family;
                nftables tables named kybernetes*
    cgroups     cgroup directories named kybernetes* at the top of every hierarchy, with children
    files       paths under our dirs (capped: a data dir full of image layers is not interesting)

Reading it needs no privileges except iptables (skipped, and listed in ``unavailable``, when
iptables-save cannot run). Nothing here changes the host.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHAIN_PREFIXES = ("KUBE-", "CNI-", "KYB-")
INTERFACE_PREFIXES = ("kyb", "veth", "cni")
CGROUP_PREFIX = "kybernetes"
DEFAULT_DATA_DIR = Path("/var/lib/kybernetes")
DEFAULT_RUN_DIR = Path("/run/kybernetes")
MAX_FILES = 2000
CATEGORIES = ("processes", "mounts", "netns", "interfaces", "iptables", "cgroups", "files")


@dataclass(frozen=True)
class HostState:
    processes: frozenset[str] = frozenset()
    mounts: frozenset[str] = frozenset()
    netns: frozenset[str] = frozenset()
    interfaces: frozenset[str] = frozenset()
    iptables: frozenset[str] = frozenset()
    cgroups: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()
    unavailable: tuple[str, ...] = field(default=(), compare=False)

    def added_since(self, before: HostState) -> dict[str, list[str]]:
        """What is here now and was not in ``before``: {category: sorted items}, empty ones left out."""
        added = {}
        for name in CATEGORIES:
            new = getattr(self, name) - getattr(before, name)
            if name == "processes":
                new = {p for p in new if _alive(p)}
            if new:
                added[name] = sorted(new)
        return added

    def as_dict(self) -> dict[str, list[str]]:
        return {name: sorted(getattr(self, name)) for name in CATEGORIES}


def run_dir_for(data_dir: Path) -> Path:
    """The node's directory under /run for ``data_dir`` (kubelet.real_machine.HostNames' rule,
    repeated here because util imports nothing of the components)."""
    path = Path(data_dir).absolute()
    if path == DEFAULT_DATA_DIR:
        return DEFAULT_RUN_DIR
    return Path(f"{DEFAULT_RUN_DIR}-{hashlib.sha256(str(path).encode()).hexdigest()[:6]}")


def snapshot(data_dirs: Iterable[Path | str] = (), categories: Iterable[str] = CATEGORIES) -> HostState:
    """The host's state now, as far as the clusters on ``data_dirs`` are concerned (only
    ``categories``: the others stay empty; iptables-save is the slow one)."""
    wanted = set(categories)
    dirs: list[Path] = []
    for d in data_dirs:
        d = Path(d).absolute()
        dirs += [d, run_dir_for(d)]
    unavailable: list[str] = []
    readers = {"processes": lambda: _processes(dirs), "mounts": lambda: _mounts(dirs),
               "netns": lambda: _netns(dirs), "interfaces": _interfaces,
               "iptables": lambda: _iptables(unavailable), "cgroups": _cgroups, "files": lambda: _files(dirs)}
    found = {name: frozenset(read()) for name, read in readers.items() if name in wanted}
    return HostState(**found, unavailable=tuple(unavailable))


def _under(path: str, dirs: list[Path]) -> bool:
    return any(path == str(d) or path.startswith(str(d) + "/") for d in dirs)


def _alive(process: str) -> bool:
    pid = process.split(" ", 1)[0]
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _is_zombie(pid: str) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) == "Z"
    except (OSError, IndexError):
        return True


def _ancestors() -> set[int]:
    """This process and its parents: a shell running ``kyb uninstall --data-dir D`` names D too."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _names_dir(arg: str, d: Path) -> bool:
    """``arg`` mentions ``d`` itself or something under it (not a sibling such as d + "x")."""
    text, start = str(d), 0
    while (i := arg.find(text, start)) >= 0:
        end = i + len(text)
        if end == len(arg) or not (arg[end].isalnum() or arg[end] in "-_."):
            return True
        start = i + 1
    return False


def _processes(dirs: list[Path]) -> Iterable[str]:
    if not dirs:
        return
    mine = _ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in argv if a]
        if any(_names_dir(a, d) for a in text for d in dirs) and not _is_zombie(entry.name):
            yield f"{entry.name} {' '.join(text)[:200]}"


def _mount_points() -> list[str]:
    try:
        with open("/proc/self/mountinfo") as f:
            return [line.split()[4].encode().decode("unicode_escape") for line in f]
    except OSError:
        return []


def _mounts(dirs: list[Path]) -> Iterable[str]:
    return (m for m in _mount_points() if _under(m, dirs))


def _netns(dirs: list[Path]) -> Iterable[str]:
    for d in dirs:
        ns = d / "ns"
        if ns.is_dir():
            for kind in ns.iterdir():
                if kind.is_dir():
                    yield from (str(p) for p in kind.iterdir())
    named = Path("/run/netns")
    if named.is_dir():
        yield from (str(p) for p in named.iterdir() if p.name.startswith("kyb"))


def _interfaces() -> Iterable[str]:
    net = Path("/sys/class/net")
    if not net.is_dir():
        return
    for link in net.iterdir():
        if not link.name.startswith(INTERFACE_PREFIXES):
            continue
        master = link / "master"
        yield f"{link.name}@{os.path.basename(os.readlink(master))}" if master.is_symlink() else link.name


def _iptables(unavailable: list[str]) -> Iterable[str]:
    found = []
    for tool in ("iptables-save", "ip6tables-save"):
        path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path is None:
            unavailable.append(f"{tool}: not installed")
            continue
        try:
            out = subprocess.run([path], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            unavailable.append(f"{tool}: {e}")
            continue
        if out.returncode != 0:
            unavailable.append(f"{tool}: {out.stderr.strip() or f'exit {out.returncode}'}")
            continue
        found += _ours_in_dump(tool.split("-")[0], out.stdout)
    return found + _nft_tables(unavailable)


def _nft_tables(unavailable: list[str]) -> list[str]:
    """Our nftables tables (the Service proxy's nftables mode: ``ip kybernetes-proxy``)."""
    path = shutil.which("nft", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        return []  # no nft: nothing of ours can be in nftables' own tables
    try:
        out = subprocess.run([path, "list", "tables"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        unavailable.append(f"nft: {e}")
        return []
    if out.returncode != 0:
        unavailable.append(f"nft: {out.stderr.strip() or f'exit {out.returncode}'}")
        return []
    return [f"nft {line.strip()}" for line in out.stdout.splitlines()
            if line.startswith("table ") and line.split()[-1].startswith("kybernetes")]


def _ours_in_dump(family: str, dump: str) -> list[str]:
    """Our chains (``:NAME``) and the rules of or into them (``-A ...``), per table."""
    found, table = [], ""
    for line in dump.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            if chain.startswith(CHAIN_PREFIXES):
                found.append(f"{family} {table} chain {chain}")
        elif line.startswith("-A ") and any(f" {p}" in line or line.startswith(f"-A {p}")
                                            for p in CHAIN_PREFIXES):
            found.append(f"{family} {table} {line}")
    return found


def _cgroups() -> Iterable[str]:
    roots = [Path(p) for p in {line.split()[4] for line in _cgroup_mounts()}]
    for root in roots:
        try:
            tops = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CGROUP_PREFIX)]
        except OSError:
            continue
        for top in tops:
            yield str(top)
            for dirpath, dirnames, _ in os.walk(top):
                yield from (os.path.join(dirpath, d) for d in dirnames)


def _cgroup_mounts() -> list[str]:
    try:
        with open("/proc/self/mountinfo") as f:
            return [line for line in f if line.partition(" - ")[2].split()[:1] in (["cgroup"], ["cgroup2"])]
    except OSError:
        return []


def _files(dirs: list[Path]) -> Iterable[str]:
    count = 0
    for d in dirs:
        if not d.exists():
            continue
        yield str(d)
        for dirpath, dirnames, filenames in os.walk(d):
            for name in dirnames + filenames:
                count += 1
                if count > MAX_FILES:
                    yield f"{d}/... (more than {MAX_FILES} entries)"
                    return
                yield os.path.join(dirpath, name)
