"""Fixtures that run real programs: a throwaway slapd per test, an age key pair, a copy of the sample tree."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from slapd_server import ThrowawaySlapd

from helpers import REPO


@pytest.fixture
def slapd():
    with ThrowawaySlapd() as server:
        yield server


@pytest.fixture
def ldap(slapd):
    """Connection options of the provisioner identity, as the module and CLI take them."""
    dn, password = slapd.provisioner
    return {
        "server_uri": slapd.uri,
        "bind_dn": dn,
        "bind_pw": password,
        "start_tls": False,
        "validate_certs": True,
        "ca_path": None,
        "base_dn": slapd.suffix,
        "connect_timeout": 5,
    }


@pytest.fixture
def age_key(tmp_path):
    """(identity file, public key) of a fresh age key pair: the operator's, in tests."""
    identity = tmp_path / "operator.agekey"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = next(line.split(": ", 1)[1] for line in identity.read_text().splitlines() if "public key" in line)
    return identity, public.strip()


@pytest.fixture
def tree(tmp_path):
    """A private copy of the sample accounts/ tree (with its reference data)."""
    shutil.copytree(REPO / "accounts", tmp_path / "accounts")
    shutil.copytree(REPO / "data", tmp_path / "data")
    return tmp_path / "accounts"
