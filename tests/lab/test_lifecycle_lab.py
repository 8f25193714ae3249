"""Issue 6 against the real servers of the lab: the emergency lock cuts a live IMAP session and the
account still receives; an expiry reminder arrives in the real mailbox through Postfix and Dovecot;
the password page (run here, bound to the lab's directory over StartTLS) turns an initial password
into one that logs in over IMAP."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import imaplib
import secrets
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import jinja2
import ldap3
import pytest
from browser import chromium, chromium_for, click_and_wait_for_next_page, close, screenshot
from selenium.webdriver.common.by import By

from govmail.directory.layout import Layout
from govmail.directory.ldap_client import connect
from govmail.lifecycle import notices, reminders
from govmail.lifecycle.lock import lock
from govmail.mailhost.smtp import SmtpChannel
from govmail.password_page.app import Config, PasswordPage, make_server

from .conftest import CONTAINER, DOMAIN, MAILSERVER, PROVISIONER, SUFFIX, Lab, send_mx, strong_password


def _ldap(lab: Lab) -> dict:
    return {
        "server_uri": f"ldap://127.0.0.1:{lab.ports[389]}",
        "bind_dn": PROVISIONER,
        "bind_pw": lab.provisioner_password,
        "start_tls": True,
        "validate_certs": True,
        "ca_path": str(lab.ca),
        "base_dn": SUFFIX,
        "connect_timeout": 10,
    }


def _repo_with(tmp_path: Path, address: str) -> Path:
    """A Git repository whose account files declare the lab account (an existing mailbox brought under management)."""
    accounts = tmp_path / "repo" / "accounts"
    (accounts / "departments").mkdir(parents=True)
    (accounts / "province.yaml").write_text(textwrap.dedent(f"""\
        domain: {DOMAIN}
        province_code: kh
        approvers: [ttcds]
        reserved: [postmaster, abuse, hotrothudientu]
        system_accounts:
          - {{address: hotrothudientu@{DOMAIN}, name: Hỗ trợ thư điện tử}}
        """), encoding="utf-8")  # fmt: skip
    (accounts / "departments/lab.yaml").write_text(textwrap.dedent(f"""\
        org: {{id: lab, name: Phòng thử nghiệm, kind: province_body, owners: [ttcds], mailbox: false}}
        people:
          - name: Người Thử Nghiệm
            title: Chuyên viên
            address: {address}
        """), encoding="utf-8")  # fmt: skip
    env = ["-c", "user.name=lab", "-c", "user.email=lab@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*env, "commit", "-q", "-m", "lab tree"]):
        subprocess.run(["git", *args], cwd=accounts.parent, check=True, capture_output=True)
    return accounts


def test_lock_cuts_the_session_keeps_delivery_and_commits(lab: Lab, make_account, tmp_path) -> None:
    account = make_account()
    accounts = _repo_with(tmp_path, account.mail)
    account.after_session_guard()  # so that only the lock can end the session opened below
    session = lab.imap()
    assert session.login(account.mail, account.password)[0] == "OK"
    session.select("INBOX")

    result = lock(accounts, _ldap(lab), account.mail, reason="compromised", reason_more="lab",
                  doveadm=["docker", "exec", CONTAINER, "doveadm"])  # fmt: skip
    assert result.kick_error is None and result.kicked == [account.mail]
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        session.noop()
        session.noop()
    assert not account.imap_login()
    assert not account.smtp_login()
    with lab.provisioner() as conn:
        conn.search(account.dn, "(objectClass=*)", attributes=["govmailState", "pwdReset"])
        assert conn.entries[0].govmailState.value == "suspended"
    log = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=accounts, capture_output=True, text=True, check=True)
    assert log.stdout.strip() == f"lock: {account.mail} (compromised lab)"
    subject = f"van nhan {secrets.token_hex(6)}"
    send_mx(lab, account.mail, subject, "R8.1: a suspended account still receives")
    assert "still receives" in account.find_message(subject)


def test_an_expiry_reminder_arrives_in_the_real_mailbox(lab: Lab, make_account) -> None:
    account = make_account()
    with connect(**_ldap(lab)) as directory:  # the engine's client (python-ldap)
        found = reminders.read_expiries(directory, Layout(SUFFIX), f"cn=default,ou=policies,{SUFFIX}")
    mine = next(e for e in found if e.address == account.mail)
    today = mine.expires_day - dt.timedelta(days=10)  # Vietnam's day: after 17:00 UTC it is already tomorrow
    [(item, stage)] = [(i, s) for i, s in reminders.due([mine], today)]
    notice = reminders.notice(item, today, stage, "https://mail.khanhhoa.gov.vn/password")
    channel = SmtpChannel(host="127.0.0.1", port=lab.ports[25])
    [sent] = notices.send(channel, [notice], f"hotrothudientu@{DOMAIN}")
    assert sent["error"] is None
    message = _delivered(account.mail, notice.subject)
    assert message["From"] == f"hotrothudientu@{DOMAIN}"
    assert "(còn 10 ngày)" in message.get_content()


def _delivered(address: str, subject: str, wait: float = 30):
    """The message with this (decoded) subject in the account's INBOX, read on the server with doveadm."""
    deadline = time.monotonic() + wait
    while True:
        out = subprocess.run(["docker", "exec", CONTAINER, "doveadm", "fetch", "-u", address, "text", "mailbox",
                              "INBOX", "all"], capture_output=True, text=True, check=False)  # fmt: skip
        for record in out.stdout.split("\f"):
            raw = record.strip("\n").removeprefix("text:").lstrip("\n")
            if raw:
                message = email.message_from_string(raw, policy=email.policy.default)
                if message["Subject"] == subject:
                    return message
        assert time.monotonic() < deadline, f"no message {subject!r} for {address}: {out.stdout[-500:]} {out.stderr}"
        time.sleep(0.5)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _submit(driver, address: str, current: str, new: str) -> None:
    """Fill the password form (clearing what a previous attempt left) and wait for the answer page."""
    for name, value in (("address", address), ("current", current), ("new", new), ("confirm", new)):
        field = driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    click_and_wait_for_next_page(driver, driver.find_element(By.ID, "submit"))


