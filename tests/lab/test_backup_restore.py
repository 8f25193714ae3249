"""The restore drill (issue 12 §3, R9.2b): back up the lab, destroy, restore onto a fresh container, lose nothing.

1. On the lab: a handful of accounts (active, suspended, forced to change their password) with mail
   (through the MX and through submission, one message read), and an archive of a revoked account.
2. The figures before: every directory entry with its attributes (state, password hash …), every
   message of every mailbox (folder, SHA-256 of its content, flags), every archive's SHA-256.
3. ``playbooks/backup.yml``: slapcat, doveadm backup, borg create (encrypted) + prune.
4. The repository is copied off the host (production keeps it on another machine), then the drill's
   accounts, mailboxes and archive are destroyed on the lab.
5. A FRESH container (its own name and ports) is converged by ``playbooks/site.yml`` — roles only,
   no data — and ``playbooks/restore.yml`` restores the newest archive onto it.
6. The figures after must equal the figures before; the users log in with their own passwords (the
   hashes came back), the suspended one still cannot, delivery works. The figures are printed and the
   drill's record goes to var/ops/restore-drill.json (read by `govmail backups` and the report).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import json
import os
import secrets
import smtplib
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import CONTAINER, DOMAIN, ROOT, VAR, Lab, docker, in_lab, send_mx

OFFSET = int(os.environ.get("GOVMAIL_LAB_PORT_OFFSET", "0") or 0)
RESTORE_CONTAINER = os.environ.get("GOVMAIL_RESTORE_CONTAINER") or CONTAINER.replace(
    "govmail-lab", "govmail-restore", 1
)
RESTORE_OFFSET = OFFSET + 3000
REPOSITORY = "/var/backups/govmail/borg"
ARCHIVES = "/var/mail-archive"
# Attributes slapd itself stamps when an identity binds (olcLastBind) or fails to: they move while the
# drill runs (the mail servers bind to look accounts up) and are not data anyone gave. contextCSN is the
# syncprov overlay's stamp of the latest change on the suffix entry: each of those binds moves it too.
VOLATILE = {
    "pwdlastsuccess",
    "pwdfailuretime",
    "authtimestamp",
    "modifytimestamp",
    "modifiersname",
    "entrycsn",
    "contextcsn",
}

FIGURES = r"""
import base64, hashlib, json, os, subprocess
def entries():
    text = subprocess.run(["slapcat", "-n", "1", "-o", "ldif-wrap=no"], capture_output=True, check=True).stdout
    out = {}
    for record in text.decode().split("\n\n"):
        attrs = {}
        for line in record.splitlines():
            if not line or line.startswith("#") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8", "replace")
            else:
                value = value.strip()
            attrs.setdefault(name.lower(), []).append(value)
        if "dn" in attrs:
            dn = attrs.pop("dn")[0].lower()
            out[dn] = {k: sorted(v) for k, v in attrs.items()}
    return out
