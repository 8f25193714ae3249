"""Passwords and logins on the real lab (issue 10, sections 5 and 6; docs/security.md "Passwords and logins"):
the slapd role's R6.2 module refuses weak passwords on the user's paths; a change ends the old
password at once and the account's open sessions (no auth cache, the session guard); guessing
from one address slows that address and locks nobody out."""

from __future__ import annotations

import imaplib
import subprocess
import time

import ldap3

from .conftest import CONTAINER, Lab, backdate, in_lab, strong_password

CONSTRAINT_VIOLATION = 19


def test_the_r62_module_runs_in_the_lab_slapd(lab: Lab, make_account) -> None:
    account = make_account()
    backdate(account)
    conn = account.bind()
    for weak in ("abc12345", "aaaaaaaa", "Nghiem#2026x", account.uid.replace(".", "") + "#A1"):
        assert not conn.extend.standard.modify_password(account.dn, account.password, weak)
        assert conn.result["result"] == CONSTRAINT_VIOLATION, conn.result
        assert "R6.2" in conn.result["message"], conn.result
    # The raw modify of the issue: replacing the value without the old one, or adding a second one.
    assert not conn.modify(account.dn, {"userPassword": [(ldap3.MODIFY_REPLACE, ["aaaaaaaa"])]})
    assert not conn.modify(account.dn, {"userPassword": [(ldap3.MODIFY_ADD, [strong_password()])]})
    conn.unbind()
    assert account.imap_login()  # still the one password


def test_a_change_ends_the_old_password_and_the_open_sessions(lab: Lab, make_account) -> None:
    account = make_account()
    backdate(account)
    thief = lab.imap()
    thief.login(account.mail, account.password)
    thief.select("INBOX")
    old = account.password
    new = strong_password()
    conn = account.change_password(new)  # the password modify operation, as ldappasswd or the page
    assert conn.result["result"] == 0, conn.result
    conn.unbind()
    account.password = new
    # No auth cache: the old password no longer opens IMAP, at once.
    assert not account.imap_login(old)
    assert account.imap_login(new)
    # The session guard (polling every 5 s) ends the session opened with the old password.
    deadline = time.monotonic() + 60
    cut = False
    while not cut and time.monotonic() < deadline:
        try:
            thief.noop()
            time.sleep(1)
        except (imaplib.IMAP4.abort, OSError, EOFError):
            cut = True
    log = in_lab("tail", "-n", "20", "/var/log/govmail-session-guard.log", check=False).stdout
    assert cut, f"the session opened with the old password is still open; guard log:\n{log}"
    assert f"password of {account.mail} changed" in log


def test_guessing_from_one_address_locks_nobody_out(lab: Lab, make_account) -> None:
    """An outsider who knows the (predictable) address fails 6 logins from one address: that address
    is penalised by Dovecot, the account is not locked, and its owner logs in from elsewhere."""
    victim = make_account()
    attacker_ip = in_lab("hostname", "-i").stdout.split()[0]  # the container's own address, not the host's
    script = (
        "import imaplib, ssl, sys\n"
        "ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n"
        "for i in range(6):\n"
        "    m = imaplib.IMAP4(sys.argv[1], 143); m.starttls(ssl_context=ctx)\n"
        "    try:\n"
        "        m.login(sys.argv[2], 'Wrong#guess' + str(i)); print('IN')\n"
        "    except imaplib.IMAP4.error:\n"
        "        print('NO')\n"
        "    m.logout()\n"
    )
    guesses = subprocess.run(  # slow on purpose: the penalty doubles each attempt (up to 15 s)
        ["docker", "exec", CONTAINER, "python3", "-c", script, attacker_ip, victim.mail],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert guesses.stdout.split() == ["NO"] * 6
    penalty = in_lab("doveadm", "penalty").stdout
    assert any(line.split()[:1] == [attacker_ip] and int(line.split()[1]) >= 3 for line in penalty.splitlines()[1:]), (
        penalty
    )
    assert victim.imap_login()  # the owner is not locked out
    with lab.provisioner() as conn:
        conn.search(victim.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdAccountLockedTime"])
        assert not conn.entries[0].entry_attributes_as_dict.get("pwdAccountLockedTime")
