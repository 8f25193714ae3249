"""The rate-limit policy service as deployed (the stdlib file run by python3, spoken to over TCP with
Postfix's policy protocol), then its log and Postfix's fed to `govmail abuse scan --lock`, which
locks the account in a real slapd and commits the lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lifecycle_helpers import attrs, sample_repo

from govmail.directory.run import Delivery, converge
from helpers import REPO

pytestmark = pytest.mark.integration
GOVMAIL = str(Path(sys.executable).with_name("govmail"))
DAEMON = REPO / "module_utils/govmail/mailhost/ratelimit.py"
WHO = "nvbinh@khanhhoa.gov.vn"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(sock_file, sock, user: str) -> str:
    request = (f"request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nsasl_username={user}\n"
               "recipient_count=1\nclient_address=10.0.0.5\n\n")  # fmt: skip
    sock.sendall(request.encode())
    action = sock_file.readline().decode().strip()
    assert sock_file.readline() == b"\n"
    return action


@pytest.fixture
def daemon(tmp_path):
    port = _port()
    log = tmp_path / "ratelimit.log"
    proc = subprocess.Popen(
        ["python3", "-I", str(DAEMON), "--listen", f"127.0.0.1:{port}", "--max-messages", "5"],
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    yield port, log
    proc.terminate()
    proc.wait(timeout=10)


def test_the_limit_defers_the_sixth_message_and_the_scan_locks_the_account(daemon, tmp_path, slapd, ldap, age_key):
    port, daemon_log = daemon
    with socket.create_connection(("127.0.0.1", port)) as sock:  # one connection, many requests, as smtpd does
        reader = sock.makefile("rb")
        actions = [_ask(reader, sock, WHO) for _ in range(6)]
        other = _ask(reader, sock, "pqhuy@khanhhoa.gov.vn")
    assert actions[:5] == ["action=DUNNO"] * 5
    assert actions[5].startswith("action=450 4.7.1 Sending limit reached (5 messages")
    assert other == "action=DUNNO"
    deadline = time.monotonic() + 5
    while "over limit" not in daemon_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"over limit sasl_username={WHO} messages=5" in daemon_log.read_text()

    # The mail log of that hour: Postfix's accepted messages plus the policy service's refusal.
    lines = [
        f"Nov 28 10:{m:02d}:00 mail postfix/submission/smtpd[812]: Q{m}: client=x[10.0.0.5], sasl_method=PLAIN, "
        f"sasl_username={WHO}"
        for m in range(5)
    ] + [f"Nov 28 10:06:00 mail govmail-ratelimit[5]: {daemon_log.read_text().splitlines()[-1].split(': ', 1)[1]}"]
    maillog = tmp_path / "mail.log"
    maillog.write_text("\n".join(lines) + "\n")

    repo = sample_repo(tmp_path / "repo")
    converge(str(repo.path / "accounts"), ldap, delivery=Delivery(age_recipients=[age_key[1]], age_dir=str(tmp_path)))
    env = {**os.environ, "GOVMAIL_LDAP_BIND_DN": ldap["bind_dn"], "GOVMAIL_LDAP_BIND_PW": ldap["bind_pw"]}
    dry = subprocess.run([GOVMAIL, "abuse", "scan", str(maillog), "--limit", "10", "--year", "2026", "--json"],
                         capture_output=True, text=True, check=False, env=env)  # fmt: skip
    assert dry.returncode == 3, dry.stderr  # flagged by the refusal even below the log limit
    assert json.loads(dry.stdout.splitlines()[-1])["flagged"][0]["account"] == WHO
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["active"]  # scanning alone locks nothing

    locked = subprocess.run(
        [GOVMAIL, "abuse", "scan", str(maillog), "--limit", "4", "--year", "2026", "--lock", "--json",
         "--dir", str(repo.path / "accounts"), "--ldap", ldap["server_uri"]],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert locked.returncode == 3, locked.stderr
    assert f"FLAG {WHO}: 5 messages in 60 min" in locked.stdout
    assert attrs(slapd, WHO, "govmailState")["govmailState"] == ["suspended"]
    subject = repo.git("log", "-1", "--format=%s")
    assert subject.startswith(f"lock: {WHO} (compromised gửi 5 thư trong 60 phút từ 2026-11-28 10:00")

    # An account flagged by the sending limit's refusals alone is reported and locked too (no peak hour).
    only = tmp_path / "refusals.log"
    only.write_text("Nov 28 11:00:00 mail govmail-ratelimit[5]: over limit sasl_username=pqhuy@khanhhoa.gov.vn"
                    " messages=5 recipients=5 window=3600s client=10.0.0.5\n")  # fmt: skip
    refused = subprocess.run(
        [GOVMAIL, "abuse", "scan", str(only), "--limit", "4", "--year", "2026", "--lock",
         "--dir", str(repo.path / "accounts"), "--ldap", ldap["server_uri"]],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert refused.returncode == 3, refused.stderr
    assert "FLAG pqhuy@khanhhoa.gov.vn: refused 1 time(s) by the sending limit" in refused.stdout
    assert attrs(slapd, "pqhuy@khanhhoa.gov.vn", "govmailState")["govmailState"] == ["suspended"]

    missing = subprocess.run([GOVMAIL, "abuse", "scan", str(tmp_path / "nope.log")], capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert missing.returncode == 2 and "No such file" in missing.stderr
