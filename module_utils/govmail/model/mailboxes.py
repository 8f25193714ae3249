"""Which mailbox receives a unit's official mail, and the province's support mailbox."""

from __future__ import annotations

from .orgs import COMMUNE_KINDS, Tree


def unit_mailboxes(tree: Tree) -> dict[str, str]:
    """org id → the address its official mail is sent to: the org's own, or a commune's UBND (else first body)."""
    out = {}
    domain, code = tree.province.domain, tree.province.province_code
    for org in tree.orgs:
        if not org.mailbox or org.status != "active":
            continue
        if org.kind == "province_body":
            out[org.id] = f"{org.id}@{domain}"
        elif org.kind == "other_body":
            out[org.id] = f"{org.id}.{code}@{domain}"
        elif org.kind in COMMUNE_KINDS and org.bodies:
            body = "ubnd" if "ubnd" in org.bodies else org.bodies[0]
            out[org.id] = f"{body}{org.id}@{domain}"
    return out


def support_mailbox(tree: Tree) -> str:
    accounts = tree.province.system_accounts
    return accounts[0]["address"] if accounts else f"postmaster@{tree.province.domain}"
