"""The session guard against a real slapd with the role's policy: every way a password changes
(the password modify operation, a raw modify, an operator's reset) is noticed from pwdChangedTime,
and the account's sessions are ended with doveadm (here a stand-in recording its arguments; the
lab test runs the real one against open IMAP sessions)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import time

import ldap
import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server
from lifecycle_helpers import backdate, root, user_bind
from tls_impostor import Impostor, certificate

from govmail.mailhost.session_guard import Config, Guard

pytestmark = pytest.mark.integration
WHO = "nvbinh@khanhhoa.gov.vn"


def _strong() -> str:
    return "Kx7#" + secrets.token_hex(6) + "Qz"


@pytest.fixture
def doveadm(tmp_path):
    """A doveadm stand-in that appends its arguments to a file."""
    calls = tmp_path / "calls"
    script = tmp_path / "doveadm"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n', encoding="utf-8")
    script.chmod(0o755)
    return script, calls


def test_every_change_of_password_ends_the_sessions(slapd, doveadm):
    provisioner = Connection(
        Server(slapd.uri), user=slapd.provisioner[0], password=slapd.provisioner[1], auto_bind=True
    )
    dn = f"uid=nvbinh,ou=accounts,{slapd.suffix}"
    first = _strong()
    attrs = {"uid": "nvbinh", "cn": "Nguyễn Văn Bình", "sn": "Nguyễn", "mail": WHO, "govmailManaged": "TRUE",
             "govmailState": "active", "govmailKind": "person", "userPassword": first}  # fmt: skip
    assert provisioner.add(dn, ["inetOrgPerson", "govmailAccount"], attrs), provisioner.result
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=30))  # an old password, outside the look-back
    script, calls = doveadm
    reader_dn, reader_pw = slapd.mailserver
    guard = Guard(Config(ldap_uri=slapd.uri, base_dn=f"ou=accounts,{slapd.suffix}", bind_dn=reader_dn,
                         bind_pw=reader_pw, doveadm=str(script)))  # fmt: skip
    assert guard.round() == 0 and not calls.exists()

    # 1. the password modify operation, as the page and ldappasswd use it
    user = user_bind(slapd, WHO, first)
    second = _strong()
    assert user.extend.standard.modify_password(dn, first, second), user.result
    assert guard.round() == 1
    assert calls.read_text().splitlines() == [f"kick {WHO}", f"auth cache flush {WHO}"]
    assert guard.round() == 0  # acted on once

    # 2. the operator's reset (a leaked password)
    time.sleep(1.1)  # pwdChangedTime has one-second resolution: this change must not share the last one's second
    reset = _strong()
    assert provisioner.modify(
        dn, {"userPassword": [(MODIFY_REPLACE, [reset])], "pwdReset": [(MODIFY_REPLACE, ["TRUE"])]}
    )
    assert guard.round() == 1

    # 3. a raw modify by the user (delete the old value, add the new one)
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=2))  # past the minimum age, outside the look-back
    assert guard.round() == 0
    time.sleep(1.1)  # (one-second resolution, as above)
    user = user_bind(slapd, WHO, reset)
    third = _strong()
    assert user.modify(dn, {"userPassword": [(MODIFY_DELETE, [reset]), (MODIFY_ADD, [third])]}), user.result
    assert guard.round() == 1
    assert calls.read_text().splitlines().count(f"kick {WHO}") == 3


def test_a_failing_doveadm_is_retried_next_round(slapd, tmp_path):
    provisioner = Connection(
        Server(slapd.uri), user=slapd.provisioner[0], password=slapd.provisioner[1], auto_bind=True
    )
    dn = f"uid=nvbinh,ou=accounts,{slapd.suffix}"
    attrs = {"uid": "nvbinh", "cn": "Nguyễn Văn Bình", "sn": "Nguyễn", "mail": WHO, "govmailManaged": "TRUE",
             "govmailState": "active", "govmailKind": "person", "userPassword": _strong()}  # fmt: skip
    assert provisioner.add(dn, ["inetOrgPerson", "govmailAccount"], attrs), provisioner.result
    broken = tmp_path / "doveadm"
    broken.write_text("#!/bin/sh\necho 'Error: connect(/run/dovecot/doveadm-server) failed' >&2\nexit 75\n")
    broken.chmod(0o755)
    lines: list[str] = []
    reader_dn, reader_pw = slapd.mailserver
    guard = Guard(Config(ldap_uri=slapd.uri, base_dn=f"ou=accounts,{slapd.suffix}", bind_dn=reader_dn,
                         bind_pw=reader_pw, doveadm=str(broken)), log=lines.append)  # fmt: skip
    assert guard.round() == 1 and "failed" in lines[-1]
    assert guard.round() == 1  # not forgotten: tried again


def test_an_impostor_directory_gets_no_bind(slapd, doveadm, tmp_path):
    """A man in the middle with a certificate the configured CA did not sign receives nothing, not
    even when the host's libldap configuration (LDAPTLS_*) says never verify and trusts it."""
    trusted = certificate(tmp_path, "trusted")
    script, calls = doveadm
    with Impostor(tmp_path) as impostor:
        code = (
            "from govmail.mailhost.session_guard import Config, Guard\n"
            f"Guard(Config(ldap_uri='ldaps://127.0.0.1:{impostor.port}', base_dn='ou=accounts,{slapd.suffix}',"
            f" bind_dn={slapd.mailserver[0]!r}, bind_pw='reader-secret', ca_path={str(trusted)!r},"
            f" doveadm={str(script)!r})).round()\n"
        )
        env = {**os.environ, "LDAPTLS_REQCERT": "never", "LDAPTLS_CACERT": str(tmp_path / "impostor.pem")}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
    assert done.returncode != 0 and "ldap.SERVER_DOWN" in done.stderr, done.stderr
    assert not any(impostor.received), "the guard sent its bind to a server whose certificate it could not verify"
    assert not calls.exists()


