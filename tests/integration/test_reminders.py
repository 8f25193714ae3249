"""Password-expiry reminders (R6.1) against a real slapd with the role's policy (pwdMaxAge 90 days)
and a real SMTP server: who is reminded, when, once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lifecycle_helpers import backdate, sample_repo, set_password
from smtp_sink import SmtpSink

from govmail.directory.run import Delivery, converge
from govmail.lifecycle.lock import lock

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))


def run(repo, ldap, today, *extra):
    env = {**os.environ, "GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW": ldap["bind_pw"]}
    args = [GOVMAIL, "reminders", str(repo.path / "accounts"), "--ldap", ldap["server_uri"], "--json"]
    args += ["--today", today.isoformat(), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, env=env)


def test_reminders_go_once_per_stage_to_people_whose_password_expires_soon(tmp_path, slapd, ldap, age_key):
    repo = sample_repo(tmp_path / "repo")
    converge(str(repo.path / "accounts"), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    today = dt.datetime.now(dt.UTC).date()
    # Passwords set by their holders 80, 60 and 95 days ago; everyone else still has an initial one.
    for address, days in (("nvbinh", 80), ("pqhuy", 60), ("dtha", 95), ("lmtam", 85)):
        set_password(slapd, f"{address}@khanhhoa.gov.vn")
        backdate(slapd, f"{address}@khanhhoa.gov.vn", today - dt.timedelta(days=days))
    # A suspended account is not reminded (it cannot log in).
    lock(repo.path / "accounts", ldap, "lmtam@khanhhoa.gov.vn", reason="compromised", commit=False)
    ledger = tmp_path / "ledger.json"
    with SmtpSink() as sink:
        first = run(repo, ldap, today, "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger))
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout.strip().splitlines()[-1])["due"] == ["nvbinh@khanhhoa.gov.vn"]
        sink.wait(1)
        assert [m["To"] for m in sink.messages] == ["nvbinh@khanhhoa.gov.vn"]
        text = sink.messages[0].get_content()
        expires = (today + dt.timedelta(days=10)).isoformat()
        assert f"sẽ hết hạn vào ngày {expires} (còn 10 ngày)" in text
        assert "https://mail.khanhhoa.gov.vn/password" in text
        assert sink.messages[0]["Auto-Submitted"] == "auto-generated"

        again = run(repo, ldap, today, "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger))
        assert again.returncode == 0 and "already sent" in again.stdout
        assert len(sink.messages) == 1
        # Three days later it is the 7-day stage: a second (and last but one) reminder.
        later = run(
            repo, ldap, today + dt.timedelta(days=3), "--smtp", f"127.0.0.1:{sink.port}", "--ledger", str(ledger)
        )
        assert later.returncode == 0, later.stderr
        sink.wait(2)
        assert [m["To"] for m in sink.messages] == ["nvbinh@khanhhoa.gov.vn"] * 2
        assert "(còn 7 ngày)" in sink.messages[1].get_content()
        # 20 days on: pqhuy (60 + 20 = 80 days, 10 left) is due; nvbinh's password has expired (past the window).
        far = run(repo, ldap, today + dt.timedelta(days=20))
        assert json.loads(far.stdout.strip().splitlines()[-1])["due"] == ["pqhuy@khanhhoa.gov.vn"]

    # A mail server that is down: a clear error, exit 1, nothing recorded as sent.
    down = run(repo, ldap, today, "--smtp", "127.0.0.1:9", "--ledger", str(tmp_path / "other.json"))
    assert down.returncode == 1 and "cannot send through 127.0.0.1:9" in down.stdout
    assert json.loads((tmp_path / "other.json").read_text()) == []
