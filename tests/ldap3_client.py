"""A second LDAP client for the tests, independent of the engine's: ldap3 (pure Python, its own BER).

The engine talks to the directory with python-ldap (libldap) only. The tests set the directory up and
check what the engine wrote through this other library, so a mistake of one library (or of the
engine's use of it) cannot confirm itself. ldap3 is in pyproject.toml's dev extra only.
"""

from __future__ import annotations

import ssl

from ldap3 import EXTERNAL, NONE, SASL, SIMPLE, Connection, Server, Tls


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
    """An ldap3 connection with the engine's connection options (``ldap_argument_spec``): bound as
    ``bind_dn``, or SASL EXTERNAL on ldapi://, or anonymous. A refused bind leaves ``bound`` false."""
    del base_dn
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
    conn.open()
    if start_tls and not server_uri.startswith(("ldaps:", "ldapi:")):
        conn.start_tls()
    conn.bind()
    return conn