def test_the_guard_moves_on_to_the_next_provider(slapd, doveadm):
    """Several providers (the role joins dovecot__ldap_uri's list): a dead first one is skipped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"ldap://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once the block ends
    script, _ = doveadm
    reader_dn, reader_pw = slapd.mailserver

    def guard(uris):
        return Guard(Config(ldap_uri=uris, base_dn=f"ou=accounts,{slapd.suffix}", bind_dn=reader_dn,
                            bind_pw=reader_pw, doveadm=str(script)))  # fmt: skip

    with pytest.raises(ldap.SERVER_DOWN):
        guard([dead]).round()
    assert guard([dead, slapd.uri]).round() == 0


def test_more_changes_than_a_page_are_all_acted_on(slapd, doveadm):
    """A mass reset (more than the 500 of one page, and than slapd's size limit): every account's
    sessions end in the same round."""
    script, calls = doveadm
    count = 520
    with root(slapd) as conn:
        for i in range(count):
            attrs = {"uid": f"u{i}", "cn": f"U {i}", "sn": "U", "mail": f"u{i}@khanhhoa.gov.vn",
                     "govmailManaged": "TRUE", "govmailState": "active", "userPassword": _strong()}  # fmt: skip
            assert conn.add(f"uid=u{i},ou=accounts,{slapd.suffix}", ["inetOrgPerson", "govmailAccount"], attrs)
    reader_dn, reader_pw = slapd.mailserver
    guard = Guard(Config(ldap_uri=slapd.uri, base_dn=f"ou=accounts,{slapd.suffix}", bind_dn=reader_dn,
                         bind_pw=reader_pw, doveadm=str(script)))  # fmt: skip
    assert guard.round() == count
    kicked = {line.split()[1] for line in calls.read_text().splitlines() if line.startswith("kick ")}
    assert kicked == {f"u{i}@khanhhoa.gov.vn" for i in range(count)}
