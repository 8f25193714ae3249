"""Helpers for the lifecycle, lock and reminder tests: a Git repo of the sample tree converged into a
throwaway slapd, and ways to age the directory's clocks."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from pathlib import Path

from ldap3 import EXTERNAL, MODIFY_REPLACE, SASL, Connection, Server

from gitrepo import Repo
from helpers import REPO

RELAX = [("1.3.6.1.4.1.4203.666.5.12", True, None)]  # the Relax Rules control: set operational attributes


def sample_repo(path: Path) -> Repo:
    repo = Repo(path)
    shutil.copytree(REPO / "accounts", path / "accounts")
    shutil.copytree(REPO / "data", path / "data")
    repo.commit("the sample tree")
    return repo


def root(slapd) -> Connection:
    return Connection(
        Server(slapd.ldapi), authentication=SASL, sasl_mechanism=EXTERNAL, sasl_credentials="", auto_bind=True
    )


def dn(slapd, address: str) -> str:
    return f"uid={address.split('@', maxsplit=1)[0]},ou=accounts,{slapd.suffix}"


def backdate(slapd, address: str, day: dt.date) -> None:
    """Pretend the entry was created, and its password last set, on ``day`` (nobody logged in since)."""
    stamp = day.strftime("%Y%m%d") + "090000Z"
    with root(slapd) as conn:
        for attr in ("createTimestamp", "pwdChangedTime"):
            ok = conn.modify(dn(slapd, address), {attr: [(MODIFY_REPLACE, [stamp])]}, controls=RELAX)
            assert ok, conn.result


def set_password(slapd, address: str, password: str | None = None) -> str:
    """Give the account a known password (as root: no reset pending); returns it."""
    password = password or "Tt9#" + secrets.token_urlsafe(12)
    with root(slapd) as conn:
        assert conn.modify(dn(slapd, address), {"userPassword": [(MODIFY_REPLACE, [password])]}), conn.result
        conn.modify(dn(slapd, address), {"pwdReset": [(MODIFY_REPLACE, [])]})
    return password


def user_bind(slapd, address: str, password: str) -> Connection:
    conn = Connection(Server(slapd.uri), user=dn(slapd, address), password=password, raise_exceptions=False)
    conn.open()
    conn.bind()
    return conn


def login(slapd, address: str) -> None:
    """A successful bind as the user now, as Dovecot's auth_bind does on an IMAP login."""
    conn = user_bind(slapd, address, set_password(slapd, address))
    assert conn.bound, conn.result
    conn.unbind()


def attrs(slapd, address: str, *names: str, revoked: bool = False) -> dict:
    base = dn(slapd, address).replace(",ou=accounts,", ",ou=revoked,") if revoked else dn(slapd, address)
    with root(slapd) as conn:
        assert conn.search(base, "(objectClass=*)", attributes=list(names)), conn.result
        return dict(conn.entries[0].entry_attributes_as_dict)
