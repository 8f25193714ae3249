"""rspamd's scan history fed to `govmail abuse scan --lock` (R4.2b, R8.2b): the account that spread spam or went
over the sending limit is locked in a real slapd and the lock is committed; a scan without --lock locks nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lifecycle_helpers import attrs, sample_repo

from govmail.directory.run import Delivery, converge

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))
WHO = "nvbinh@khanhhoa.gov.vn"
OTHER = "nvhung@khanhhoa.gov.vn"


def test_an_account_rspamd_refused_for_spam_is_locked_and_committed(tmp_path, slapd, ldap, age_key):
    history = tmp_path / "history.json"
    rows = [
        {
            "unix_time": 1764670000 + i,
            "user": WHO,
            "action": "reject",
            "symbols": {"GTUBE": {"score": 0}},
            "sender_smtp": OTHER,
            "subject": "x",
        }
        for i in range(3)
    ]
    history.write_text(json.dumps({"version": 2, "rows": rows}))
    repo = sample_repo(tmp_path / "repo")
    converge(str(repo.path / "accounts"), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    env = {**os.environ, "GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW": ldap["bind_pw"]}

    dry = subprocess.run(
        [GOVMAIL, "abuse", "scan", "--rspamd-history", str(history), "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert dry.returncode == 3, dry.stderr
    assert json.loads(dry.stdout.splitlines()[-1])["rspamd"][0]["spam"] == 3
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["active"]  # scanning alone locks nothing

    locked = subprocess.run(
        [
            GOVMAIL,
            "abuse",
            "scan",
            "--rspamd-history",
            str(history),
            "--lock",
            "--json",
            "--dir",
            str(repo.path / "accounts"),
            "--ldap",
            ldap["server_uri"],
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert locked.returncode == 3, locked.stderr
    assert f"FLAG {WHO}: spam refused 3×" in locked.stdout
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["suspended"]
    # the envelope sender named in the rows is someone else's address: not touched
    assert attrs(slapd, OTHER, "govmailState")["govmailState"] == ["active"]
    assert repo.git("log", "-1", "--format=%s").startswith(f"lock: {WHO} (compromised rspamd: spam refused 3×")


def test_the_postfix_log_scan_still_locks_through_the_same_path(tmp_path, slapd, ldap, age_key):
    """The Postfix-log side of the same command (peak per hour), and an account flagged by refusal lines alone."""
    lines = [
        f"Nov 28 10:{m:02d}:00 mail postfix/submission/smtpd[812]: Q{m}: client=x[10.0.0.5], sasl_method=PLAIN, "
        f"sasl_username={WHO}"
        for m in range(5)
    ]
    maillog = tmp_path / "mail.log"
    maillog.write_text("\n".join(lines) + "\n")
    repo = sample_repo(tmp_path / "repo")
    converge(str(repo.path / "accounts"), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    env = {**os.environ, "GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW": ldap["bind_pw"]}
    locked = subprocess.run(
        [GOVMAIL, "abuse", "scan", str(maillog), "--limit", "4", "--year", "2026", "--lock", "--json",
         "--dir", str(repo.path / "accounts"), "--ldap", ldap["server_uri"]],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert locked.returncode == 3, locked.stderr
    assert f"FLAG {WHO}: 5 messages in 60 min" in locked.stdout
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["suspended"]
    assert repo.git("log", "-1", "--format=%s").startswith(
        f"lock: {WHO} (compromised gửi 5 thư trong 60 phút từ 2026-11-28 10:00"
    )
    only = tmp_path / "refusals.log"
    only.write_text(
        f"Nov 28 11:00:00 mail govmail-ratelimit[5]: over limit sasl_username={OTHER}"
        " messages=5 recipients=5 window=3600s client=10.0.0.5\n"
    )
    refused = subprocess.run(
        [GOVMAIL, "abuse", "scan", str(only), "--limit", "4", "--year", "2026", "--lock",
         "--dir", str(repo.path / "accounts"), "--ldap", ldap["server_uri"]],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert refused.returncode == 3, refused.stderr
    assert f"FLAG {OTHER}: refused 1 time(s) by the sending limit" in refused.stdout
    assert attrs(slapd, OTHER, "govmailState")["govmailState"] == ["suspended"]
    missing = subprocess.run([GOVMAIL, "abuse", "scan", str(tmp_path / "nope.log")], capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert missing.returncode == 2 and "No such file" in missing.stderr
