"""LDAP connection options shared by every govmail module and the CLI (community.general's _ldap.py pattern, on ldap3).

One argument spec, one ``connect()``: a module adds ``ldap_argument_spec()`` to its own spec
and calls ``connect(**ldap_params(module.params))``.
"""

from __future__ import annotations

import ssl

from ldap3 import EXTERNAL, NONE, SASL, SIMPLE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException


class LdapError(Exception):
    """The directory could not be reached or refused the bind; the message says which."""


def ldap_argument_spec() -> dict:
    """Options every module that talks to the directory accepts."""
    return {
        "server_uri": {"type": "str", "default": "ldapi:///"},
        "bind_dn": {"type": "str"},
        "bind_pw": {"type": "str", "default": "", "no_log": True},
        "start_tls": {"type": "bool", "default": False},
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "base_dn": {"type": "str", "required": True},
        "connect_timeout": {"type": "int", "default": 10},
    }


LDAP_OPTIONS = tuple(ldap_argument_spec())


def ldap_params(params: dict) -> dict:
    return {key: params.get(key) for key in LDAP_OPTIONS}


def connect(
    *,
    server_uri: str = "ldapi:///",
    bind_dn: str | None = None,
    bind_pw: str = "",
    start_tls: bool = False,
    validate_certs: bool = True,
    ca_path: str | None = None,
    base_dn: str | None = None,
    connect_timeout: int = 10,
) -> Connection:
    """A bound connection. Without ``bind_dn`` on ldapi:// the bind is SASL EXTERNAL (root on the host)."""
    del base_dn  # part of the shared options, used by callers, not by the connection
    tls = Tls(
        validate=ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE,
        ca_certs_file=ca_path,
        version=ssl.PROTOCOL_TLS_CLIENT,
    )
    server = Server(server_uri, tls=tls, get_info=NONE, connect_timeout=connect_timeout)
    if bind_dn:
        conn = Connection(server, user=bind_dn, password=bind_pw or "", authentication=SIMPLE, raise_exceptions=False)
    elif server_uri.startswith("ldapi:"):
        conn = Connection(server, authentication=SASL, sasl_mechanism=EXTERNAL, sasl_credentials="")
    else:
        conn = Connection(server)  # anonymous
    try:
        conn.open()
        if start_tls and not server_uri.startswith(("ldaps:", "ldapi:")):
            conn.start_tls()
        if not conn.bind():
            raise LdapError(f"bind to {server_uri} as {bind_dn or 'EXTERNAL/anonymous'} refused: {conn.result}")
    except LDAPException as exc:
        raise LdapError(f"cannot use the directory at {server_uri}: {exc}") from exc
    return conn
