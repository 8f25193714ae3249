"""`govmail status` against the lab (issue 12 §4, R9.2a): all OK, then a stopped service is one FAIL line and exit 1.

Also: the exporters answer (node, Postfix, Dovecot's OpenMetrics), slapd's cn=monitor is readable by the
mail servers' identity, and logrotate rotates the govmail logs while the services keep writing."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request

import pytest

from .conftest import CONTAINER, MAILSERVER, ROOT, SUFFIX, VAR, Lab, docker, in_lab, send_mx


def published(port: int) -> int:
    line = docker("port", CONTAINER, f"{port}/tcp").stdout.splitlines()[0]
    return int(line.rpartition(":")[2])


def status(lab: Lab, probe, *extra: str) -> subprocess.CompletedProcess[str]:
    ca = str(VAR / "tls" / "ca.pem")
    argv = [
        str(ROOT / ".venv/bin/govmail"),
        "status",
        "--host=127.0.0.1",
        f"--smtp-port={lab.ports[25]}",
        f"--submission-port={lab.ports[587]}",
        f"--imaps-port={lab.ports[993]}",
        f"--tls-ca={ca}",
        f"--probe-user={probe.mail}",
        f"--ldap=ldap://127.0.0.1:{lab.ports[389]}",
        "--start-tls",
        f"--ca={ca}",
        f"--bind-dn={MAILSERVER}",
        f"--base-dn={SUFFIX}",
        f"--node-metrics=http://127.0.0.1:{published(9100)}/metrics",
        f"--postfix-metrics=http://127.0.0.1:{published(9154)}/metrics",
        f"--dovecot-metrics=http://127.0.0.1:{published(9900)}/metrics",
        *extra,
    ]
    env = dict(os.environ, GOVMAIL_PROBE_PW=probe.password, GOVMAIL_LDAP_BIND_PW=lab.mailserver_password)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    print(result.stdout, result.stderr)
    return result


def wait_until(check, what: str, wait: float = 30.0) -> None:
    deadline = time.monotonic() + wait
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def dovecot_back():
    yield
    in_lab("service", "dovecot", "start", check=False)


def test_status_is_all_ok_then_a_stopped_service_fails_with_its_line(lab: Lab, make_account, dovecot_back) -> None:
    probe = make_account()
    in_lab("/usr/local/sbin/govmail-backup", "run")  # a backup younger than the limit

    ok = status(lab, probe)
    lines = ok.stdout.splitlines()
    assert ok.returncode == 0, ok.stdout
    names = {line.split()[1] for line in lines if line.startswith(("OK", "FAIL"))}
    assert names == {"smtp", "submission", "imap", "ldap", "certificates", "queue", "backup", "dovecot-stats"}
    assert all(line.startswith("OK") for line in lines[:-1]), lines
    assert "cn=monitor:" in next(line for line in lines if " ldap " in line)
    # the directory's certificate (StartTLS, handed over by libldap) is among those whose expiry is checked
    assert re.search(r"\bldap \d+ d\b", next(line for line in lines if " certificates " in line))
    assert lines[-1] == "8 checks, 0 failed"

    in_lab("service", "dovecot", "stop")
    broken = status(lab, probe)
    assert broken.returncode == 1
    failed = [line for line in broken.stdout.splitlines() if line.startswith("FAIL")]
    assert {line.split()[1] for line in failed} == {"imap", "dovecot-stats"}, failed
    assert any(line.startswith("OK   smtp") for line in broken.stdout.splitlines())
    assert broken.stdout.splitlines()[-1] == "8 checks, 2 failed: imap, dovecot-stats"

    in_lab("service", "dovecot", "start")
    wait_until(lambda: status(lab, probe).returncode == 0, "status OK again")


def test_a_backup_older_than_the_limit_fails(lab: Lab, make_account) -> None:
    probe = make_account()
    in_lab("/usr/local/sbin/govmail-backup", "run")
    stale = status(lab, probe, "--max-backup-age=0.0001")
    assert stale.returncode == 1
    assert [line.split()[1] for line in stale.stdout.splitlines() if line.startswith("FAIL")] == ["backup"]


def test_exporters_publish_the_services_metrics(lab: Lab, make_account) -> None:
    account = make_account()
    send_mx(lab, account.mail, "metrics", "x")
    account.find_message("metrics")
    assert account.imap_login()

    def page(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{published(port)}/metrics", timeout=10) as response:
            return response.read().decode()

    assert "node_load1" in page(9100)
    postfix = page(9154)
    assert "postfix_up" in postfix and "postfix_showq_message_age_seconds_count" in postfix
    assert "dovecot_auth_success_total" in page(9900)
    monitor = in_lab("ldapsearch", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", "-b", "cn=Monitor", "-s", "base", "+")
    assert "monitoredInfo: OpenLDAP" in monitor.stdout


# Every log file the roles write (their defaults): postfix, dovecot, the session guard (monitoring role's
# /etc/logrotate.d/govmail); rspamd, clamd, Redis and nginx (with the webfront's govmail.*.log): their packages' own
# files, which the roles leave in place. Roundcube's files appear on first use: the check of every file covers them.
ROLE_LOGS = (
    "/var/log/postfix.log",
    "/var/log/dovecot.log",
    "/var/log/govmail-session-guard.log",
    "/var/log/rspamd/rspamd.log",
    "/var/log/clamav/clamav.log",
    "/var/log/redis/redis-server.log",
    "/var/log/nginx/govmail.access.log",
    "/var/log/nginx/govmail.error.log",
)
# Files under /var/log no rotation is for: binary login records (Debian rotates btmp/wtmp, not these), journald's,
# debootstrap's (written once when the image is made) and apt's EIPP dump (replaced by each apt run, not appended to).
NOT_ROTATED = (
    "/var/log/lastlog",
    "/var/log/faillog",
    "/var/log/journal/",
    "/var/log/private/",
    "/var/log/README",
    "/var/log/bootstrap.log",
    "/var/log/apt/eipp.log.xz",
)


def test_logrotate_parses_every_config_and_covers_every_log_the_roles_write(lab: Lab) -> None:
    """`logrotate -d` (a dry run) over the whole configuration: no error, and every log the roles write, and every
    other log file on the host, is one it considers."""
    for path in ROLE_LOGS[:3]:  # the monitoring role's own file names the ones no package rotates
        assert f"{path} {{" in in_lab("cat", "/etc/logrotate.d/govmail").stdout, path
    dry = in_lab("logrotate", "-d", "/etc/logrotate.conf", check=False)
    output = dry.stdout + dry.stderr
    assert dry.returncode == 0, output
    errors = [line for line in output.splitlines() if line.lower().startswith("error")]
    assert not errors, errors
    considered = {
        line.split("considering log ", 1)[1].strip() for line in output.splitlines() if "considering log " in line
    }
    missing = [path for path in ROLE_LOGS if path not in considered]
    assert not missing, f"not rotated: {missing}"
    files = in_lab("find", "/var/log", "-type", "f").stdout.split()
    current = [
        f
        for f in files
        if not f.startswith(NOT_ROTATED) and not re.search(r"(\.\d+|\.gz|-\d{8})$", f)  # not an old copy
    ]
    uncovered = sorted(set(current) - considered)
    assert not uncovered, f"log files no logrotate configuration considers: {uncovered}"


def test_logrotate_rotates_every_govmail_log_and_the_services_keep_logging(lab: Lab, make_account) -> None:
    config = in_lab("cat", "/etc/logrotate.d/govmail").stdout
    for log in ("/var/log/postfix.log", "/var/log/dovecot.log", "/var/log/govmail-session-guard.log"):
        assert f"{log} {{" in config
    in_lab("logrotate", "--force", "/etc/logrotate.d/govmail")
    rotated = in_lab("sh", "-c", "ls /var/log/postfix.log.1 /var/log/dovecot.log.1").stdout
    assert "postfix.log.1" in rotated and "dovecot.log.1" in rotated
    account = make_account()
    assert account.imap_login()
    send_mx(lab, account.mail, "after rotation", "x")
    account.find_message("after rotation")
    wait_until(lambda: account.mail in in_lab("cat", "/var/log/postfix.log").stdout, "Postfix logging again")
    wait_until(lambda: account.mail in in_lab("cat", "/var/log/dovecot.log").stdout, "Dovecot logging again")
