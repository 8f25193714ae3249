"""`govmail notify-outage` on the lab (issue 12 §4, R9.2a): the notice reaches every active account of the chosen
unit, in batches, from the support address (logged in on submission); suspended accounts and other units get nothing; the log lists who
was sent what, and a second run sends nothing twice."""

from __future__ import annotations

import email
import email.policy
import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import ldap3

from .conftest import PROVISIONER, ROOT, SUFFIX, VAR, Lab, in_lab


def notify(lab: Lab, unit: str, log: Path, support, *extra: str) -> subprocess.CompletedProcess[str]:
    """Through submission, logged in as the support mailbox (port 25 refuses our own domain unauthenticated)."""
    argv = [
        str(ROOT / ".venv/bin/govmail"),
        "notify-outage",
        str(ROOT / "accounts"),
        "--start=2026-12-05T22:00",
        "--end=2026-12-06T02:30",
        "--reason=nâng cấp máy chủ thư",
        f"--unit={unit}",
        f"--ldap=ldap://127.0.0.1:{lab.ports[389]}",
        "--start-tls",
        f"--ca={VAR / 'tls' / 'ca.pem'}",
        f"--bind-dn={PROVISIONER}",
        f"--base-dn={SUFFIX}",
        f"--smtp=127.0.0.1:{lab.ports[587]}",
        "--smtp-starttls",
        f"--smtp-ca={VAR / 'tls' / 'ca.pem'}",
        f"--sender={support.mail}",
        "--batch-size=2",
        "--pause=0",
        f"--log={log}",
        *extra,
    ]
    env = dict(
        os.environ,
        GOVMAIL_LDAP_BIND_PW=lab.provisioner_password,
        GOVMAIL_SMTP_USER=support.mail,
        GOVMAIL_SMTP_PASSWORD=support.password,
    )
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    print(result.stdout, result.stderr)
    return result


def notice_of(account, wait: float = 30.0) -> str:
    """The outage notice in the account's INBOX (found by its ASCII marker header), as doveadm prints it."""
    deadline = time.monotonic() + wait
    while True:
        out = in_lab("doveadm", "fetch", "-u", account.mail, "text", "mailbox", "INBOX", "header",
                     "X-Govmail-Notice", "outage", check=False)  # fmt: skip
        if out.returncode == 0 and out.stdout.startswith("text:"):
            return out.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"no outage notice for {account.mail}: {out.stderr}")
        time.sleep(0.5)


def test_outage_notice_reaches_the_active_accounts_of_the_unit_and_is_logged(lab: Lab, make_account, tmp_path: Path):
    unit = f"lab/outage{secrets.token_hex(3)}"
    inside = [make_account() for _ in range(3)]
    suspended, outside, support = make_account(), make_account(), make_account()
    with lab.provisioner() as conn:
        for account in [*inside, suspended]:
            assert conn.modify(account.dn, {"govmailUnit": [(ldap3.MODIFY_REPLACE, [unit])]}), conn.result
    suspended.set_state("suspended")
    log = tmp_path / "outage.log"

    result = notify(lab, unit, log, support)
    assert result.returncode == 0, result.stderr
    assert "3 active account(s)" in result.stdout
    subject = "Thông báo tạm ngừng dịch vụ thư điện tử công vụ từ 22 giờ 00 ngày 05/12/2026"
    for account in inside:
        text = notice_of(account)
        msg = email.message_from_string(text.split("\n", 1)[1], policy=email.policy.default)
        assert msg["Subject"] == subject
        assert msg["From"] == support.mail
        assert "02 giờ 30 ngày 06/12/2026" in msg.get_content()  # the expected recovery time
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(e["to"] for e in entries) == sorted(a.mail for a in inside)
    assert {e["result"] for e in entries} == {"sent"} and sorted(e["batch"] for e in entries) == [1, 1, 2]
    for account in (suspended, outside):
        listed = subprocess.run(
            ["docker", "exec", os.environ.get("GOVMAIL_LAB_CONTAINER", "govmail-lab"), "doveadm", "search", "-u",
             account.mail, "mailbox", "INBOX", "header", "X-Govmail-Notice", "outage"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert listed.stdout.strip() == "", f"{account.mail} was sent the notice"

    again = notify(lab, unit, log, support)
    assert again.returncode == 0 and again.stdout.count("already sent") == 3
    assert len(log.read_text(encoding="utf-8").splitlines()) == 3
