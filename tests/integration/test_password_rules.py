"""R6.2 holds on every way a user can set a password, in slapd itself (issue 10, section 6).

A real slapd with the role's policy, ACL and the R6.2 module (govmail_pwcheck.c built from the
role's source): each path an attacker with a user's password has (a raw LDAP modify replacing
the value, adding a second value, the password modify extended operation through Debian's own
``ldappasswd``) is tried with the weak passwords of the issue and refused; a compliant change
goes through; the minimum age stops history cycling, and the operator's reset is not blocked by it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server
from lifecycle_helpers import backdate, root, user_bind

pytestmark = pytest.mark.integration
DOMAIN = "khanhhoa.gov.vn"


def _strong() -> str:
    return "Kx7#" + secrets.token_hex(6) + "Qz"


def _account(slapd, local="nvbinh", name="Nguyễn Văn Bình") -> tuple[str, str]:
    """(dn, initial password): an account as the engine leaves it (provisioner, reset pending)."""
    provisioner, password = slapd.provisioner
    conn = Connection(Server(slapd.uri), user=provisioner, password=password, auto_bind=True)
    dn = f"uid={local},ou=accounts,{slapd.suffix}"
    initial = _strong()
    attrs = {
        "uid": local, "cn": name, "sn": name.split()[0], "mail": f"{local}@{DOMAIN}", "govmailManaged": "TRUE",
        "govmailState": "active", "govmailKind": "person", "userPassword": initial, "pwdReset": "TRUE",
    }  # fmt: skip
    assert conn.add(dn, ["inetOrgPerson", "govmailAccount"], attrs), conn.result
    conn.unbind()
    return dn, initial


def _values(slapd, dn: str) -> list:
    with root(slapd) as conn:
        conn.search(dn, "(objectClass=*)", attributes=["userPassword", "pwdReset"])
        return list(conn.entries[0].entry_attributes_as_dict.get("userPassword", []))


def _address(dn: str) -> str:
    return dn.split(",", maxsplit=1)[0].split("=")[1] + "@" + DOMAIN


def _refused(conn: Connection, ok: bool) -> str:
    assert not ok, "slapd accepted it"
    return f"{conn.result['description']}: {conn.result['message']}"


def test_raw_modify_replace_is_refused_and_a_checked_raw_change_works(slapd):
    dn, initial = _account(slapd)
    conn = user_bind(slapd, _address(dn), initial)
    assert conn.bound
    # The attack of the issue: replace the value with a weak password.
    refused = _refused(conn, conn.modify(dn, {"userPassword": [(MODIFY_REPLACE, ["aaaaaaaa"])]}))
    assert "old password" in refused  # pwdSafeModify: a raw change must prove the old password
    # Even proving the old password, a weak or personal new one is refused by the R6.2 module.
    for weak, reason in (("aaaaaaaa", "upper-case"), ("abc12345", "special"), ("Binh#2026xyz", "name"),
                         ("Xx#9nvbinh", "address"), ("Nguyen!2026", "name")):  # fmt: skip
        change = {"userPassword": [(MODIFY_DELETE, [initial]), (MODIFY_ADD, [weak])]}
        refused = _refused(conn, conn.modify(dn, change))
        assert "Constraint" in refused or "constraint" in refused, refused
        assert reason in refused, refused
    # A pre-hashed value cannot be checked, so it is refused (pwdCheckQuality 2).
    hashed = "{SSHA}" + "A" * 28
    _refused(conn, conn.modify(dn, {"userPassword": [(MODIFY_DELETE, [initial]), (MODIFY_ADD, [hashed])]}))
    # A compliant change through the same path works, and leaves one value.
    good = _strong()
    assert conn.modify(dn, {"userPassword": [(MODIFY_DELETE, [initial]), (MODIFY_ADD, [good])]}), conn.result
    conn.unbind()
    assert len(_values(slapd, dn)) == 1
    assert user_bind(slapd, _address(dn), good).bound
    assert not user_bind(slapd, _address(dn), initial).bound


def test_a_second_password_value_cannot_be_added(slapd):
    dn, initial = _account(slapd)
    conn = user_bind(slapd, _address(dn), initial)
    for value in ("aaaaaaaa", _strong()):
        _refused(conn, conn.modify(dn, {"userPassword": [(MODIFY_ADD, [value])]}))
    conn.unbind()
    assert len(_values(slapd, dn)) == 1
    assert user_bind(slapd, _address(dn), initial).bound  # still the one password


def _ldappasswd(slapd, dn: str, current: str, new: str, tmp_path, *, old: bool = True) -> subprocess.CompletedProcess:
    """Debian's ldappasswd as the user, passwords from files (never argv)."""
    files = {}
    for name, value in (("bind", current), ("old", current), ("new", new)):
        files[name] = tmp_path / f"{name}-{secrets.token_hex(4)}"
        files[name].write_text(value, encoding="utf-8")
        files[name].chmod(0o600)
    argv = ["ldappasswd", "-x", "-H", slapd.uri, "-D", dn, "-y", str(files["bind"]), "-T", str(files["new"])]
    if old:
        argv += ["-t", str(files["old"])]
    run = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    run.stderr += run.stdout  # ldappasswd prints the server's answer on either
    return run


