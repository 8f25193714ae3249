"""The documents the web server publishes for mail clients and servers (issue 12 §2): thin wrappers over
govmail.mailhost.dns, so they are byte for byte what ``govmail dns`` derives its records from."""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from govmail.mailhost import dns
except ImportError:  # not installed into this Python: use the checkout's copy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "module_utils"))
    from govmail.mailhost import dns


def govmail_mta_sts_policy(mx_host: str, mode: str = "enforce", max_age: int = 604800) -> str:
    """``webfront__mx_host | govmail_mta_sts_policy('enforce')``: the text of /.well-known/mta-sts.txt."""
    if mode not in ("enforce", "testing", "none"):
        raise AnsibleFilterError(f"govmail_mta_sts_policy: mode must be enforce, testing or none, not {mode!r}")
    return dns.mta_sts_policy(str(mx_host).lower().rstrip("."), str(mode), int(max_age))


def govmail_autoconfig(domain: str, mx_host: str | None = None, display_name: str | None = None) -> str:
    """``webfront__domain | govmail_autoconfig(webfront__mx_host)``: Thunderbird's config-v1.1.xml."""
    try:
        return dns.autoconfig_xml(str(domain), str(mx_host) if mx_host else None, display_name)
    except dns.DnsError as exc:
        raise AnsibleFilterError(f"govmail_autoconfig: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"govmail_mta_sts_policy": govmail_mta_sts_policy, "govmail_autoconfig": govmail_autoconfig}
