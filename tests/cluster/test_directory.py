"""Replicated directory (issue 14 §2, §4): two providers in multi-provider replication.

Stop one provider: logins, delivery and an account apply keep working on the other; when it
returns it catches up, and both agree (contextCSN values and entry counts equal)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess

import ldap3
import pytest

from .conftest import (
    ACCOUNTS,
    BACKENDS,
    DOMAIN,
    MX,
    PROVIDERS,
    ROOT,
    VAR,
    Cluster,
    directory_state,
    docker,
    on,
    strong_password,
    wait_for,
)

LDAP1, LDAP2 = PROVIDERS
MAIL1 = next(iter(BACKENDS))  # the test account's backend (reads ldap1 first, then ldap2)


@pytest.fixture
def account(cluster: Cluster):
    """An active account created on ldap1, its password changed by the user (pwdReset cleared)."""
    uid = f"t{secrets.token_hex(4)}.cl"
    initial, password = strong_password(), strong_password()
    dn = f"uid={uid},{ACCOUNTS}"
    attrs = {"objectClass": ["inetOrgPerson", "govmailAccount"], "uid": uid, "cn": "Người Thử Cụm", "sn": "Thử",
             "mail": f"{uid}@{DOMAIN}", "govmailState": "active", "govmailManaged": "TRUE", "govmailKind": "person",
             "govmailUnit": "lab/test", "govmailMailHost": BACKENDS[MAIL1], "userPassword": initial,
             "pwdReset": "TRUE"}  # fmt: skip
    with cluster.provisioner(LDAP1) as conn:
        assert conn.add(dn, attributes=attrs), conn.result
    with cluster.ldap(LDAP1, dn, initial) as conn:
        assert conn.bound, conn.result
        conn.extend.standard.modify_password(dn, initial, password)
        assert conn.result["result"] == 0, conn.result
    yield dn, f"{uid}@{DOMAIN}", password
    docker("start", LDAP1, check=False)
    wait_for("ldap1 answering again", lambda: cluster.provisioner(LDAP1).bound)
    with cluster.provisioner(LDAP1) as conn:
        conn.delete(dn)


def _sees(cluster: Cluster, node: str, dn: str) -> bool:
    with cluster.provisioner(node) as conn:
        return conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["mail"]) and bool(conn.entries)


def _delivered(address: str, subject: str) -> bool:
    out = on(MAIL1, "doveadm", "fetch", "-u", address, "text", "mailbox", "INBOX", "header", "Subject", subject,
             check=False)  # fmt: skip
    return out.returncode == 0 and subject in out.stdout


def _apply_one_person(tmp_path) -> tuple[str, dict]:
    """The account files plus one new unit with one person, applied by playbooks/accounts.yml
    (bin/lab-accounts, cluster profile): the engine picks the first provider that answers."""
    accounts = tmp_path / "accounts"
    shutil.copytree(ROOT / "accounts", accounts)
    shutil.copytree(ROOT / "data", tmp_path / "data")
    org = f"cl{secrets.token_hex(3)}"
    address = f"p.{org}@{DOMAIN}"
    (accounts / f"{org}.yaml").write_text(
        f"org: {{id: {org}, name: Đơn vị thử cụm, kind: other_body, owners: [lab], mailbox: false}}\n"
        f"people:\n  - name: Người Thử Cụm\n    title: Chuyên viên\n    address: {address}\n",
        encoding="utf-8",
    )
    result = subprocess.run([str(ROOT / "bin/lab-accounts"), str(accounts)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, check=False, env={**os.environ, "PROFILE": "cluster"})  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = sorted((VAR / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)[-1]
    return address, json.loads(report.read_text())


def test_one_provider_down_then_back(cluster: Cluster, account, tmp_path):
    dn, address, password = account
    wait_for("the new account replicated to ldap2", lambda: _sees(cluster, LDAP2, dn))

    docker("stop", LDAP1)
    try:
        # Logins: the front's proxy and the backend (their cached logins dropped first) fall back to ldap2.
        for node in (MX, MAIL1):
            on(node, "doveadm", "auth", "cache", "flush")
        assert cluster.imap_login(address, password)
        assert not cluster.imap_login(address, password + "x")
        # Delivery: the front's Postfix tables (the transport to mail1 too) fall back to ldap2.
        subject = f"cluster {secrets.token_hex(4)}"
        cluster.send_from_outside(address, subject, "while ldap1 is down")
        wait_for(f"{subject!r} delivered to {address}", lambda: _delivered(address, subject))
        # An account apply: the engine writes to ldap2.
        created, report = _apply_one_person(tmp_path)
        assert report["directory"] == "ldap://127.0.0.1:10402"
        assert report["summary"]["by_op"].get("create") == 1, report["summary"]
        created_dn = f"uid={created.split('@')[0]},{ACCOUNTS}"
        assert _sees(cluster, LDAP2, created_dn)
    finally:
        docker("start", LDAP1)

    # ldap1 returns: it catches up (the account created while it was away) and both agree.
    wait_for("ldap1 caught up with the apply", lambda: _sees(cluster, LDAP1, created_dn))
    states = wait_for(
        "contextCSN and entry counts equal on both providers",
        lambda: (s := [directory_state(n) for n in PROVIDERS]) and s[0] == s[1] and s,
    )
    assert len(states[0][0]) == 2, states  # one contextCSN per provider (server IDs 1 and 2)
    with cluster.provisioner(LDAP1) as conn:
        conn.delete(created_dn)
