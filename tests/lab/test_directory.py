"""The directory's own guarantees on the real slapd of the lab (issue 3, points 3 and 4)."""

from __future__ import annotations

import secrets
import subprocess
import time

import ldap3

from .conftest import ACCOUNTS, CONTAINER, MAILSERVER, PROVISIONER, SUFFIX, Lab, backdate, in_lab, strong_password

CONSTRAINT_VIOLATION = 19
CONFIDENTIALITY_REQUIRED = 13
INVALID_CREDENTIALS = 49


def test_forced_change_blocks_login_until_the_user_changes_the_password(lab: Lab, make_account) -> None:
    account = make_account(ready=False)  # operator-set password, pwdReset TRUE (R6.1)
    assert not account.imap_login()
    assert not account.smtp_login()

    # The directory accepts the bind but restricts the session to changing the password.
    conn = account.bind()
    assert conn.bound
    assert not conn.search(account.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["cn"])
    assert "restricted" in conn.result["message"]
    new = strong_password()
    assert conn.extend.standard.modify_password(account.dn, account.password, new), conn.result
    conn.unbind()

    assert account.imap_login(new)
    assert account.smtp_login(new)
    assert not account.imap_login(account.password)  # the old password is gone


def test_operator_reset_forces_a_change_again(lab: Lab, make_account) -> None:
    account = make_account()
    assert account.imap_login()
    temporary = strong_password()
    with lab.provisioner() as conn:  # what a reset request (R7) does
        assert conn.modify(
            account.dn,
            {
                "userPassword": [(ldap3.MODIFY_REPLACE, [temporary])],
                "pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])],
            },
        ), conn.result
    account.set_state("active")  # flushes Dovecot's cache like the engine does after a reset
    assert not account.imap_login(temporary)
    assert not account.imap_login()


def test_short_password_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    conn = account.bind()
    assert not conn.extend.standard.modify_password(account.dn, account.password, "Ab1!xyz")  # 7 characters
    assert conn.result["result"] == CONSTRAINT_VIOLATION, conn.result
    assert account.imap_login()  # unchanged
    # The operator (the password administrator: =mw on userPassword) sets only generated passwords,
    # always with pwdReset, which the holder must replace through a checked path (R6.1).


def test_password_history_refuses_reuse(lab: Lab, make_account) -> None:
    account = make_account()
    first = account.password
    backdate(account)  # past the one-day minimum age, so it is the history that refuses
    second = strong_password()
    conn = account.change_password(second)
    assert conn.result["result"] == 0, conn.result
    conn.unbind()
    account.password = second
    backdate(account)
    conn = account.bind()
    assert not conn.extend.standard.modify_password(account.dn, second, first)  # back to the previous one
    assert conn.result["result"] == CONSTRAINT_VIOLATION, conn.result
    assert "history" in conn.result["message"], conn.result