def messages():
    users = subprocess.run(["doveadm", "user", "*"], capture_output=True, text=True, check=True).stdout.split()
    out = {}
    for user in sorted(users):
        local, _, domain = user.lower().partition("@")
        root = f"/var/vmail/{domain}/{local}/Maildir"
        found = []
        for path, _, files in os.walk(root):
            if os.path.basename(path) not in ("cur", "new"):
                continue
            folder = os.path.relpath(os.path.dirname(path), root)
            for name in files:
                with open(os.path.join(path, name), "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                flags = name.split(":2,", 1)[1] if ":2," in name else ""
                found.append([folder, digest, "".join(sorted(flags))])
        out[user] = sorted(found)
    return out
def archives():
    out = {}
    for path, _, files in os.walk("/var/mail-archive"):
        for name in files:
            full = os.path.join(path, name)
            with open(full, "rb") as handle:
                out[full] = hashlib.sha256(handle.read()).hexdigest()
    return out
print(json.dumps({"entries": entries(), "messages": messages(), "archives": archives()}))
"""


def figures(container: str) -> dict:
    result = docker("exec", container, "python3", "-c", FIGURES)
    data = json.loads(result.stdout)
    for attrs in data["entries"].values():
        for name in VOLATILE:
            attrs.pop(name, None)
    return data


def counts(data: dict) -> dict:
    states: dict[str, int] = {}
    for attrs in data["entries"].values():
        for state in attrs.get("govmailstate", []):
            states[state] = states.get(state, 0) + 1
    return {
        "entries": len(data["entries"]),
        "accounts_by_state": dict(sorted(states.items())),
        "password_hashes": sum(1 for a in data["entries"].values() if a.get("userpassword")),
        "mailboxes": len(data["messages"]),
        "messages": sum(len(m) for m in data["messages"].values()),
        "revoked_archives": len(data["archives"]),
    }


def playbook(name: str, container: str, offset: int, *extra: str) -> str:
    env = dict(os.environ, GOVMAIL_LAB_CONTAINER=container, GOVMAIL_LAB_PORT_OFFSET=str(offset))
    result = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "inventory/lab", f"playbooks/{name}", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"{name} on {container} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    return result.stdout


def fresh_container() -> None:
    """A new container from the lab image, converged by site.yml: the roles, no data."""
    env = dict(os.environ, GOVMAIL_LAB_CONTAINER=RESTORE_CONTAINER, GOVMAIL_LAB_PORT_OFFSET=str(RESTORE_OFFSET))
    docker("rm", "-f", RESTORE_CONTAINER, check=False)
    for step in ("container", "converge"):
        result = subprocess.run(
            [str(ROOT / "bin/lab"), step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
        assert result.returncode == 0, f"bin/lab {step}: {result.stdout[-4000:]}\n{result.stderr[-2000:]}"


def imap_login(port: int, ca: Path, user: str, password: str) -> tuple[bool, int]:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        imap.starttls(ssl_context=ssl.create_default_context(cafile=str(ca)))
        imap.login(user, password)
        typ, data = imap.select("INBOX", readonly=True)
        return True, int(data[0]) if typ == "OK" else -1
    except imaplib.IMAP4.error:
        return False, -1
    finally:
        imap.shutdown()


def wait_for(container: str, user: str, subject: str, wait: float = 30.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        out = docker(
            "exec",
            container,
            "doveadm",
            "search",
            "-u",
            user,
            "mailbox",
            "INBOX",
            "header",
            "Subject",
            subject,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return
        if time.monotonic() > deadline:
            queue = docker("exec", container, "postqueue", "-p", check=False).stdout
            raise AssertionError(f"{subject!r} never reached {user} on {container}; queue:\n{queue}")
        time.sleep(0.5)


@pytest.fixture
def restore_target():
    yield RESTORE_CONTAINER
    docker("rm", "-f", RESTORE_CONTAINER, check=False)


def test_restore_drill_loses_nothing(lab: Lab, make_account, restore_target: str, tmp_path: Path) -> None:
    started = time.monotonic()
    # 1. accounts and mail on the lab
    reader, writer, suspended = make_account(), make_account(), make_account()
    forced = make_account(ready=False)  # operator-set password, change pending (pwdReset)
    tag = secrets.token_hex(4)
    subjects = {reader.mail: [f"drill {tag} a1", f"drill {tag} a2"], suspended.mail: [f"drill {tag} s1"]}
    for to, subs in subjects.items():
        for subject in subs:
            send_mx(lab, to, subject, f"noi dung {subject} {secrets.token_hex(16)}")
    with lab.submission() as smtp:
        smtp.login(writer.mail, writer.password)
        subject = f"drill {tag} w1"
        smtp.sendmail(writer.mail, [reader.mail], f"Subject: {subject}\r\n\r\nqua submission\r\n".encode())
    subjects[reader.mail].append(subject)
    suspended.set_state("suspended")
    for to, subs in subjects.items():
        for subject in subs:
            wait_for(CONTAINER, to, subject)
    imap = lab.imap()
    imap.login(reader.mail, reader.password)
    imap.select("INBOX")
    imap.store("1", "+FLAGS", "(\\Seen \\Flagged)")  # state of a message: read and flagged
    imap.logout()
    archive = f"{ARCHIVES}/2026/20261201-old{tag}.revoked@{DOMAIN}.tar.gz"
    in_lab("sh", "-c", f"mkdir -p {ARCHIVES}/2026 && head -c 8192 /dev/urandom > {archive} && chmod 0640 {archive}")

    # 2. the figures before
    before = figures(CONTAINER)
    assert reader.mail in before["messages"] and len(before["messages"][reader.mail]) >= 3
    assert any("S" in m[2] and "F" in m[2] for m in before["messages"][reader.mail])

    # 3. back up
    playbook("backup.yml", CONTAINER, OFFSET)
    status = json.loads((ROOT / "var/ops/backup-status-govmail-lab.json").read_text())
    assert status["last_outcome"] == "success", status
    assert status["archives"], status

    # 4. the repository leaves the host; the lab's data is destroyed
    off_site = tmp_path / "borg"
    docker("cp", f"{CONTAINER}:{REPOSITORY}", str(off_site))
    drill = [reader, writer, suspended, forced]
    with lab.provisioner() as conn:
        for account in drill:
            assert conn.delete(account.dn), conn.result
    for account in drill:
        in_lab("rm", "-rf", f"/var/vmail/{DOMAIN}/{account.uid}")
    in_lab("rm", "-f", archive)
    in_lab("doveadm", "auth", "cache", "flush")
    assert not reader.imap_login(), "the account still works on the lab after its destruction"

    # 5. a fresh container, the repository brought to it, restore
    fresh_container()
    docker("exec", restore_target, "rm", "-rf", REPOSITORY)
    docker("cp", str(off_site), f"{restore_target}:{REPOSITORY}")
    playbook("restore.yml", restore_target, RESTORE_OFFSET)
    restored = json.loads((ROOT / "var/ops/last-restore-govmail-lab.json").read_text())
    assert restored["archive"] == status["last_archive"]["archive"], restored

    # 6. nothing lost
    after = figures(restore_target)
    missing_entries = sorted(set(before["entries"]) - set(after["entries"]))
    changed_entries = sorted(
        dn for dn in before["entries"] if dn in after["entries"] and before["entries"][dn] != after["entries"][dn]
    )
    assert not missing_entries, f"entries lost: {missing_entries}"
    assert not changed_entries, "entries changed: " + "; ".join(
        f"{dn}: {before['entries'][dn]} != {after['entries'][dn]}" for dn in changed_entries[:3]
    )
    assert set(after["entries"]) == set(before["entries"])
    for user, messages in before["messages"].items():
        assert after["messages"].get(user) == messages, f"{user}: messages differ after the restore"
    assert after["messages"].keys() == before["messages"].keys()
    assert after["archives"] == before["archives"]

    port_imap = 10143 + RESTORE_OFFSET
    ca = VAR / "tls" / "ca.pem"
    logged_in, inbox = imap_login(port_imap, ca, reader.mail, reader.password)
    assert logged_in and inbox == len(subjects[reader.mail]), (logged_in, inbox)
    assert imap_login(port_imap, ca, writer.mail, writer.password)[0]
    assert not imap_login(port_imap, ca, suspended.mail, suspended.password)[0], "suspended must stay locked out"
    assert not imap_login(port_imap, ca, forced.mail, forced.password)[0], "the forced change must still be pending"
    fresh = f"after restore {tag}"
    with smtplib.SMTP("127.0.0.1", 10025 + RESTORE_OFFSET, local_hostname="client.example.org", timeout=30) as smtp:
        assert smtp.sendmail("sender@example.org", [writer.mail], f"Subject: {fresh}\r\n\r\nx\r\n".encode()) == {}
    wait_for(restore_target, writer.mail, fresh)
    wait_for(restore_target, suspended.mail, subjects[suspended.mail][0], wait=1)

    numbers = counts(before)
    numbers["checksums_equal"] = True
    numbers["seconds"] = round(time.monotonic() - started)
    record = {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ok": True,
        "archive": status["last_archive"]["archive"],
        "source": CONTAINER,
        "target": restore_target,
        "figures": numbers,
    }
    (ROOT / "var/ops").mkdir(parents=True, exist_ok=True)
    (ROOT / "var/ops/restore-drill.json").write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    print("\nrestore drill:", json.dumps(numbers, ensure_ascii=False))
    print(
        f"restore drill: {numbers['entries']} directory entries ({numbers['password_hashes']} password hashes), "
        f"accounts by state {numbers['accounts_by_state']}, {numbers['mailboxes']} mailboxes, "
        f"{numbers['messages']} messages, {numbers['revoked_archives']} revoked-account archive(s): "
        f"all identical after the restore onto {restore_target} ({numbers['seconds']} s)"
    )


def test_the_backup_job_is_scheduled(lab: Lab) -> None:
    """The timer and its service are installed; where systemd runs the host, the timer is enabled and waiting."""
    service = in_lab("cat", "/etc/systemd/system/govmail-backup.service").stdout
    assert "ExecStart=/usr/local/sbin/govmail-backup run" in service
    timer = in_lab("cat", "/etc/systemd/system/govmail-backup.timer").stdout
    assert "OnCalendar=*-*-* 01:30:00" in timer and "Persistent=true" in timer
    if in_lab("cat", "/proc/1/comm").stdout.strip() == "systemd":
        assert in_lab("systemctl", "is-enabled", "govmail-backup.timer").stdout.strip() == "enabled"
        assert "govmail-backup.timer" in in_lab("systemctl", "list-timers", "--all", "govmail-backup.timer").stdout
    else:  # no init system in this container: the job still runs by hand (docs/operations.md, cron fallback)
        run = json.loads(in_lab("/usr/local/sbin/govmail-backup", "run").stdout)
        listed = json.loads(in_lab("/usr/local/sbin/govmail-backup", "list").stdout)["archives"]
        assert run["last_archive"]["archive"] == listed[-1]["name"]
