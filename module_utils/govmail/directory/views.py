"""Read-only views of the directory for the province's other systems (R9.2c).

A *view* names the entries a consuming system may see (an LDAP filter under ``ou=accounts``) and
the attributes it may read there. A *reader* is one service identity per consuming system,
``cn=<name>,ou=services,<suffix>``, given exactly one view. The slapd role turns views and readers
into access-control rules placed before its own (``view_acls``); the rules give each reader
``read`` on its view and let everyone else fall through (``by * break``), so a reader sees nothing
outside its view: no password hash, no reset token, no state, no policy attribute.
"""

from __future__ import annotations

import re

# Never readable through a view, whatever a view lists: hashes, reset tokens, policy state.
FORBIDDEN = frozenset(
    a.lower()
    for a in (
        "userPassword",
        "govmailResetToken",
        "pwdHistory",
        "pwdReset",
        "pwdAccountLockedTime",
        "pwdFailureTime",
        "pwdChangedTime",
        "pwdGraceUseTime",
        "pwdLastSuccess",
        "pwdPolicySubentry",
    )
)
# The account's state and why: readable only by a view that says it needs them (`states: true`).
STATE_ATTRIBUTES = frozenset(a.lower() for a in ("govmailState", "govmailReason", "govmailStateSince"))
NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")  # a reader: the cn of its identity
VIEW_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


class ViewError(ValueError):
    pass


def reader_dn(name: str, services_dn: str) -> str:
    return f"cn={name},{services_dn}"


def check(views: dict, readers: list[dict]) -> None:
    """Raise ViewError naming the view or reader that is wrong."""
    for view_name, view in views.items():
        if not VIEW_NAME.match(str(view_name)):
            raise ViewError(f"view {view_name!r}: the name must match {VIEW_NAME.pattern}")
        attrs = view.get("attrs") or []
        filt = str(view.get("filter") or "")
        if not attrs:
            raise ViewError(f"view {view_name!r}: attrs must list the attributes it shows")
        if not (filt.startswith("(") and filt.endswith(")") and filt.count("(") == filt.count(")")):
            raise ViewError(f"view {view_name!r}: filter must be one parenthesised LDAP filter, got {filt!r}")
        for attr in attrs:
            if not ATTRIBUTE.match(str(attr)):
                raise ViewError(f"view {view_name!r}: {attr!r} is not an attribute name")
            if attr.lower() in FORBIDDEN:
                raise ViewError(f"view {view_name!r}: {attr} is never readable through a view")
            if attr.lower() in STATE_ATTRIBUTES and not view.get("states"):
                raise ViewError(f"view {view_name!r}: {attr} is a state; set `states: true` if the system needs it")
    seen = set()
    for reader in readers:
        name, view = reader.get("name"), reader.get("view")
        if not NAME.match(str(name or "")):
            raise ViewError(f"reader {name!r}: the name must match {NAME.pattern}")
        if name in seen or name in ("provisioner", "mailserver"):
            raise ViewError(f"reader {name!r}: declared twice or the name of a built-in identity")
        seen.add(name)
        if view not in views:
            raise ViewError(f"reader {name!r}: unknown view {view!r} (known: {', '.join(sorted(views))})")


def view_acls(views: dict, readers: list[dict], accounts_dn: str, services_dn: str) -> list[str]:
    """The olcAccess rules (without their {n} numbers) that give each reader its view, to be put
    BEFORE the directory's other rules."""
    check(views, readers)
    if not readers:
        return []
    everyone = " ".join(f'by dn.exact="{reader_dn(r["name"], services_dn)}" read' for r in readers)
    # The subtree's own entry: readers may use it as their search base.
    rules = [f'to dn.base="{accounts_dn}" attrs=entry,objectClass,ou {everyone} by * break']
    for view_name, view in views.items():
        who = [r for r in readers if r["view"] == view_name]
        if not who:
            continue
        attrs = ",".join(["entry", *(a for a in view["attrs"] if a.lower() != "entry")])
        by = " ".join(f'by dn.exact="{reader_dn(r["name"], services_dn)}" read' for r in who)
        rules.append(f'to dn.subtree="{accounts_dn}" filter={view["filter"]} attrs={attrs} {by} by * break')
    return rules