def test_users_read_no_ones_password(lab: Lab, make_account) -> None:
    alice, bob = make_account(), make_account()
    conn = alice.bind()
    conn.search(bob.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["userPassword", "mail"])
    assert conn.entries == []  # another user's entry is not visible at all
    conn.search(alice.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*", "+"])
    assert len(conn.entries) == 1
    own = conn.entries[0].entry_attributes_as_dict
    assert own["mail"] == [alice.mail]
    assert not own.get("userPassword") and not own.get("pwdHistory")  # not even one's own hash


def test_mailserver_identity_reads_addresses_not_passwords(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.ldap(MAILSERVER, lab.mailserver_password) as conn:
        conn.search(ACCOUNTS, f"(mail={account.mail})", attributes=["mail", "govmailState", "userPassword"])
        assert len(conn.entries) == 1
        found = conn.entries[0].entry_attributes_as_dict
        assert found["mail"] == [account.mail] and found["govmailState"] == ["active"]
        assert not found.get("userPassword")
        # read-only
        assert not conn.modify(account.dn, {"govmailState": [(ldap3.MODIFY_REPLACE, ["suspended"])]})


def test_anonymous_search_returns_no_personal_data(lab: Lab, make_account) -> None:
    account = make_account()
    conn = lab.ldap()  # anonymous, over TLS
    conn.search(SUFFIX, "(objectClass=*)", attributes=["*"])
    assert conn.entries == []
    conn.search(ACCOUNTS, f"(mail={account.mail})", attributes=["cn", "mail"])
    assert conn.entries == []
    # Only `auth` on userPassword: the anonymous connection can still be used to bind.
    assert conn.rebind(account.dn, account.password)


def test_simple_bind_without_tls_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    conn = lab.ldap(account.dn, account.password, tls=False)
    assert not conn.bound
    assert conn.result["result"] == CONFIDENTIALITY_REQUIRED, conn.result


def test_last_login_is_recorded(lab: Lab, make_account) -> None:
    account = make_account()
    assert account.imap_login()  # Dovecot binds as the user
    with lab.provisioner() as conn:
        conn.search(account.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdLastSuccess"])
        assert conn.entries and conn.entries[0].pwdLastSuccess.value is not None


def test_repeated_failures_do_not_lock_the_account(lab: Lab, make_account) -> None:
    """No per-account lockout (docs/security.md): it would let anyone lock any official out."""
    account = make_account()
    for _ in range(6):  # one more than the old pwdMaxFailure
        assert not account.bind("Wrong-Password-1").bound
    assert account.bind().bound
    with lab.provisioner() as conn:
        conn.search(account.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdAccountLockedTime"])
        assert not conn.entries[0].entry_attributes_as_dict.get("pwdAccountLockedTime")


def test_duplicate_address_is_refused(lab: Lab, make_account) -> None:
    first = make_account()
    with lab.provisioner() as conn:
        ok = conn.add(
            f"uid=dup{first.uid},{ACCOUNTS}",
            attributes={
                "objectClass": ["inetOrgPerson", "govmailAccount"],
                "uid": f"dup{first.uid}",
                "cn": "Trùng",
                "sn": "Trùng",
                "mail": first.mail,
                "govmailState": "active",
                "govmailManaged": "TRUE",
            },
        )
        assert not ok
        assert conn.result["result"] == CONSTRAINT_VIOLATION, conn.result


def test_provisioner_cannot_touch_the_service_identities(lab: Lab) -> None:
    with lab.provisioner() as conn:
        assert not conn.modify(MAILSERVER, {"description": [(ldap3.MODIFY_REPLACE, ["x"])]})
        conn.search(PROVISIONER, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["userPassword"])
        assert all(not e.entry_attributes_as_dict.get("userPassword") for e in conn.entries)


def test_expired_password_refuses_login_after_the_grace_binds(lab: Lab, make_account) -> None:
    """R6.1 (change every 3 months), with the ageing shortened to 1 second on a throwaway policy:
    once pwdMaxAge has passed, a bind spends a grace login (pwdGraceAuthNLimit), and after that
    binds fail — and so do IMAP logins, for which Dovecot binds as the user."""
    policy = f"cn=expiry-{secrets.token_hex(4)},ou=policies,{SUFFIX}"
    ldif = (
        f"dn: {policy}\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\n"
        "pwdAttribute: userPassword\npwdMaxAge: 1\npwdGraceAuthNLimit: 1\npwdMinLength: 8\n"
        "pwdCheckQuality: 2\npwdAllowUserChange: TRUE\n"
    )
    subprocess.run(  # policies belong to root (the provisioner only reads them)
        ["docker", "exec", "-i", CONTAINER, "ldapadd", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///"],
        input=ldif,
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        account = make_account(ready=False)
        with lab.provisioner() as conn:
            change = {"pwdPolicySubentry": [(ldap3.MODIFY_REPLACE, [policy])]}
            assert conn.modify(account.dn, change), conn.result
        new = strong_password()
        conn = account.change_password(new)  # sets pwdChangedTime, clears pwdReset
        assert conn.result["result"] == 0, conn.result
        account.password = new
        time.sleep(2.5)  # let the 1-second ageing pass

        assert account.bind().bound  # the one grace login
        assert not account.bind().bound  # expired, no grace left
        assert not account.imap_login()
        with lab.provisioner() as conn:
            conn.search(account.dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["pwdGraceUseTime"])
            assert len(conn.entries[0].pwdGraceUseTime.values) == 1
    finally:
        in_lab("ldapdelete", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", policy, check=False)
