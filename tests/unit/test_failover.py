"""Choosing the directory provider: the first of the list that answers; every refusal named otherwise."""

from __future__ import annotations

import socket

import pytest

from govmail.directory import failover
from govmail.directory.ldap_client import LdapError

OPTIONS = {"server_uri": "ldap://ldap1.example ldap://ldap2.example", "base_dn": "dc=example", "connect_timeout": 10}


def test_a_list_is_split_on_spaces_and_commas():
    assert failover.uris("ldap://a, ldap://b  ldaps://c") == ["ldap://a", "ldap://b", "ldaps://c"]
    assert failover.uris(["ldap://a", " ldap://b "]) == ["ldap://a", "ldap://b"]
    with pytest.raises(LdapError, match="no directory URI"):
        failover.uris(" ")


def test_the_first_provider_that_answers_is_used():
    asked = []

    def probe(uri, timeout):
        asked.append((uri, timeout))
        if "ldap1" in uri:
            raise LdapError(f"{uri}: connection refused")

    chosen = failover.healthy(OPTIONS, probe=probe)
    assert chosen["server_uri"] == "ldap://ldap2.example" and chosen["base_dn"] == "dc=example"
    assert asked == [("ldap://ldap1.example", 5), ("ldap://ldap2.example", 5)]


def test_the_preferred_provider_is_kept_when_it_answers():
    assert failover.healthy(OPTIONS, probe=lambda uri, timeout: None)["server_uri"] == "ldap://ldap1.example"


def test_no_provider_answering_names_each_refusal():
    def probe(uri, timeout):
        raise OSError(f"{uri}: timed out")

    with pytest.raises(
        LdapError, match=r"no directory provider answers: ldap://ldap1.example: timed out; ldap://ldap2"
    ):
        failover.healthy(OPTIONS, probe=probe)


def test_a_single_uri_is_not_probed():
    def probe(uri, timeout):
        raise AssertionError("probed")

    assert failover.healthy({**OPTIONS, "server_uri": "ldapi:///"}, probe=probe)["server_uri"] == "ldapi:///"


def test_the_real_probe_fails_over_from_a_closed_port():
    """A port with no listener is refused at once by the real probe (python-ldap), naming the URI."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(LdapError, match=f"ldap://127.0.0.1:{port}"):
        failover.answers(f"ldap://127.0.0.1:{port}", 2)