def test_the_password_page_turns_an_initial_password_into_an_imap_login(lab: Lab, make_account) -> None:
    account = make_account(ready=False)  # an initial password, reset pending (R6.1)
    initial = account.password
    config = Config(ldap_uri=f"ldap://127.0.0.1:{lab.ports[389]}", base_dn=SUFFIX, ca_path=str(lab.ca),
                    start_tls=True, reader_dn=MAILSERVER, reader_pw=lab.mailserver_password,
                    secure_cookies=False)  # fmt: skip
    port = _port()
    server = make_server(PasswordPage(config), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = chromium()
    try:
        driver.get(f"http://127.0.0.1:{port}/password")
        new = strong_password()
        _submit(driver, account.mail, initial, new)
        screenshot(driver, "lab-password-page-done")
        assert driver.find_element(By.ID, "message").text.startswith("Đã đổi mật khẩu.")
    finally:
        close(driver)
        server.shutdown()
    subprocess.run(["docker", "exec", CONTAINER, "doveadm", "auth", "cache", "flush"], check=False)
    assert account.imap_login(new)
    assert not account.imap_login(initial)
    conn = lab.ldap(account.dn, new)
    assert conn.bound and conn.search(account.dn, "(objectClass=*)", attributes=["cn"])
    assert isinstance(conn, ldap3.Connection)


def test_the_deployed_password_page_over_https(lab: Lab, make_account) -> None:
    """The page as the lab serves it: nginx with the lab certificate on the mail host, in a browser."""
    published = subprocess.run(["docker", "port", CONTAINER, "443/tcp"], capture_output=True, text=True, check=True)
    port = int(published.stdout.splitlines()[0].rpartition(":")[2])
    host = f"mail.{DOMAIN}"
    # TLS verifies against the lab CA for the mail host's name
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        lab.ssl_context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    account = make_account(ready=False)
    initial = account.password
    driver = chromium_for(host, lab.ca.parent / "cert.pem")
    try:
        driver.get(f"https://{host}:{port}/password")
        _submit(driver, account.mail, initial, "abcdefgh")
        screenshot(driver, "lab-deployed-password-page-weak")
        assert "chữ hoa" in driver.find_element(By.CLASS_NAME, "error").text  # the missing class is named
        new = strong_password()
        _submit(driver, account.mail, initial, new)
        screenshot(driver, "lab-deployed-password-page-done")
        assert driver.find_element(By.ID, "message").text.startswith("Đã đổi mật khẩu.")
    finally:
        close(driver)
    assert account.imap_login(new)
    assert not account.imap_login(initial)


def test_the_real_postfix_reads_the_policy_hook(lab: Lab) -> None:
    """master.cf rendered with postfix__submission_policy_services, parsed by the lab's Postfix (in a scratch dir)."""
    env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    template = (Path(__file__).resolve().parents[2] / "roles/postfix/templates/etc/postfix/master.cf.j2").read_text()
    master = env.from_string(template).render(
        ansible_managed="test", postfix__submission_policy_services=["inet:127.0.0.1:10031"]
    )
    scratch = f"/tmp/govmail-hook-{secrets.token_hex(4)}"
    try:
        subprocess.run(["docker", "exec", CONTAINER, "mkdir", scratch], check=True)
        subprocess.run(["docker", "exec", CONTAINER, "cp", "/etc/postfix/main.cf", scratch], check=True)
        subprocess.run(["docker", "exec", "-i", CONTAINER, "sh", "-c", f"cat > {scratch}/master.cf"],
                       input=master, text=True, check=True)  # fmt: skip
        out = subprocess.run(["docker", "exec", CONTAINER, "postconf", "-c", scratch, "-M", "-f", "submission/inet"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    finally:
        subprocess.run(["docker", "exec", CONTAINER, "rm", "-rf", scratch], check=False)
    assert "-o {smtpd_end_of_data_restrictions=check_policy_service inet:127.0.0.1:10031}" in out.stdout  # normalised
    assert out.stderr == ""
