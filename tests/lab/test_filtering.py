"""Issue 12 §1 on the lab's real servers: rspamd (milter) with clamd and Redis behind postscreen, the sending
limit in rspamd's ratelimit, anti-spoofing of our own domain, RFC 2142 role addresses, mailbox quotas."""

from __future__ import annotations

import json
import secrets
import smtplib
import subprocess
import sys
import textwrap
import time
from email.message import EmailMessage
from pathlib import Path

import ldap3
import pytest

from .conftest import DOMAIN, Lab, in_lab, send_mx

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def _with_attachment(sender: str, to: str, subject: str, payload: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("Kính gửi anh chị, tài liệu đính kèm.\n")
    msg.add_attachment(payload.encode(), maintype="application", subtype="octet-stream", filename="baocao.com")
    return msg


def _history(tmp_path: Path) -> Path:
    """rspamd's scan history as its controller serves it on the mail host (loopback only)."""
    out = in_lab(
        "python3",
        "-c",
        "import urllib.request,sys; "
        "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:11334/history', timeout=30).read().decode())",
    )
    path = tmp_path / f"history-{secrets.token_hex(3)}.json"
    path.write_text(out.stdout)
    return path


def _abuse_scan(history: Path) -> tuple[int, dict]:
    scan = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(history), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert scan.returncode in (0, 3), scan.stdout + scan.stderr
    return scan.returncode, {a["account"]: a for a in json.loads(scan.stdout.splitlines()[-1])["rspamd"]}


def _outside(script: str) -> subprocess.CompletedProcess[str]:
    """Run a Python SMTP client inside the container against its own bridge address: a client that is not
    the loopback and not the controller (the lab trusts the Docker gateway, where the host's tests come from)."""
    prelude = textwrap.dedent("""\
        import smtplib, socket, subprocess
        ip = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()[0]
        smtp = smtplib.SMTP(ip, 25, local_hostname="outside.example.net", timeout=60)
        smtp.ehlo()
        """)
    return in_lab("python3", "-c", prelude + textwrap.dedent(script), check=False)


# --- malware and spam -------------------------------------------------------------------------
def test_eicar_from_the_internet_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    msg = _with_attachment("sender@example.org", account.mail, "eicar in", EICAR)
    with lab.mx() as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.send_message(msg)
    assert refused.value.smtp_code == 554
    assert b"Malware found (Govmail.Test.EICAR" in refused.value.smtp_error


def test_gtube_from_the_internet_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    with lab.mx() as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail(
            "sender@example.org",
            [account.mail],
            f"From: sender@example.org\r\nTo: {account.mail}\r\nSubject: gtube\r\n\r\n{GTUBE}\r\n".encode(),
        )
    assert refused.value.smtp_code == 554
    send_mx(lab, account.mail, "a normal message", "Xin chào, lịch họp thứ hai.")  # the control: clean mail passes
    assert "X-Spam-Status" in account.find_message("a normal message")


def test_malware_and_spam_from_an_account_are_refused_and_reported(lab: Lab, make_account, tmp_path) -> None:
    """A sending account that spreads malware or spam is compromised (R8.2b): both are refused, and
    `govmail abuse scan` over rspamd's history flags the account for the malware (with --lock it goes to the
    lock path: tests/integration/test_abuse_lock.py). rspamd keeps no history row for a GTUBE test pattern
    (it stops the scan at once), so the spam half is checked as a refusal only."""
    account, other = make_account(), make_account()
    with lab.submission() as smtp:
        smtp.login(account.mail, account.password)
        with pytest.raises(smtplib.SMTPDataError) as virus:
            smtp.send_message(_with_attachment(account.mail, other.mail, "eicar out", EICAR))
        with pytest.raises(smtplib.SMTPDataError) as spam:
            smtp.sendmail(
                account.mail,
                [other.mail],
                f"From: {account.mail}\r\nTo: {other.mail}\r\nSubject: gtube out\r\n\r\n{GTUBE}\r\n".encode(),
            )
    assert (virus.value.smtp_code, spam.value.smtp_code) == (554, 554)
    assert b"Malware found (Govmail.Test.EICAR" in virus.value.smtp_error
    code, flagged = _abuse_scan(_history(tmp_path))
    assert code == 3
    assert flagged[account.mail]["malware"] == 1
    assert other.mail not in flagged


# --- the sending limit -----------------------------------------------------------------------------
def test_the_eleventh_message_is_deferred_and_the_account_flagged(lab: Lab, make_account, tmp_path) -> None:
    """R4.2b through rspamd's ratelimit (10 an hour in the lab): 10 accepted, then 451 4.7.1, and the history
    scan flags the account; another account is not affected."""
    account, bystander = make_account(), make_account()
    accepted, deferred = 0, []
    with lab.submission() as smtp:
        smtp.login(account.mail, account.password)
        for i in range(12):
            message = f"From: {account.mail}\r\nTo: {bystander.mail}\r\nSubject: burst {i}\r\n\r\nx\r\n"
            try:
                smtp.sendmail(account.mail, [bystander.mail], message.encode())
                accepted += 1
            except smtplib.SMTPDataError as exc:
                deferred.append((exc.smtp_code, exc.smtp_error.decode()))
    assert accepted == 10
    assert [code for code, _ in deferred] == [451, 451]  # rspamd's soft reject: a temporary refusal
    assert "4.7.1 Sending limit reached (10 messages per hour)" in deferred[0][1]
    with lab.submission() as smtp:  # the limit is the account's, not the server's
        smtp.login(bystander.mail, bystander.password)
        smtp.sendmail(bystander.mail, [account.mail], f"From: {bystander.mail}\r\nSubject: s\r\n\r\nx\r\n".encode())
    code, flagged = _abuse_scan(_history(tmp_path))
    assert code == 3
    assert flagged[account.mail]["ratelimited"] == 2
    assert bystander.mail not in flagged


def test_the_limit_survives_a_restart_of_rspamd(lab: Lab, make_account) -> None:
    """The counts are in Redis: an rspamd restart does not give an account a fresh allowance."""
    account = make_account()
    with lab.submission() as smtp:
        smtp.login(account.mail, account.password)
        for i in range(10):
            smtp.sendmail(account.mail, [account.mail], f"From: {account.mail}\r\nSubject: r{i}\r\n\r\nx\r\n".encode())
    in_lab("service", "rspamd", "restart")
    deadline = time.monotonic() + 120
    while in_lab("rspamadm", "control", "stat", check=False).returncode != 0:
        assert time.monotonic() < deadline, "rspamd did not come back"
        time.sleep(1)
    with lab.submission() as smtp, pytest.raises(smtplib.SMTPDataError) as deferred:
        smtp.login(account.mail, account.password)
        smtp.sendmail(account.mail, [account.mail], f"From: {account.mail}\r\nSubject: r10\r\n\r\nx\r\n".encode())
    assert deferred.value.smtp_code == 451


# --- our own domain as sender ------------------------------------------------------------------------
def test_a_spoofed_envelope_sender_of_our_domain_from_outside_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    out = _outside(f"""\
        code, text = smtp.mail("{account.mail}")
        if code == 250:
            code, text = smtp.rcpt("{account.mail}")
        print(code, text.decode())
        """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("554 5.7.1"), out.stdout
    assert "log in to send" in out.stdout


def test_a_spoofed_header_from_of_our_domain_from_outside_is_refused(lab: Lab, make_account) -> None:
    account = make_account()
    out = _outside(f"""\
        try:
            smtp.sendmail("bounce@example.org", ["{account.mail}"],
                          b"From: Giam doc <giamdoc@{DOMAIN}>\\r\\nTo: {account.mail}\\r\\nSubject: chuyen tien\\r\\n\\r\\nx\\r\\n")
            print("accepted")
        except smtplib.SMTPDataError as exc:
            print(exc.smtp_code, exc.smtp_error.decode())
        """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("554"), out.stdout
    assert "Sender address in our own domain refused" in out.stdout
    # the control: the same client with a foreign From is accepted
    ok = _outside(f"""\
        smtp.sendmail("bounce@example.org", ["{account.mail}"],
                      b"From: Ban <ban@example.org>\\r\\nTo: {account.mail}\\r\\nSubject: outside ok\\r\\n\\r\\nx\\r\\n")
        print("accepted")
        """)
    assert ok.stdout.strip() == "accepted", ok.stdout + ok.stderr
    account.find_message("outside ok")


def test_submission_refuses_a_sender_that_is_not_the_login_or_its_alias(lab: Lab, make_account) -> None:
    alias = f"a{secrets.token_hex(3)}.lab@{DOMAIN}"
    account, other = make_account(aliases=(alias,)), make_account()
    with lab.submission() as smtp:
        smtp.login(account.mail, account.password)
        smtp.sendmail(alias, [other.mail], f"From: {alias}\r\nSubject: as alias\r\n\r\nx\r\n".encode())
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(other.mail, [account.mail], f"From: {other.mail}\r\nSubject: x\r\n\r\nx\r\n".encode())
    assert refused.value.recipients[account.mail][0] == 553
    other.find_message("as alias")


def test_submission_refuses_a_header_from_that_is_not_the_login_or_its_alias(lab: Lab, make_account) -> None:
    """The spoof the envelope check cannot see: logged in as A with A's own envelope sender, the header From (what
    the recipient reads) claims B. rspamd (GOVMAIL_FROM_NOT_LOGIN) refuses it with its reason; the account's alias
    and its own address are accepted."""
    alias = f"a{secrets.token_hex(3)}.lab@{DOMAIN}"
    account, other = make_account(aliases=(alias,)), make_account()
    refused = []
    with lab.submission() as smtp:
        smtp.login(account.mail, account.password)
        for claimed in (f"Giam doc <{other.mail}>", "Ngan hang <thongbao@example.com>"):
            with pytest.raises(smtplib.SMTPDataError) as spoof:
                smtp.sendmail(
                    account.mail,
                    [other.mail],
                    f"From: {claimed}\r\nTo: {other.mail}\r\nSubject: spoof\r\n\r\nx\r\n".encode(),
                )
            refused.append((spoof.value.smtp_code, spoof.value.smtp_error.decode()))
        # the controls: the alias (as envelope and header sender) and the login itself pass
        smtp.sendmail(alias, [other.mail], f"From: Phong A <{alias}>\r\nSubject: from the alias\r\n\r\nx\r\n".encode())
        smtp.sendmail(alias, [other.mail], f"From: {account.mail}\r\nSubject: from the login\r\n\r\nx\r\n".encode())
    for code, text in refused:
        assert code == 554, (code, text)
        assert "Header From is not your address" in text, text
    assert f"From: Phong A <{alias}>" in other.find_message("from the alias")
    other.find_message("from the login")


# --- RFC 2142 ------------------------------------------------------------------------------------------
@pytest.fixture
def support_mailbox(lab: Lab):
    """The support mailbox postmaster@ and abuse@ deliver to: the lab's own when `make lab` created it, else
    a throwaway one made here (and removed)."""
    dn = "uid=hotrothudientu,ou=accounts,dc=khanhhoa,dc=gov,dc=vn"
    with lab.provisioner() as conn:
        existed = conn.search(dn, "(objectClass=*)", ldap3.BASE)
        if not existed:
            attrs = {
                "objectClass": ["inetOrgPerson", "govmailAccount"],
                "uid": "hotrothudientu",
                "cn": "Hỗ trợ thư điện tử",
                "sn": "Hỗ trợ",
                "mail": f"hotrothudientu@{DOMAIN}",
                "govmailState": "active",
                "govmailManaged": "TRUE",
                "govmailKind": "system",
            }
            assert conn.add(dn, attributes=attrs), conn.result
    yield f"hotrothudientu@{DOMAIN}"
    if not existed:
        with lab.provisioner() as conn:
            conn.delete(dn)
        in_lab("rm", "-rf", f"/var/vmail/{DOMAIN}/hotrothudientu", check=False)


def test_postmaster_and_abuse_are_delivered_to_the_support_mailbox(lab: Lab, support_mailbox) -> None:
    for local in ("postmaster", "abuse"):
        subject = f"rfc2142 {local} {secrets.token_hex(3)}"
        send_mx(lab, f"{local}@{DOMAIN}", subject, "Báo cáo thư rác.")
        deadline = time.monotonic() + 30
        while True:
            out = in_lab(
                "doveadm",
                "search",
                "-u",
                support_mailbox,
                "mailbox",
                "INBOX",
                "header",
                "Subject",
                subject,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                break
            assert time.monotonic() < deadline, f"{local}@ was not delivered to {support_mailbox}"
            time.sleep(0.5)


# --- quotas ----------------------------------------------------------------------------------------
def _set_quota(lab: Lab, account, quota: str) -> None:
    with lab.provisioner() as conn:
        assert conn.modify(account.dn, {"govmailQuota": [(ldap3.MODIFY_REPLACE, [quota])]}), conn.result
    in_lab("doveadm", "auth", "cache", "flush", account.mail)


def test_a_full_mailbox_refuses_mail_with_552_5_2_2(lab: Lab, make_account) -> None:
    account = make_account()
    _set_quota(lab, account, "20K")
    send_mx(lab, account.mail, "fits", "x" * 1000)  # the control: a small message is delivered
    account.find_message("fits")
    big = "x" * 30_000
    with lab.mx() as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.sendmail("sender@example.org", [account.mail], f"Subject: too big\r\n\r\n{big}\r\n".encode())
    code, text = refused.value.recipients[account.mail]
    assert (code, text[:5]) == (552, b"5.2.2")
    assert b"Mailbox is full" in text


def _quota_warnings(account, wait: float = 30.0, want: str = "") -> str:
    """The quota warnings in the account's INBOX (from postmaster@), once one containing `want` is there."""
    deadline = time.monotonic() + wait
    while True:
        out = in_lab(
            "doveadm", "fetch", "-u", account.mail, "text", "mailbox", "INBOX", "header", "From", "postmaster@",
            check=False,
        )  # fmt: skip
        if want in out.stdout and "Auto-Submitted: auto-generated" in out.stdout:
            return out.stdout
        assert time.monotonic() < deadline, f"no quota warning with {want!r}: {out.stdout} {out.stderr}"
        time.sleep(0.5)


def test_a_mailbox_past_80_percent_gets_a_warning(lab: Lab, make_account) -> None:
    account = make_account()
    _set_quota(lab, account, "100K")
    send_mx(lab, account.mail, "filling", "x" * 85_000)
    account.find_message("filling")
    warnings = _quota_warnings(account, want="đã dùng 80% dung lượng")
    assert "95%" not in warnings


def test_a_mailbox_past_95_percent_gets_the_second_warning(lab: Lab, make_account) -> None:
    """Past 80 %, then past 95 %: two notices, the second saying 95 %."""
    account = make_account()
    _set_quota(lab, account, "100K")
    send_mx(lab, account.mail, "filling", "x" * 85_000)
    account.find_message("filling")
    _quota_warnings(account, want="đã dùng 80% dung lượng")
    send_mx(lab, account.mail, "filling more", "x" * 12_500)  # about 97 % of 100 KiB
    account.find_message("filling more")
    warnings = _quota_warnings(account, want="đã dùng 95% dung lượng")
    assert "đã dùng 80% dung lượng" in warnings  # the first one is still there: two notices
