"""The password page in a real headless browser (Debian's chromium) against a real slapd with the
role's ppolicy: first login with an initial password → forced change; a weak password refused with
the reason; no account enumeration; rate limit; CSRF. Screenshots go to var/artifacts/."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from browser import chromium, click_and_wait_for_next_page, close, screenshot
from lifecycle_helpers import backdate, user_bind
from selenium.webdriver.common.by import By

from govmail.password_page.app import Config, PasswordPage, make_server

pytestmark = pytest.mark.integration
WHO = "nvbinh@khanhhoa.gov.vn"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _strong() -> str:
    return "Kx7#" + secrets.token_urlsafe(10).replace("-", "a").replace("_", "b") + "9z"


@pytest.fixture
def account(slapd, ldap):
    """An account as the provisioning engine leaves it: an initial password set by the provisioner (reset pending)."""
    from ldap3_client import connect

    initial = _strong()
    conn = connect(**ldap)
    dn = f"uid=nvbinh,ou=accounts,{slapd.suffix}"
    attrs = {
        "uid": "nvbinh", "cn": "Nguyễn Văn Bình", "sn": "Nguyễn", "mail": WHO, "govmailManaged": "TRUE",
        "govmailState": "active", "govmailKind": "person", "userPassword": initial, "pwdReset": "TRUE",
    }  # fmt: skip
    assert conn.add(dn, ["inetOrgPerson", "govmailAccount"], attrs), conn.result
    conn.unbind()
    return initial


@pytest.fixture
def page(slapd):
    port = _port()
    reader_dn, reader_pw = slapd.mailserver
    config = Config(ldap_uri=slapd.uri, base_dn=slapd.suffix, reader_dn=reader_dn, reader_pw=reader_pw,
                    secure_cookies=False)  # fmt: skip
    app = PasswordPage(config)
    server = make_server(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/password", app
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    close(driver)


def _submit(driver, address, current, new, confirm=None):
    for name, value in (("address", address), ("current", current), ("new", new), ("confirm", confirm or new)):
        box = driver.find_element(By.ID, name)
        box.clear()
        box.send_keys(value)
    click_and_wait_for_next_page(driver, driver.find_element(By.ID, "submit"))  # the answer page has replaced the form
    return driver.find_element(By.ID, "message").text


def test_first_login_forces_a_change_and_weak_passwords_are_refused_with_the_reason(page, browser, slapd, account):
    url, _ = page
    initial = account
    # The initial password binds, but ppolicy allows nothing except changing it (pwdReset).
    conn = user_bind(slapd, WHO, initial)
    assert conn.bound
    assert not conn.search(f"uid=nvbinh,ou=accounts,{slapd.suffix}", "(objectClass=*)", attributes=["cn"])
    conn.unbind()

    browser.get(url)
    assert browser.title == "Đổi mật khẩu thư điện tử công vụ"
    assert "ít nhất 8 ký tự" in browser.find_element(By.CLASS_NAME, "policy").text
    screenshot(browser, "password-page-1-form")

    weak = _submit(browser, WHO, initial, "matkhau1")
    assert weak.startswith("Mật khẩu mới chưa đạt yêu cầu: cần")
    assert "một chữ hoa" in weak and "một ký tự đặc biệt" in weak
    screenshot(browser, "password-page-2-weak")

    named = _submit(browser, WHO, initial, "Binh#2026xyz")
    assert "không chứa tên của bạn" in named

    mismatch = _submit(browser, WHO, initial, _strong(), _strong())
    assert mismatch == "Hai lần nhập mật khẩu mới không giống nhau."

    new = _strong()
    done = _submit(browser, "nvbinh", initial, new)
    assert done.startswith("Đã đổi mật khẩu.")
    screenshot(browser, "password-page-3-done")

    # The directory took it, as the user: the new password works fully, the initial one no longer.
    assert not user_bind(slapd, WHO, initial).bound
    conn = user_bind(slapd, WHO, new)
    assert conn.bound
    assert conn.search(f"uid=nvbinh,ou=accounts,{slapd.suffix}", "(objectClass=*)", attributes=["cn"])
    conn.unbind()

    # A second change the same day is refused (pwdMinAge: history cannot be cycled away)...
    browser.get(url)
    again = _submit(browser, WHO, new, _strong())
    assert again == "Mật khẩu vừa được đổi. Mỗi ngày chỉ được đổi một lần (trừ lần đổi bắt buộc)."
    # ...and a day later ppolicy history applies through the page: the previous password cannot come back.
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=2))
    browser.get(url)
    again = _submit(browser, WHO, new, initial)
    assert again == "Mật khẩu mới trùng một mật khẩu đã dùng gần đây. Hãy chọn mật khẩu khác."

    # Expired (91 days, R6.1): the grace binds of ppolicy are enough to change it on the page.
    backdate(slapd, WHO, dt.date.today() - dt.timedelta(days=91))
    browser.get(url)
    newer = _strong()
    assert _submit(browser, WHO, new, newer).startswith("Đã đổi mật khẩu.")
    assert user_bind(slapd, WHO, newer).bound


def test_no_enumeration_rate_limit_english_and_csrf(page, browser, account):
    url, _ = page
    browser.get(url + "?lang=en")
    assert browser.title == "Change your official e-mail password"
    unknown = _submit(browser, "nobody@khanhhoa.gov.vn", _strong(), _strong() + "A", None)
    browser.get(url + "?lang=en")
    wrong = _submit(browser, WHO, _strong(), _strong() + "B", None)
    assert unknown == wrong
    assert wrong.startswith("Wrong address or current password")
    screenshot(browser, "password-page-4-english-wrong")

    # Five failures for one address: the sixth try is throttled, even with the right password.
    for _ in range(4):
        browser.get(url)
        _submit(browser, WHO, _strong(), _strong())
    browser.get(url)
    throttled = _submit(browser, WHO, account, _strong())
    assert throttled == "Quá nhiều lần thử. Vui lòng đợi 15 phút rồi thử lại."
    screenshot(browser, "password-page-5-throttled")
    # Those failures came from this browser's address only: the owner, elsewhere, is not blocked.
    _, app = page
    owner_new = _strong()
    assert app.change(WHO, account, owner_new, owner_new, client="198.51.100.7")[:2] == (True, "done")

    # A POST without the form's token (another site's form) is refused before any bind.
    data = urllib.parse.urlencode({"address": WHO, "current": account, "new": _strong(), "confirm": "x"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10)
    assert refused.value.code == 403
    assert "Phiên làm việc đã hết hạn" in refused.value.read().decode()
    headers = urllib.request.urlopen(url, timeout=10).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "SameSite=Strict" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
