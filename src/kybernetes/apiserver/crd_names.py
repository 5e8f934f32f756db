"""A CRD's status as the real server's naming and establishing controllers compute it.

Names a CRD asks for (spec.names) become its accepted names (status.acceptedNames) unless another
resource of the same group already uses them: a plural, singular or short name another resource
of the group claims, or a kind / list kind another one has. A name the CRD already holds stays
its own. Conflicts set ``NamesAccepted`` False with the reason naming what clashed
(PluralConflict, SingularConflict, ShortNamesConflict, KindConflict, ListKindConflict) and keep
the previously accepted value.

``Established`` turns True (reason InitialNamesAccepted) the first time all names are accepted,
and stays True afterwards: the resource is served from then on under the accepted names.
``status.storedVersions`` gains the storage version.

Everything here is a pure function of the CRD and the names other resources use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import meta

NAMES_ACCEPTED = "NamesAccepted"
ESTABLISHED = "Established"
TERMINATING = "Terminating"


@dataclass
class UsedNames:
    """Names claimed by the other resources of one group."""

    resources: set[str] = field(default_factory=set)  # plurals, singulars, short names
    kinds: set[str] = field(default_factory=set)  # kinds and list kinds

    def add_crd(self, crd: dict[str, Any]) -> None:
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        for key in ("plural", "singular"):
            if accepted.get(key):
                self.resources.add(accepted[key])
        self.resources.update(s for s in accepted.get("shortNames") or () if isinstance(s, str))
        for key in ("kind", "listKind"):
            if accepted.get(key):
                self.kinds.add(accepted[key])


def condition(crd: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (crd.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == kind:
            return c
    return None


def is_established(crd: dict[str, Any]) -> bool:
    c = condition(crd, ESTABLISHED)
    return c is not None and c.get("status") == "True"


def set_condition(status: dict[str, Any], kind: str, state: str, reason: str, message: str) -> None:
    """Set one condition in place; its lastTransitionTime changes only when its status does."""
    conditions = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    for c in conditions:
        if c.get("type") == kind:
            if c.get("status") != state:
                c["lastTransitionTime"] = meta.now_rfc3339()
            c.update({"status": state, "reason": reason, "message": message})
            break
    else:
        conditions.append({"type": kind, "status": state, "lastTransitionTime": meta.now_rfc3339(),
                           "reason": reason, "message": message})
    status["conditions"] = conditions


def _fresh(requested: Any, accepted: Any, used: set[str]) -> bool:
    return requested == accepted or requested not in used


def accepted_names(crd: dict[str, Any], used: UsedNames) -> tuple[dict[str, Any], str, str]:
    """(accepted names, conflict reason or "", conflict message)."""
    requested = (crd.get("spec") or {}).get("names") or {}
    accepted = dict((crd.get("status") or {}).get("acceptedNames") or {})
    out = dict(accepted)
    reason = message = ""

    def conflict(why: str, name: Any) -> None:
        nonlocal reason, message
        reason, message = why, f'"{name}" is already in use'

    for key, why in (("plural", "PluralConflict"), ("singular", "SingularConflict")):
        if _fresh(requested.get(key), accepted.get(key), used.resources):
            if requested.get(key) is not None:
                out[key] = requested[key]
        else:
            conflict(why, requested.get(key))
    wanted_short = [s for s in requested.get("shortNames") or () if isinstance(s, str)]
    if wanted_short != list(accepted.get("shortNames") or ()):
        held = set(accepted.get("shortNames") or ())
        clashing = [s for s in wanted_short if s not in held and s in used.resources]
        if clashing:
            conflict("ShortNamesConflict", clashing[0])
        elif wanted_short:
            out["shortNames"] = wanted_short
        else:
            out.pop("shortNames", None)
    for key, why in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        if _fresh(requested.get(key), accepted.get(key), used.kinds):
            if requested.get(key) is not None:
                out[key] = requested[key]
        else:
            conflict(why, requested.get(key))
    categories = [c for c in requested.get("categories") or () if isinstance(c, str)]
    if categories:
        out["categories"] = categories
    else:
        out.pop("categories", None)
    return out, reason, message


def desired_status(crd: dict[str, Any], used: UsedNames, storage_version: str) -> dict[str, Any]:
    """The status the CRD should have now (a new dict; the CRD is not changed)."""
    status = meta.deep_copy(crd.get("status") or {})
    names, reason, message = accepted_names(crd, used)
    status["acceptedNames"] = names
    if reason:
        set_condition(status, NAMES_ACCEPTED, "False", reason, message)
    else:
        set_condition(status, NAMES_ACCEPTED, "True", "NoConflicts", "no conflicts found")
    if not is_established({"status": status}):
        if reason:
            set_condition(status, ESTABLISHED, "False", "NotAccepted", "not all names are accepted")
        else:
            set_condition(status, ESTABLISHED, "True", "InitialNamesAccepted",
                          "the initial names have been accepted")
    stored = [v for v in status.get("storedVersions") or () if isinstance(v, str)]
    if storage_version and storage_version not in stored:
        stored.append(storage_version)
    status["storedVersions"] = stored
    return status
