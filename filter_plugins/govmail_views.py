"""The directory views of the read-only service identities (R9.2c) as olcAccess rules: a thin
wrapper over govmail.directory.views for the slapd role."""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from govmail.directory import views
except ImportError:  # not installed into this Python: use the checkout's copy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "module_utils"))
    from govmail.directory import views


def govmail_view_acls(view_defs: dict, readers: list, accounts_dn: str, services_dn: str) -> list[str]:
    """``slapd__views | govmail_view_acls(slapd__readers, accounts_dn, services_dn)``."""
    try:
        return views.view_acls(dict(view_defs), [dict(r) for r in readers], str(accounts_dn), str(services_dn))
    except views.ViewError as exc:
        raise AnsibleFilterError(f"slapd__views / slapd__readers: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"govmail_view_acls": govmail_view_acls}
