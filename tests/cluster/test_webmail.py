"""Webmail logs in through the proxy (issue 14 §3): Roundcube on the front speaks IMAP and ManageSieve
to the front's Dovecot, which passes each login to the account's backend (govmailMailHost). A
message that exists on one backend only is seen in webmail, and a filter written in webmail lands
in the Sieve script of that backend and no other. Screenshots go to var/artifacts/cluster-webmail-*.png."""

from __future__ import annotations

import secrets

import pytest
from browser import chromium_for, close, screenshot
from roundcube_ui import WAIT, logged_in, login, save_out_of_office, wait
from selenium.webdriver.common.by import By

from .conftest import BACKENDS, DOMAIN, MX, VAR, Cluster, count_on, on, wait_for

HOST = f"mail.{DOMAIN}"
WEB = f"https://{HOST}:10445"  # bin/lab publishes the front's 443 there (PROFILE=cluster)


@pytest.fixture
def browser(request):
    driver = chromium_for(HOST, VAR / "tls" / "cert.pem")
    yield driver
    screenshot(driver, f"cluster-webmail-{request.node.name}-end")  # the last state, pass or fail
    close(driver)


def _sieve_script(node: str, address: str) -> str:
    local = address.split("@", maxsplit=1)[0]
    return on(node, "sh", "-c", f"cat /var/vmail/{DOMAIN}/{local}/.dovecot.sieve", check=False).stdout


@pytest.mark.parametrize("node", list(BACKENDS))
def test_webmail_logs_in_through_the_proxy_to_the_accounts_backend(cluster: Cluster, mailbox, browser, node):
    (other,) = set(BACKENDS) - {node}
    address, password = mailbox(BACKENDS[node])
    subject = f"cluster webmail {secrets.token_hex(4)}"
    cluster.send_from_outside(address, subject, "Thư đến backend của người nhận.")
    wait_for(f"the message on {node}", lambda: count_on(node, address) == 1)
    assert count_on(other, address) == 0  # only the account's backend holds it

    login(browser, WEB, address, password)
    logged_in(browser)
    wait(browser, lambda d: subject in d.find_element(By.ID, "messagelist").text)
    screenshot(browser, f"cluster-webmail-{node}-inbox")

    # An out-of-office reply written in webmail: ManageSieve through the proxy, stored on the backend.
    save_out_of_office(browser, WEB, f"Vang mat {secrets.token_hex(3)}", "Tôi đang đi công tác.",
                       f"cluster-webmail-{node}-vacation")  # fmt: skip
    wait_for(f"a vacation script on {node} for {address}", lambda: "vacation" in _sieve_script(node, address), WAIT)
    assert _sieve_script(other, address) == ""
    assert _sieve_script(MX, address) == ""  # the front keeps no mail state of its own
