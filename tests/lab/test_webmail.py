"""Issue 13 §1 in a real browser (Debian's chromium) against the lab's webmail: Roundcube behind nginx
at / of the mail host name, logging in through Dovecot, sending through Postfix, the province's
address book over LDAP, an out-of-office reply written with ManageSieve and sent by Pigeonhole, and
the refused logins: a suspended account told why, a must-change account sent to the password page.
Screenshots of every step go to var/artifacts/webmail-*.png."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator

import ldap3
import pytest
from browser import chromium_for, close, screenshot
from roundcube_ui import WAIT, logged_in, login, save_out_of_office, wait
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from .conftest import ACCOUNTS, CONTAINER, DOMAIN, Lab, backdate, in_lab, strong_password

HOST = f"mail.{DOMAIN}"


@pytest.fixture(scope="module")
def web(lab: Lab) -> str:
    published = subprocess.run(["docker", "port", CONTAINER, "443/tcp"], capture_output=True, text=True, check=True)
    port = int(published.stdout.splitlines()[0].rpartition(":")[2])
    return f"https://{HOST}:{port}"


@pytest.fixture
def browser(lab: Lab, request) -> Iterator:
    driver = chromium_for(HOST, lab.ca.parent / "cert.pem")
    yield driver
    screenshot(driver, f"webmail-{request.node.name}-end")  # the last state, pass or fail
    close(driver)


def test_login_and_send_a_message_that_arrives(lab: Lab, make_account, web, browser) -> None:
    sender, recipient = make_account(), make_account()
    login(browser, web, sender.mail, sender.password)
    logged_in(browser)
    screenshot(browser, "webmail-logged-in")
    subject = f"webmail {secrets.token_hex(4)}"
    browser.get(f"{web}/?_task=mail&_action=compose")
    to = wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, ".recipient-input input")))
    to.send_keys(recipient.mail + ", ")
    browser.find_element(By.ID, "compose-subject").send_keys(subject)
    browser.find_element(By.ID, "composebody").send_keys("Gửi từ webmail.")
    screenshot(browser, "webmail-compose")
    browser.execute_script("rcmail.command('send', '')")
    wait(browser, lambda d: "_action=compose" not in d.current_url)
    text = recipient.find_message(subject)
    assert f"From: {sender.mail}" in text or sender.mail in text
    # and the recipient reads it in webmail
    browser.delete_all_cookies()
    login(browser, web, recipient.mail, recipient.password)
    logged_in(browser)
    wait(browser, lambda d: subject in d.find_element(By.ID, "messagelist").text)
    screenshot(browser, "webmail-arrived")


def test_find_a_unit_in_the_address_book(lab: Lab, make_account, web, browser) -> None:
    """The province's address book (LDAP, read as the `webmail` identity): a unit found by name."""
    user = make_account()
    tag = secrets.token_hex(3)
    unit_uid = f"u{tag}.lab"
    name = f"Phòng Thử nghiệm {tag}"
    with lab.provisioner() as conn:
        assert conn.add(f"uid={unit_uid},{ACCOUNTS}", attributes={
            "objectClass": ["inetOrgPerson", "govmailAccount"], "uid": unit_uid, "cn": name, "sn": name,
            "mail": f"{unit_uid}@{DOMAIN}", "govmailState": "active", "govmailManaged": "TRUE",
            "govmailKind": "unit", "govmailOrg": "lab", "govmailUnit": f"t{tag}",
        }), conn.result  # fmt: skip
    try:
        login(browser, web, user.mail, user.password)
        logged_in(browser)
        browser.get(f"{web}/?_task=addressbook&_source=directory")
        box = wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "#quicksearchbox, input[name=_q]")))
        box.send_keys(tag, Keys.ENTER)
        wait(browser, lambda d: name in d.find_element(By.ID, "contacts-table").text)
        screenshot(browser, "webmail-addressbook")
    finally:
        with lab.provisioner() as conn:
            conn.delete(f"uid={unit_uid},{ACCOUNTS}")


