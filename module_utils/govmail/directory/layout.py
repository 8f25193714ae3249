"""Accounts as directory entries (docs/directory.md): the DIT, the mapping, and one paged read.

Live entries are ``uid=<local part>,ou=accounts,<suffix>``; revoked ones are moved to
``ou=revoked``. Only entries with ``govmailManaged: TRUE`` are read as govmail's, and only they
are ever written.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.addresses import Account
from .ldap_client import Directory
from .plan import UNDELIVERED

OBJECT_CLASSES = ["top", "inetOrgPerson", "govmailAccount"]
# UNDELIVERED (from plan) is the reset token an entry carries while its new password has not
# reached the unit yet: a rerun after a crash sees it and issues, and delivers, a fresh password.
__all__ = ["UNDELIVERED", "Layout", "account_from_entry", "entry_attributes", "new_entry", "read_managed"]

ATTRIBUTES = [
    "uid",
    "mail",
    "cn",
    "title",
    "govmailState",
    "govmailUnit",
    "govmailOrg",
    "govmailKind",
    "govmailReason",
    "govmailStateSince",
    "govmailResetToken",
    "govmailAlias",
    "govmailQuota",
    "govmailMailHost",  # the mail backend holding the mailbox (several backends: directory/placement.py)
    "pwdReset",  # operational: an initial password nobody has changed yet (the mailbox is not readable)
]
MANAGED_FILTER = "(&(objectClass=govmailAccount)(govmailManaged=TRUE))"


@dataclass(frozen=True)
class Layout:
    suffix: str

    @property
    def accounts_dn(self) -> str:
        return f"ou=accounts,{self.suffix}"

    @property
    def revoked_dn(self) -> str:
        return f"ou=revoked,{self.suffix}"

    def dn(self, address: str, revoked: bool = False) -> str:
        # Local parts are [a-z0-9.] only (Article 5): nothing to escape in the RDN.
        return f"uid={address.split('@', 1)[0]},{self.revoked_dn if revoked else self.accounts_dn}"


def since_to_ldap(since: str | None) -> str | None:
    """``2026-11-28`` → GeneralizedTime ``20261128000000Z``."""
    return since.replace("-", "") + "000000Z" if since else None


def since_from_ldap(value) -> str | None:
    if not value:
        return None
    text = value if isinstance(value, str) else value.strftime("%Y%m%d%H%M%SZ")
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}"


def _surname(account: Account) -> str:
    return account.name.split()[0] if account.kind == "person" else account.name


def entry_attributes(account: Account) -> dict[str, list]:
    """Every attribute govmail owns on the entry; an empty list means the attribute is absent."""

    def opt(value) -> list:
        return [value] if value not in (None, "") else []

    return {
        "cn": [account.name],
        "sn": [_surname(account)],
        "displayName": [account.name],
        "title": opt(account.title),
        "govmailKind": [account.kind],
        "govmailOrg": opt(account.org),
        "govmailUnit": opt(account.unit),
        "govmailState": [account.status],
        "govmailReason": opt(account.reason),
        "govmailStateSince": opt(since_to_ldap(account.since)),
        "govmailAlias": sorted(account.aliases),
        "govmailQuota": opt(account.quota),
    }


def new_entry(account: Account) -> dict[str, list]:
    attrs = {k: v for k, v in entry_attributes(account).items() if v}
    attrs.update(uid=[account.address.split("@", 1)[0]], mail=[account.address], govmailManaged=["TRUE"])
    return attrs


def _first(values):
    if isinstance(values, list):
        return values[0] if values else None
    return values


def account_from_entry(dn: str, attrs: dict) -> dict:
    """The account dict (Account.as_dict's keys) an entry stands for, plus where it is."""
    return {
        "address": _first(attrs.get("mail")),
        "kind": _first(attrs.get("govmailKind")) or "person",
        "org": _first(attrs.get("govmailOrg")),
        "unit": _first(attrs.get("govmailUnit")),
        "name": _first(attrs.get("cn")) or "",
        "title": _first(attrs.get("title")),
        "status": _first(attrs.get("govmailState")) or "active",
        "reason": _first(attrs.get("govmailReason")),
        "since": since_from_ldap(_first(attrs.get("govmailStateSince"))),
        "reset": _first(attrs.get("govmailResetToken")),
        "aliases": sorted(attrs.get("govmailAlias") or []),
        "quota": _first(attrs.get("govmailQuota")),
        "mail_host": _first(attrs.get("govmailMailHost")),
        "pwd_reset": str(_first(attrs.get("pwdReset")) or "").upper() == "TRUE",
        "dn": dn,
        "in_revoked_tree": ",ou=revoked," in dn.lower(),
        "in_live_tree": ",ou=accounts," in dn.lower(),
    }


UNMANAGED_FILTER = "(&(mail=*)(!(govmailManaged=TRUE)))"


def read_unmanaged(source: Directory, layout: Layout, page_size: int = 1000) -> dict[str, str]:
    """Address → DN of every entry with a mail address that govmail does not manage (yet)."""
    out = {}
    for dn, attrs in source.search(layout.suffix, UNMANAGED_FILTER, ["mail"], page_size):
        for address in attrs.get("mail") or []:
            out[address.lower()] = dn
    return out


def read_managed(source: Directory, layout: Layout, page_size: int = 1000) -> list[dict]:
    """Every govmail-managed entry, live or revoked, in one paged search (ReadError if it stops short)."""
    return [
        account_from_entry(dn, attrs)
        for dn, attrs in source.search(layout.suffix, MANAGED_FILTER, ATTRIBUTES, page_size)
        if attrs.get("mail")
    ]


def split_entries(entries) -> tuple[list[dict], dict[str, str]]:
    """(dn, attributes) pairs of entries with a mail address → (managed accounts, unmanaged address → DN),
    as ``read_managed`` and ``read_unmanaged`` would read them."""
    current, unmanaged = [], {}
    for dn, attrs in entries:
        managed = (attrs.get("govmailManaged") or [None])[0] == "TRUE"
        if managed and "govmailaccount" in {c.lower() for c in attrs.get("objectClass") or []}:
            if attrs.get("mail"):
                current.append(account_from_entry(dn, attrs))
        elif not managed:
            for address in attrs.get("mail") or []:
                unmanaged[address.lower()] = dn
    return current, unmanaged
