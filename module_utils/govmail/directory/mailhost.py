"""Read and flip the mail backend of one mailbox (``govmailMailHost``): the directory side of a move
(playbooks/move.yml, docs/cluster.md "Move a mailbox").

The flip is written to the first healthy provider (directory/failover.py); then every provider of
the list is read until it shows the new value, so the front — whichever provider it reads — routes
the next message and the next login to the new backend before the move's final sync. A provider that
does not answer is named in the result (it catches up from its peers when it returns)."""

from __future__ import annotations

import time
from collections.abc import Callable

from . import failover
from .layout import Layout
from .ldap_client import REPLACE, Directory, LdapError


class MoveRefused(ValueError):
    """The move cannot start: unknown address, unknown backend; the message says which."""


def _read(ldap: dict, address: str) -> tuple[str, str | None]:
    layout = Layout(ldap["base_dn"])
    dn = layout.dn(address)
    directory = Directory.open(ldap)
    try:
        found = directory.read(dn, ["mail", "govmailMailHost", "govmailState"])
    finally:
        directory.close()
    if not found or address not in [m.lower() for m in found.get("mail", [])]:
        raise MoveRefused(f"{address}: no live account with this address in {layout.accounts_dn}")
    host = (found.get("govmailMailHost") or [None])[0]
    return dn, host.lower() if host else None


def where(ldap: dict, address: str) -> dict:
    """dn and backend of the mailbox, read from the first healthy provider."""
    ldap = failover.healthy(ldap)
    dn, host = _read(ldap, address.lower())
    return {"dn": dn, "mail_host": host, "directory": ldap["server_uri"]}


def point(
    ldap: dict,
    address: str,
    backend: str,
    backends: list[str],
    *,
    wait: float = 60.0,
    reader: Callable[[dict, str], tuple[str, str | None]] = _read,
) -> dict:
    """Set the mailbox's backend to ``backend`` (one of ``backends``), then wait (bounded) until every
    provider of the list shows it. Returns what it did; ``changed`` is False when it was there already."""
    address, backend = address.lower(), backend.lower()
    if backend not in [b.lower() for b in backends]:
        raise MoveRefused(f"{backend}: not one of the mail backends ({', '.join(backends) or 'none'})")
    healthy = failover.healthy(ldap)
    dn, before = reader(healthy, address)
    if before != backend:
        directory = Directory.open(healthy)
        try:
            directory.modify(dn, {"govmailMailHost": (REPLACE, [backend])})
        finally:
            directory.close()
    unreachable, deadline = [], time.monotonic() + wait
    for uri in failover.uris(ldap["server_uri"]):
        while True:
            try:
                if reader({**ldap, "server_uri": uri}, address)[1] == backend:
                    break
            except (LdapError, OSError) as exc:
                unreachable.append(f"{uri}: {exc}")
                break
            if time.monotonic() > deadline:
                raise LdapError(f"{uri} still does not show {address} on {backend} after {wait:.0f} s")
            time.sleep(0.5)
    return {
        "dn": dn,
        "before": before,
        "mail_host": backend,
        "changed": before != backend,
        "directory": healthy["server_uri"],
        "unreachable": unreachable,
    }
