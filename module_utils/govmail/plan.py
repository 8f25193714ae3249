"""The plan: what must change so the directory holds exactly what the files declare.

``current`` is the managed part of the directory as a list of account dicts (the same
keys as ``Account.as_dict``); an empty list plans against an empty directory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from .addresses import Account

# Reset token of an entry whose new password was never delivered (directory.UNDELIVERED).
UNDELIVERED = "!undelivered"

# Operation names, in the order a reviewer reads them and an apply runs them.
OPERATIONS = ("create", "update", "move", "reset", "suspend", "restore", "revoke", "drift")
INFO_FIELDS = ("name", "title", "unit", "aliases")
STATE_FIELDS = ("reason", "since")  # compared when the status itself does not change


@dataclass
class Change:
    op: str
    address: str
    kind: str
    org: str | None
    unit: str | None
    name: str
    status: str
    changes: dict[str, list] = field(default_factory=dict)  # field → [before, after]
    reason: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _norm(account: dict, key: str):
    value = account.get(key)
    if key == "aliases":
        return sorted(value or [])
    return value


def _state_op(before: str, after: str) -> str | None:
    if before == after:
        return None
    if after == "revoked":
        return "revoke"
    if after == "suspended":
        return "suspend"
    return "restore"


def plan(desired: list[Account], current: list[dict]) -> list[Change]:
    """Every change, in operation order then address order."""
    have = {a["address"]: a for a in current}
    changes: list[Change] = []

    def add(op: str, a: dict, **extra) -> None:
        changes.append(
            Change(
                op, a["address"], a["kind"], a.get("org"), a.get("unit"), a["name"], a.get("status", "active"), **extra
            )
        )

    wanted = set()
    for account in desired:
        want = account.as_dict()
        wanted.add(want["address"])
        cur = have.get(want["address"])
        if cur is None:
            if want["status"] != "revoked":
                add("create", want)
            continue
        if cur.get("status") == "revoked":
            if not cur.get("in_revoked_tree", True):
                add("revoke", want, changes={"tree": ["accounts", "revoked"]}, reason=want.get("reason"))
            continue  # archived for good; a revoked address is never brought back
        moved = cur.get("org") != want["org"]
        if moved:
            add("move", want, changes={"org": [cur.get("org"), want["org"]], "unit": [cur.get("unit"), want["unit"]]})
        fields = INFO_FIELDS if cur.get("status") != want["status"] else INFO_FIELDS + STATE_FIELDS
        diff = {k: [_norm(cur, k), _norm(want, k)] for k in fields if _norm(cur, k) != _norm(want, k)}
        if moved:
            diff.pop("unit", None)
        if diff:
            add("update", want, changes=diff)
        if want["status"] == "active" and (
            cur.get("reset") == UNDELIVERED or (want.get("reset") and want.get("reset") != cur.get("reset"))
        ):
            add("reset", want, changes={"reset": [cur.get("reset"), want.get("reset")]})
        op = _state_op(cur.get("status", "active"), want["status"])
        if op:
            add(op, want, changes={"status": [cur.get("status"), want["status"]]}, reason=want.get("reason"))
    for address, cur in have.items():
        if address not in wanted and cur.get("status") != "revoked":
            add("drift", cur)
    order = {op: i for i, op in enumerate(OPERATIONS)}
    return sorted(changes, key=lambda c: (order[c.op], c.address))


def summary(changes: list[Change]) -> dict:
    """Counts per operation and per unit (org), for the head of a plan."""
    return {
        "total": len(changes),
        "by_op": dict(Counter(c.op for c in changes)),
        "by_org": dict(sorted(Counter(c.org or "(province)" for c in changes).items())),
    }
