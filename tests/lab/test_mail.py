"""Mail flow on the real Postfix + Dovecot of the lab (issue 3, points 1, 2, 5, 6)."""

from __future__ import annotations

import imaplib
import secrets
import smtplib

import ldap3
import pytest

from .conftest import ACCOUNTS, DOMAIN, REVOKED, Lab, send_mx


def token() -> str:
    return secrets.token_hex(8)


def test_active_account_receives_and_reads_over_imap(lab: Lab, make_account) -> None:
    account = make_account()
    subject, body = f"chao {token()}", f"noi dung {token()}"
    send_mx(lab, account.mail, subject, body)
    assert body in account.find_message(subject)

    for imap in (lab.imap(), lab.imaps()):
        typ, _ = imap.login(account.mail, account.password)
        assert typ == "OK"
        imap.select("INBOX", readonly=True)
        typ, ids = imap.search(None, "SUBJECT", f'"{subject}"')
        assert typ == "OK" and len(ids[0].split()) == 1
        typ, data = imap.fetch(ids[0].split()[0], "(BODY.PEEK[TEXT])")
        assert typ == "OK" and body in data[0][1].decode()
        imap.logout()


def test_active_account_sends_through_submission_as_itself_only(lab: Lab, make_account) -> None:
    sender, other = make_account(), make_account()
    subject = f"gui {token()}"
    with lab.submission() as smtp:
        smtp.login(sender.mail, sender.password)
        refused = smtp.sendmail(sender.mail, [other.mail], f"Subject: {subject}\r\n\r\nhello\r\n".encode())
        assert refused == {}
        # R4/R8.2b: an account may not send as someone else (reject_sender_login_mismatch).
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused_as_other:
            smtp.sendmail(other.mail, [sender.mail], b"Subject: spoof\r\n\r\nx\r\n")
        assert "not owned by user" in str(refused_as_other.value)
    assert "hello" in other.find_message(subject)


def test_suspended_account_still_receives_but_cannot_log_in_or_send(lab: Lab, make_account) -> None:
    account = make_account()
    # Control: the same credentials work while the account is active.
    assert account.imap_login()
    assert account.smtp_login()

    account.set_state("suspended")

    subject, body = f"tam dung {token()}", f"van nhan {token()}"
    send_mx(lab, account.mail, subject, body)
    assert body in account.find_message(subject)  # R8.1: mail is still delivered to the maildir

    assert not account.imap_login()  # R8.1: cannot log in...
    assert not account.smtp_login()  # ...nor send

    account.set_state("active")  # R8.3: restoring gives access back
    assert account.imap_login()


def test_alias_of_suspended_account_is_delivered_to_its_mailbox(lab: Lab, make_account) -> None:
    alias = f"alias.{token()}@{DOMAIN}"
    account = make_account(aliases=(alias,))
    account.set_state("suspended")
    subject = f"bi danh {token()}"
    send_mx(lab, alias, subject, "qua bi danh")
    assert "qua bi danh" in account.find_message(subject)


def test_revoked_address_is_rejected_at_rcpt(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.mx() as smtp:
        smtp.mail("sender@example.org")
        code, _ = smtp.rcpt(account.mail)
        assert code == 250  # control: known while live

    # Revocation as the engine does it: state revoked, entry moved out of the live tree.
    with lab.provisioner() as conn:
        assert conn.modify(account.dn, {"govmailState": [(ldap3.MODIFY_REPLACE, ["revoked"])]}), conn.result
        assert conn.modify_dn(account.dn, f"uid={account.uid}", new_superior=REVOKED), conn.result

    with lab.mx() as smtp:
        smtp.mail("sender@example.org")
        code, reply = smtp.rcpt(account.mail)
    assert code == 550, reply
    assert b"User unknown" in reply


def test_revoked_state_alone_stops_delivery(lab: Lab, make_account) -> None:
    """Even before the entry is moved to ou=revoked, govmailState=revoked is not deliverable."""
    account = make_account()
    with lab.provisioner() as conn:
        assert conn.modify(account.dn, {"govmailState": [(ldap3.MODIFY_REPLACE, ["revoked"])]}), conn.result
    with lab.mx() as smtp:
        smtp.mail("sender@example.org")
        code, _ = smtp.rcpt(account.mail)
    assert code == 550


@pytest.mark.parametrize(
    "sender", ["someone@example.org", f"skhcn@{DOMAIN}"], ids=["foreign-sender", "own-domain-sender"]
)
def test_mx_does_not_relay(lab: Lab, sender: str) -> None:
    with lab.mx() as smtp:
        smtp.mail(sender)
        code, reply = smtp.rcpt("victim@example.net")
    assert code == 554 and b"Relay access denied" in reply, reply


def test_submission_does_not_relay_without_login(lab: Lab) -> None:
    with lab.submission() as smtp:
        code, reply = smtp.mail("someone@example.org")
        if code == 250:
            code, reply = smtp.rcpt("victim@example.net")
    assert code >= 500, reply


def test_unknown_local_recipient_is_rejected(lab: Lab) -> None:
    with lab.mx() as smtp:
        smtp.mail("sender@example.org")
        code, _ = smtp.rcpt(f"nobody.{token()}@{DOMAIN}")
    assert code == 550


def test_imap_refuses_plaintext_login_without_tls(lab: Lab, make_account) -> None:
    account = make_account()
    imap = lab.imap(starttls=False)
    assert "LOGINDISABLED" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(account.mail, account.password)
    imap.shutdown()
    assert account.imap_login()  # control: the same credentials work over TLS


def test_submission_refuses_auth_and_mail_without_tls(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.submission(starttls=False) as smtp:
        assert not smtp.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.login(account.mail, account.password)
        code, reply = smtp.mail(account.mail)
        assert code == 530 and b"STARTTLS" in reply, reply
    assert account.smtp_login()  # control: the same credentials work over TLS


def test_mx_does_not_offer_authentication(lab: Lab) -> None:
    with lab.mx() as smtp:
        smtp.starttls(context=lab.ssl_context)
        smtp.ehlo()
        assert not smtp.has_extn("auth")


def test_revoked_entries_live_outside_the_accounts_tree(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.provisioner() as conn:
        assert conn.modify_dn(account.dn, f"uid={account.uid}", new_superior=REVOKED), conn.result
        conn.search(ACCOUNTS, f"(uid={account.uid})", attributes=["mail"])
        assert conn.result["result"] == 0 and conn.entries == []
        conn.search(REVOKED, f"(uid={account.uid})", attributes=["mail"])
        assert [e.mail.value for e in conn.entries] == [account.mail]
