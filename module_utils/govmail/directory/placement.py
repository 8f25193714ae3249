"""Which mail backend holds each mailbox (issue 14 §3, docs/cluster.md "Several mail backends").

With several backends, every live entry carries ``govmailMailHost``: the host name of the backend
storing its mailbox. The front's Postfix routes delivery by it (LMTP to that host) and its Dovecot
proxy sends logins there. The convergence only ever *assigns* it — to a new entry, or to a live
entry that has none yet (a directory from before the cluster); it never changes an assigned one.
Moving a mailbox is ``playbooks/move.yml``, which copies the mail first.

The rule — least loaded, ties by the inventory's order: each mailbox without a backend, in address
order, goes to the backend of ``backends`` holding the fewest live mailboxes (active and suspended
entries, counted from the directory as read, plus those assigned earlier in the same run). Equal
counts go to the backend listed first. So a run is deterministic (the same directory and files
give the same assignment), backends stay within one mailbox of each other when they start level,
and a backend added to the list receives the new mailboxes until it has caught up with the others.
Entries whose host is not in the list (a backend being retired) are counted nowhere and left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from .plan import Change, order_key

# The op of a live entry that has no backend yet and receives one.
PLACE = "place"
LIVE = ("active", "suspended")


class BadBackends(ValueError):
    """The backend list itself is wrong (empty name, duplicate)."""


def check_backends(backends: Iterable[str]) -> list[str]:
    """The list as given, refusing an empty or repeated name (its order is the tie-break)."""
    out: list[str] = []
    for name in backends:
        host = str(name).strip().lower()
        if not host or any(c.isspace() for c in host):
            raise BadBackends(f"mail_backends: {name!r} is not a host name")
        if host in out:
            raise BadBackends(f"mail_backends: {host} is listed twice")
        out.append(host)
    return out


def load(current: Iterable[dict], backends: list[str]) -> dict[str, int]:
    """Live mailboxes per backend of the list, as the directory holds them."""
    counts = dict.fromkeys(backends, 0)
    for entry in current:
        host = (entry.get("mail_host") or "").lower()
        if host in counts and entry.get("status", "active") in LIVE and entry.get("in_live_tree", True):
            counts[host] += 1
    return counts


def choose(counts: dict[str, int]) -> str:
    """The least-loaded backend; the first listed among equals (dicts keep the list's order)."""
    return min(counts, key=lambda host: counts[host])


def assign(changes: list[Change], current: list[dict], backends: list[str]) -> tuple[list[Change], dict[str, str]]:
    """The changes with every new mailbox given a backend, plus a ``place`` change for each live
    entry that has none; and address → backend of every assignment made.

    Nothing happens without backends (one mail host: no routing attribute is used)."""
    if not backends:
        return changes, {}
    counts = load(current, backends)
    hosts: dict[str, str] = {}
    have = {entry["address"]: entry for entry in current}
    creating = sorted((c for c in changes if c.op in ("create", "adopt")), key=lambda c: c.address)
    for change in creating:
        if change.status not in LIVE:
            continue
        host = choose(counts)
        counts[host] += 1
        hosts[change.address] = host
        change.changes["mail_host"] = [None, host]
    leaving = {c.address for c in changes if c.op in ("revoke", "drift")}
    placed: list[Change] = []
    for address in sorted(have.keys() - leaving):
        entry = have[address]
        if entry.get("mail_host") or entry.get("status", "active") not in LIVE or not entry.get("in_live_tree", True):
            continue
        if address in hosts:
            continue
        host = choose(counts)
        counts[host] += 1
        hosts[address] = host
        placed.append(
            Change(
                PLACE, address, entry.get("kind") or "person", entry.get("org"), entry.get("unit"),
                entry.get("name") or "", entry.get("status") or "active", changes={"mail_host": [None, host]},
            )
        )  # fmt: skip
    return sorted(changes + placed, key=order_key), hosts