def test_out_of_office_reply(lab: Lab, make_account, web, browser) -> None:
    away, writer = make_account(), make_account()
    login(browser, web, away.mail, away.password)
    logged_in(browser)
    # the form Roundcube shows in the settings frame, loaded on its own (_framed=1)
    reply_subject = f"Vang mat {secrets.token_hex(3)}"  # ASCII: found in the raw message as typed
    save_out_of_office(browser, web, reply_subject, "Tôi đang đi công tác, sẽ trả lời sau.", "webmail-vacation")
    # Pigeonhole holds the script now (ManageSieve wrote it into the mail home)
    deadline = time.monotonic() + WAIT
    while (
        "vacation" not in in_lab("sh", "-c", f"cat /var/vmail/{DOMAIN}/{away.uid}/.dovecot.sieve", check=False).stdout
    ):
        assert time.monotonic() < deadline, "no active sieve script with a vacation action"
        time.sleep(0.5)
    subject = f"ooo {secrets.token_hex(4)}"
    smtp = lab.submission()
    try:
        smtp.login(writer.mail, writer.password)
        message = f"From: {writer.mail}\r\nTo: {away.mail}\r\nSubject: {subject}\r\n\r\nxin chào\r\n"
        assert smtp.sendmail(writer.mail, [away.mail], message.encode("utf-8")) == {}
    finally:
        smtp.close()
    away.find_message(subject)  # delivered too
    reply = writer.find_message(reply_subject)
    assert "Auto-Submitted: auto-replied" in reply
    assert f"From: {away.mail}" in reply or f"<{away.mail}>" in reply


def test_a_suspended_account_is_refused_with_the_reason(lab: Lab, make_account, web, browser) -> None:
    account = make_account()
    account.set_state("suspended")
    login(browser, web, account.mail, account.password)
    reason = wait(browser, ec.presence_of_element_located((By.ID, "govmail-login-reason")))
    screenshot(browser, "webmail-suspended")
    assert "tạm ngừng" in reason.text
    link = browser.find_element(By.ID, "govmail-password-link")
    assert link.get_attribute("href") == f"{web}/password"
    assert "_task=mail" not in browser.current_url
    # a wrong password says nothing about the account
    browser.delete_all_cookies()
    login(browser, web, account.mail, strong_password())
    wait(browser, ec.presence_of_element_located((By.ID, "rcmloginuser")))
    assert not browser.find_elements(By.ID, "govmail-login-reason")


def test_a_must_change_account_is_sent_to_the_password_page(lab: Lab, make_account, web, browser) -> None:
    account = make_account(ready=False)  # operator-set password, pwdReset TRUE (R6.1)
    login(browser, web, account.mail, account.password)
    wait(browser, lambda d: d.current_url.startswith(f"{web}/password"))
    wait(browser, ec.presence_of_element_located((By.NAME, "new")))
    screenshot(browser, "webmail-sent-to-password-page")
    # the product path: change it there, then read mail in webmail
    new = strong_password()
    for field_name, value in (("address", account.mail), ("current", account.password), ("new", new), ("confirm", new)):
        box = browser.find_element(By.NAME, field_name)
        box.clear()
        box.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    message = wait(browser, ec.presence_of_element_located((By.ID, "message")))
    assert message.get_attribute("class") == "ok", message.text
    browser.get(f"{web}/")
    browser.delete_all_cookies()
    login(browser, web, account.mail, new)
    logged_in(browser)


def test_password_changed_inside_webmail_by_the_directory(lab: Lab, make_account, web, browser) -> None:
    """The password plugin (ldap_exop, bound as the user): slapd's policy refuses a weak one, takes a strong one."""
    account = make_account()
    backdate(account)  # past the one-day minimum age (pwdMinAge)
    login(browser, web, account.mail, account.password)
    logged_in(browser)
    browser.get(f"{web}/?_task=settings&_action=plugin.password")
    wait(browser, ec.presence_of_element_located((By.NAME, "_newpasswd")))
    new = strong_password()
    browser.find_element(By.NAME, "_curpasswd").send_keys(account.password)
    browser.find_element(By.NAME, "_newpasswd").send_keys(new)
    browser.find_element(By.NAME, "_confpasswd").send_keys(new)
    browser.execute_script("rcmail.command('plugin.password-save')")
    deadline = time.monotonic() + WAIT
    while not account.imap_login(new):
        assert time.monotonic() < deadline, "the new password never worked over IMAP"
        time.sleep(1)
    screenshot(browser, "webmail-password-changed")
    assert not account.imap_login(account.password)
    with lab.ldap(f"uid={account.uid},{ACCOUNTS}", new) as conn:
        assert conn.bound
        assert isinstance(conn, ldap3.Connection)
