"""The plan: what must change so the directory holds exactly what the files declare.

``current`` is the managed part of the directory as a list of account dicts (the same
keys as ``Account.as_dict``); an empty list plans against an empty directory.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field

from ..model.addresses import Account

# Reset token of an entry whose new password was never delivered (directory.UNDELIVERED). Each issued
# password carries its own pending token, UNDELIVERED:<nonce>, so the delivery record can name it.
UNDELIVERED = "!undelivered"
# Prefix of the reset token of an entry whose initial password went to the support mailbox because
# its unit's mailbox could not be read yet; delivery.resend() issues it again to the unit's mailbox.
VIA_SUPPORT = "!via-support:"


def file_token(reset: str | None) -> str | None:
    """The file's token an entry carries, without the via-support mark."""
    if reset and reset.startswith(VIA_SUPPORT):
        return reset[len(VIA_SUPPORT) :] or None
    return reset


def pending_token() -> str:
    return f"{UNDELIVERED}:{secrets.token_hex(8)}"


def is_pending(token: str | None) -> bool:
    return bool(token) and (token == UNDELIVERED or token.startswith(UNDELIVERED + ":"))


# Operation names, in the order a reviewer reads them and an apply runs them. ``place`` gives a live
# entry without one its mail backend (directory/placement.py, several backends only).
OPERATIONS = ("create", "adopt", "place", "update", "move", "reset", "suspend", "restore", "revoke", "drift")
INFO_FIELDS = ("name", "title", "unit", "aliases", "quota")
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
        # Hand-written: dataclasses.asdict deep-copies every value (seconds on a province-sized plan).
        return {
            "op": self.op,
            "address": self.address,
            "kind": self.kind,
            "org": self.org,
            "unit": self.unit,
            "name": self.name,
            "status": self.status,
            "changes": {k: list(v) for k, v in self.changes.items()},
            "reason": self.reason,
        }


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


def _change(op: str, a: dict, **extra) -> Change:
    return Change(
        op, a["address"], a["kind"], a.get("org"), a.get("unit"), a["name"], a.get("status", "active"), **extra
    )


def _new(want: dict, unmanaged: dict[str, str]) -> list[Change]:
    """An account the directory does not manage yet: adopt what holds the address, else create."""
    if want["address"] in unmanaged:
        return [_change("adopt", want, changes={"dn": [unmanaged[want["address"]], None]})]
    if want["status"] == "revoked":
        return []
    # Every alias a new entry brings is shown to the reviewer, not only its address.
    return [_change("create", want, changes={"aliases": [[], sorted(want["aliases"])]} if want["aliases"] else {})]


def _existing(want: dict, cur: dict) -> list[Change]:
    """What turns the managed entry ``cur`` into ``want``."""
    if cur.get("status") == "revoked":
        if not cur.get("in_revoked_tree", True):  # revoked but never moved out: finish it
            return [_change("revoke", want, changes={"tree": ["accounts", "revoked"]}, reason=want.get("reason"))]
        return []  # archived for good; a revoked address is never brought back
    if not cur.get("in_live_tree", True):  # a takeover that stopped half-way: finish it
        return [_change("adopt", want, changes={"dn": [cur.get("dn"), None]})]
    out = []
    moved = cur.get("org") != want["org"]
    if moved:
        out.append(
            _change(
                "move", want, changes={"org": [cur.get("org"), want["org"]], "unit": [cur.get("unit"), want["unit"]]}
            )
        )
    fields = INFO_FIELDS if cur.get("status") != want["status"] else INFO_FIELDS + STATE_FIELDS
    diff = {k: [_norm(cur, k), _norm(want, k)] for k in fields if _norm(cur, k) != _norm(want, k)}
    if moved:
        diff.pop("unit", None)
    if diff:
        out.append(_change("update", want, changes=diff))
    token_changed = want.get("reset") and want.get("reset") != file_token(cur.get("reset"))
    if want["status"] == "active" and (is_pending(cur.get("reset")) or token_changed):
        out.append(_change("reset", want, changes={"reset": [cur.get("reset"), want.get("reset")]}))
    op = _state_op(cur.get("status", "active"), want["status"])
    if op:
        out.append(
            _change(op, want, changes={"status": [cur.get("status"), want["status"]]}, reason=want.get("reason"))
        )
    return out


def plan(desired: list[Account], current: list[dict], unmanaged: dict[str, str] | None = None) -> list[Change]:
    """Every change, in operation order then address order.

    ``unmanaged`` maps addresses already held by entries govmail does not manage (a directory
    being taken over) to their DN: such an account is adopted in place, keeping its password.
    """
    have = {a["address"]: a for a in current}
    changes: list[Change] = []
    for account in desired:
        want = account.as_dict()
        cur = have.get(want["address"])
        changes += _new(want, unmanaged or {}) if cur is None else _existing(want, cur)
    wanted = {a.address for a in desired}
    changes += [
        _change("drift", cur)
        for address, cur in have.items()
        if address not in wanted and cur.get("status") != "revoked"
    ]
    return sorted(changes, key=order_key)


def order_key(change: Change) -> tuple[int, str]:
    """Operation order, then address order."""
    return OPERATIONS.index(change.op), change.address


def summary(changes: list[Change]) -> dict:
    """Counts per operation and per unit (org), for the head of a plan."""
    return {
        "total": len(changes),
        "by_op": dict(Counter(c.op for c in changes)),
        "by_org": dict(sorted(Counter(c.org or "(province)" for c in changes).items())),
    }
