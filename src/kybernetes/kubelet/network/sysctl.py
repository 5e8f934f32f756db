"""The host settings pod networking needs, set idempotently and recorded so they can be undone.

    net.ipv4.ip_forward = 1                     pods reach beyond the node (the bridge plugin with
                                                isGateway would turn it on anyway, unrecorded)
    net.bridge.bridge-nf-call-iptables = 1      bridged pod-to-pod traffic passes iptables, so
                                                Service DNAT works between pods on one bridge

Each value we change is written, with the value we found, to a small JSON file in the kubelet's
data directory *before* the change; ``restore`` puts the found values back and forgets them. A
value already right is left alone and not recorded, so a restore never turns off what someone
else turned on. The bridge-nf keys exist only while br_netfilter is loaded; a missing key is
reported, not fatal.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from kybernetes.util.files import PUBLIC, write_atomic

log = logging.getLogger(__name__)

REQUIRED_SYSCTLS: dict[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
}


class SysctlError(Exception):
    """A host setting could not be read or written."""


class HostSysctls:
    def __init__(self, record_path: str | os.PathLike[str], proc_sys: str = "/proc/sys",
                 wanted: dict[str, str] | None = None):
        self.record_path = Path(record_path)
        self.proc_sys = Path(proc_sys)
        self.wanted = dict(REQUIRED_SYSCTLS if wanted is None else wanted)

    def _path(self, key: str) -> Path:
        return self.proc_sys / key.replace(".", "/")

    def read(self, key: str) -> str | None:
        try:
            return self._path(key).read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise SysctlError(f"cannot read {key}: {e}") from None

    def recorded(self) -> dict[str, str]:
        """The values found before we changed them (key → original value)."""
        try:
            data = json.loads(self.record_path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def ensure(self) -> dict[str, str]:
        """Set every wanted value; return what was changed now (key → the value found)."""
        changed: dict[str, str] = {}
        record = self.recorded()
        for key, value in self.wanted.items():
            current = self.read(key)
            if current is None:
                log.warning("sysctl %s does not exist on this host (is br_netfilter loaded?)", key)
                continue
            if current == value:
                continue
            if key not in record:  # keep the first value we found, not one we set ourselves
                record[key] = current
                self._save(record)
            self._write(key, value)
            changed[key] = current
        return changed

    def restore(self) -> dict[str, str]:
        """Put back every recorded value; return what was restored (key → the value put back)."""
        record = self.recorded()
        for key, original in record.items():
            if self.read(key) is not None:
                self._write(key, original)
        try:
            os.unlink(self.record_path)
        except FileNotFoundError:
            pass
        return record

    def _write(self, key: str, value: str) -> None:
        try:
            self._path(key).write_text(value + "\n")
        except OSError as e:
            raise SysctlError(f"cannot set {key}={value}: {e}") from None

    def _save(self, record: dict[str, str]) -> None:
        self.record_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(self.record_path, json.dumps(record, indent=1).encode(), PUBLIC)