def test_ldappasswd_as_the_user_is_checked(slapd, tmp_path):
    dn, initial = _account(slapd)
    for weak in ("abc12345", "aaaaaaaa", "Binh#2026xyz"):
        run = _ldappasswd(slapd, dn, initial, weak, tmp_path)
        assert run.returncode != 0 and "Constraint violation" in run.stderr, run.stderr
    # Without the old password (what `ldappasswd -D user -w pw -s new` sends) it is refused too.
    run = _ldappasswd(slapd, dn, initial, _strong(), tmp_path, old=False)
    assert run.returncode != 0 and "old password" in run.stderr, run.stderr
    good = _strong()
    run = _ldappasswd(slapd, dn, initial, good, tmp_path)
    assert run.returncode == 0, run.stderr
    assert user_bind(slapd, _address(dn), good).bound


def test_minimum_age_stops_history_cycling_but_not_a_reset(slapd, tmp_path):
    dn, initial = _account(slapd)
    first = _strong()
    assert _ldappasswd(slapd, dn, initial, first, tmp_path).returncode == 0  # the forced change: allowed at once
    # Cycling through five passwords back to the first: the second change is already refused.
    second = _strong()
    run = _ldappasswd(slapd, dn, first, second, tmp_path)
    assert run.returncode != 0 and "too young" in run.stderr, run.stderr
    assert user_bind(slapd, _address(dn), first).bound
    # A day later it may change (and history still refuses the old ones).
    backdate(slapd, _address(dn), dt.date.today() - dt.timedelta(days=2))
    run = _ldappasswd(slapd, dn, first, initial, tmp_path)
    assert run.returncode != 0 and "history" in run.stderr, run.stderr
    assert _ldappasswd(slapd, dn, first, second, tmp_path).returncode == 0
    # The operator's reset (a leaked password, minutes after a change) is not "too young".
    provisioner, password = slapd.provisioner
    conn = Connection(Server(slapd.uri), user=provisioner, password=password, auto_bind=True)
    reset = _strong()
    changes = {"userPassword": [(MODIFY_REPLACE, [reset])], "pwdReset": [(MODIFY_REPLACE, ["TRUE"])]}
    assert conn.modify(dn, changes), conn.result
    conn.unbind()
    # ...and the forced change after it is allowed at once.
    assert _ldappasswd(slapd, dn, reset, _strong(), tmp_path).returncode == 0


def test_failed_binds_do_not_lock_the_account(slapd):
    """No per-account lockout (docs/security.md): 30 wrong passwords from anywhere, then the right one works."""
    dn, initial = _account(slapd)
    for _ in range(30):
        assert not user_bind(slapd, _address(dn), "Wrong#" + secrets.token_hex(4)).bound
    assert user_bind(slapd, _address(dn), initial).bound
    with root(slapd) as conn:  # the failures are still recorded for the operator
        conn.search(dn, "(objectClass=*)", attributes=["pwdFailureTime", "pwdAccountLockedTime"])
        attrs = conn.entries[0].entry_attributes_as_dict
    assert not attrs.get("pwdAccountLockedTime")
