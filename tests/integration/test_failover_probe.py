"""The failover probe (python-ldap, anonymous root DSE read) against a real slapd: a dead provider
is passed over for the next one that answers, and the run's options go with the chosen one."""

from __future__ import annotations

import socket

import pytest

from govmail.directory import failover
from govmail.directory.ldap_client import LdapError, connect

pytestmark = pytest.mark.integration


def _dead_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ldap://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once the block ends


def test_a_dead_provider_is_passed_over_for_one_that_answers(slapd, ldap):
    dead = _dead_uri()
    failover.answers(slapd.uri, 5)  # the live one answers the probe
    chosen = failover.healthy({**ldap, "server_uri": f"{dead} {slapd.uri}"})
    assert chosen == {**ldap, "server_uri": slapd.uri}
    with connect(**chosen) as directory:  # and the run binds there as the provisioner
        assert directory.who_am_i() == f"dn:{ldap['bind_dn']}"
    with pytest.raises(LdapError, match="no directory provider answers"):
        failover.healthy({**ldap, "server_uri": f"{dead}, {_dead_uri()}"})
