"""Which directory provider to talk to: the first healthy one of a list (multi-provider replication).

``server_uri`` may name several providers, separated by spaces or commas, in order of preference
(the nearest first), e.g. ``"ldap://ldap1.example ldap://ldap2.example"``. Every provider takes
writes (docs/cluster.md), so a run uses the first one that answers an LDAP request within the
timeout and says which. A provider lost in the middle of a run fails that run; the convergence is
idempotent, so running it again continues on another provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .ldap_client import Directory, LdapError


def uris(server_uri: str | list[str]) -> list[str]:
    """The URIs of a preference list (a string separated by spaces/commas, or a list)."""
    items = server_uri if isinstance(server_uri, list) else re.split(r"[\s,]+", server_uri or "")
    found = [u for u in (item.strip() for item in items) if u]
    if not found:
        raise LdapError("no directory URI given")
    return found


def answers(uri: str, timeout: int, options: dict | None = None) -> None:
    """Raise unless the server at ``uri`` answers an anonymous read of its root DSE within ``timeout``.

    ``options`` (the connection's): an ldaps:// provider's certificate is checked as the run will."""
    tls = {k: v for k, v in (options or {}).items() if k in ("validate_certs", "ca_path") and v is not None}
    try:
        with Directory.open({"server_uri": uri, "connect_timeout": timeout, **tls}, bind=False, timeout=timeout) as d:
            if d.read("", ["namingContexts"]) is None:
                raise LdapError("no root DSE")
    except LdapError as exc:
        raise LdapError(f"{uri}: {exc}") from exc


def healthy(ldap: dict, probe: Callable[[str, int], None] | None = None) -> dict:
    """The connection options with ``server_uri`` set to the first provider that answers.

    One URI is returned as given, without a probe (the connection itself reports its errors)."""
    probe = probe or (lambda uri, timeout: answers(uri, timeout, ldap))
    candidates = uris(ldap["server_uri"])
    if len(candidates) == 1:
        return {**ldap, "server_uri": candidates[0]}
    timeout = min(int(ldap.get("connect_timeout") or 10), 5)
    refusals = []
    for uri in candidates:
        try:
            probe(uri, timeout)
        except (LdapError, OSError) as exc:
            refusals.append(str(exc))
            continue
        return {**ldap, "server_uri": uri}
    raise LdapError("no directory provider answers: " + "; ".join(refusals))
