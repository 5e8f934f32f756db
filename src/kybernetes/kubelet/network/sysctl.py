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

Two clusters on one host (two data dirs) need the same values, but only the first one to start
found them off and recorded that. So each pod network also leaves a claim, host-wide, under
``CLAIMS_DIR`` (beside a fake /proc/sys in tests): its record file and the values it needs.
A restore leaves a value alone while another live claim (its record's directory still exists)
needs it, and hands the value it found to that claimant's record instead: the last cluster to
go puts back what the host had before the first came.
"""

from __future__ import annotations

import hashlib
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


CLAIMS_DIR = Path("/run/kybernetes-sysctl-claims")


class SysctlError(Exception):
    """A host setting could not be read or written."""


class HostSysctls:
    def __init__(self, record_path: str | os.PathLike[str], proc_sys: str = "/proc/sys",
                 wanted: dict[str, str] | None = None, claims_dir: str | os.PathLike[str] | None = None):
        self.record_path = Path(record_path).absolute()
        self.proc_sys = Path(proc_sys)
        self.wanted = dict(REQUIRED_SYSCTLS if wanted is None else wanted)
        if claims_dir is None:
            claims_dir = CLAIMS_DIR if self.proc_sys == Path("/proc/sys") else self.proc_sys.parent / "sysctl-claims"
        self.claims_dir = Path(claims_dir)
        self.claim_path = self.claims_dir / (hashlib.sha256(str(self.record_path).encode()).hexdigest()[:16] + ".json")

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
        return _read_record(self.record_path)

    def ensure(self) -> dict[str, str]:
        """Set every wanted value; return what was changed now (key → the value found)."""
        changed: dict[str, str] = {}
        self._claim()
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
        """Put back every recorded value no other cluster's claim still needs (those are handed
        to that cluster's record); return what was put back (key → value)."""
        record = self.recorded()
        others = self._other_claims()
        restored = {}
        for key, original in record.items():
            heir = next((path for path, keys in others if key in keys), None)
            if heir is not None:
                self._bequeath(heir, key, original)
                log.info("sysctl %s left on: %s still needs it", key, heir.parent)
            elif self.read(key) is not None:
                self._write(key, original)
                restored[key] = original
        try:
            os.unlink(self.record_path)
        except FileNotFoundError:
            pass
        self._unclaim()
        return restored

    # -- claims of other clusters on this host ---------------------------------------------------

    def _claim(self) -> None:
        data = {"record": str(self.record_path), "keys": sorted(self.wanted)}
        try:
            self.claims_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
            write_atomic(self.claim_path, json.dumps(data).encode(), PUBLIC)
        except OSError as e:
            log.warning("cannot record this network's sysctl claim in %s: %s", self.claims_dir, e)

    def _unclaim(self) -> None:
        for remove, path in ((os.unlink, self.claim_path), (os.rmdir, self.claims_dir)):
            try:
                remove(path)  # the directory goes with the host's last claim
            except OSError:
                pass

    def _other_claims(self) -> list[tuple[Path, set[str]]]:
        """(record path, keys) of every other live claim; claims whose cluster's directory is gone
        (removed without an uninstall) are dropped."""
        claims = []
        for path in sorted(self.claims_dir.glob("*.json")) if self.claims_dir.is_dir() else ():
            try:
                data = json.loads(path.read_bytes())
                record, keys = Path(data["record"]), {str(k) for k in data["keys"]}
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if record == self.record_path:
                continue
            if not record.parent.is_dir():
                path.unlink(missing_ok=True)
                continue
            claims.append((record, keys))
        return claims

    @staticmethod
    def _bequeath(heir_record: Path, key: str, original: str) -> None:
        inherited = _read_record(heir_record)
        if key not in inherited:  # the heir found the value we had set: ours is the host's own
            inherited[key] = original
            _save_record(heir_record, inherited)

    def _write(self, key: str, value: str) -> None:
        try:
            self._path(key).write_text(value + "\n")
        except OSError as e:
            raise SysctlError(f"cannot set {key}={value}: {e}") from None

    def _save(self, record: dict[str, str]) -> None:
        _save_record(self.record_path, record)


def _read_record(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_record(path: Path, record: dict[str, str]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record, indent=1).encode(), PUBLIC)
